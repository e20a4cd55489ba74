"""report.html and trends.csv (taxonomy.export.report): trend counts against a hand-counted
corpus, rising/fading topics, the page (plotly.js once, escaped text, no time figures without
months, size at 75k papers) and, in headless Chromium, that it loads offline and draws every
figure. Browser tests skip when playwright or /usr/bin/chromium is missing."""

from __future__ import annotations

import io
import random
import re
import time

import numpy as np
import pandas as pd
import pytest

from taxonomy.export.report import (
    RISING_COLUMNS,
    TREND_COLUMNS,
    report_html,
    rising_topics,
    trends_csv,
    trends_frame,
)
from taxonomy.models import Corpus, Paper, TaxonomyNode

PLOTLY_SIGNATURE = "* plotly.js v"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"


def node(node_id, label, members, children=(), keywords=None):
    return TaxonomyNode(
        id=node_id,
        label=label,
        keywords=list(keywords or label.lower().split()),
        members=sorted(members),
        representatives=sorted(members)[:3],
        children=list(children),
    )


def hand_corpus():
    """10 papers, 2 themes / 3 topics, one unassigned (2023-04), one without a month."""
    months = [
        "2023-01",
        "2023-01",
        "2023-03",
        "2023-02",
        "2023-03",
        "2023-01",
        "2023-03",
        "2023-03",
        "2023-04",
        None,
    ]
    papers = [
        Paper(abstract=f"abstract {i} about graphs and words", source="s.txt", year_month=m)
        for i, m in enumerate(months)
    ]
    t1 = node("topic-1", "Graph <b>nets</b>", [0, 1, 2])
    t2 = node("topic-2", "Word vectors", [3, 4])
    t3 = node("topic-3", XSS_IMG, [5, 6, 7, 9])
    themes = [
        node("theme-1", "Alpha & <i>omega</i>", [0, 1, 2, 3, 4], [t1, t2]),
        node("theme-2", XSS_SCRIPT, [5, 6, 7, 9], [t3]),
    ]
    return Corpus(papers=papers, n_records=10), themes


SUBJECTS = [
    "language models",
    "image synthesis",
    "robot control",
    "graph learning",
    "speech recognition",
    "protein folding",
    "recommender systems",
    "federated privacy",
]
WORDS = "neural model data training efficient robust sparse latent adaptive benchmark".split()


def synthetic(n, n_themes=8, topics_per_theme=5, first_year=2019, years=6, seed=3, dim=32):
    """`n` papers in `n_themes` x `topics_per_theme` topics with months over `years` years;
    about 4% unassigned. Returns corpus, themes and topic vectors (random, per-topic)."""
    rng = random.Random(seed)
    n_topics = n_themes * topics_per_theme
    topic_names = [
        f"{SUBJECTS[t // topics_per_theme % len(SUBJECTS)]} {WORDS[t % len(WORDS)]} {t}"
        for t in range(n_topics)
    ]
    weights = [1.0 / (1 + t % 7) for t in range(n_topics)]
    members: list[list[int]] = [[] for _ in range(n_topics)]
    papers = []
    for i in range(n):
        t = rng.choices(range(n_topics), weights)[0] if i % 25 else -1
        # Later topics grow over time, earlier ones fade.
        skew = (t / n_topics - 0.5) if t >= 0 else 0.0
        u = min(0.999, max(0.0, rng.random() ** (1 - skew)))
        k = int(u * years * 12)
        month = f"{first_year + k // 12}-{k % 12 + 1:02d}"
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        name = topic_names[t] if t >= 0 else "misc"
        papers.append(
            Paper(
                abstract=f"We study {name}. {words}.",
                source="synthetic.txt",
                title=f"{rng.choice(WORDS).title()} {name}",
                year_month=month,
            )
        )
        if t >= 0:
            members[t].append(i)
    themes = []
    vectors = {}
    vrng = np.random.default_rng(seed)
    for j in range(n_themes):
        centre = vrng.normal(size=dim)
        children = []
        for t in range(j * topics_per_theme, (j + 1) * topics_per_theme):
            words = topic_names[t].split()[:-1]
            child = node(f"topic-{t + 1}", topic_names[t].title(), members[t], keywords=words)
            children.append(child)
            vectors[child.id] = centre + 0.6 * vrng.normal(size=dim)
        children.sort(key=lambda c: (-c.size, c.id))
        all_members = [i for c in children for i in c.members]
        label = SUBJECTS[j % len(SUBJECTS)].title() + (f" {j}" if j >= len(SUBJECTS) else "")
        themes.append(node(f"theme-{j + 1}", label, all_members, children))
    themes.sort(key=lambda t: (-t.size, t.id))
    return Corpus(papers=papers, n_records=n), themes, vectors


# --------------------------------------------------------------------------- trends


def counts(frame, node_id):
    rows = frame[frame["id"] == node_id]
    return dict(zip(rows["month"], rows["papers"], strict=True))


def test_trends_frame_hand_counted():
    corpus, themes = hand_corpus()
    frame = trends_frame(corpus, themes)
    assert list(frame.columns) == TREND_COLUMNS
    months = ["2023-01", "2023-02", "2023-03", "2023-04"]
    assert counts(frame, "topic-1") == dict(zip(months, [2, 0, 1, 0], strict=True))
    assert counts(frame, "topic-2") == dict(zip(months, [0, 1, 1, 0], strict=True))
    assert counts(frame, "topic-3") == dict(zip(months, [1, 0, 2, 0], strict=True))
    assert counts(frame, "theme-1") == dict(zip(months, [2, 1, 2, 0], strict=True))
    assert counts(frame, "theme-2") == dict(zip(months, [1, 0, 2, 0], strict=True))
    # Order: themes then topics, taxonomy order, months ascending.
    assert frame["level"].tolist() == ["theme"] * 8 + ["topic"] * 12
    assert frame["id"].tolist()[::4] == ["theme-1", "theme-2", "topic-1", "topic-2", "topic-3"]
    assert frame["parent"].tolist()[::4] == ["", "", "theme-1", "theme-1", "theme-2"]
    assert frame["month"].tolist()[:4] == months
    assert frame["papers"].dtype == np.int64


def test_trends_csv_round_trips():
    corpus, themes = hand_corpus()
    frame = trends_frame(corpus, themes)
    text = trends_csv(frame)
    assert text.splitlines()[0] == "level,id,label,parent,month,papers"
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert back["papers"].tolist() == frame["papers"].tolist()
    assert back["label"].tolist() == frame["label"].tolist()
    assert trends_csv(trends_frame(corpus, themes)) == text  # deterministic


def test_trends_csv_matches_documents_table():
    """The trends counts equal a group-by of documents.csv (the per-paper export)."""
    from taxonomy.export.tables import documents_frame

    corpus, themes, _ = synthetic(600, n_themes=3, topics_per_theme=3, years=2)
    docs = documents_frame(corpus, themes, np.zeros((len(corpus), 2)))
    frame = trends_frame(corpus, themes)
    docs = docs[docs["year_month"] != ""]
    for level, column in (("topic", "topic_id"), ("theme", "theme_id")):
        expected = docs[docs[column] != ""].groupby([column, "year_month"]).size()
        got = frame[(frame["level"] == level) & (frame["papers"] > 0)]
        got = got.set_index(["id", "month"])["papers"]
        assert got.sort_index().to_dict() == expected.sort_index().to_dict()


def test_trends_frame_without_months_is_empty():
    corpus, themes = hand_corpus()
    corpus = Corpus([Paper(abstract=p.abstract, source=p.source) for p in corpus.papers], 10)
    frame = trends_frame(corpus, themes)
    assert frame.empty and list(frame.columns) == TREND_COLUMNS
    assert trends_csv(frame) == "level,id,label,parent,month,papers\n"
    assert rising_topics(frame).empty


def test_rising_topics_hand_counted():
    corpus, themes = hand_corpus()
    frame = trends_frame(corpus, themes)
    rising = rising_topics(frame, recent_months=2)  # Mar+Apr vs Jan+Feb
    assert list(rising.columns) == RISING_COLUMNS
    assert rising["id"].tolist() == ["topic-3", "topic-2", "topic-1"]
    assert rising["recent"].tolist() == [2, 1, 1]
    assert rising["before"].tolist() == [1, 1, 2]
    assert rising["recent_share"].tolist() == [0.5, 0.25, 0.25]
    assert rising["before_share"].tolist() == [0.25, 0.25, 0.5]
    assert rising["growth"].tolist() == pytest.approx([1.5, 1.0, 2 / 3])
    assert rising["parent_label"].tolist() == [XSS_SCRIPT, "Alpha & <i>omega</i>"] * 1 + [
        "Alpha & <i>omega</i>"
    ]
    # Only April in the window: no topic papers there, nothing to compare.
    assert rising_topics(frame, recent_months=1).empty
    # Window covers all months: nothing before.
    assert rising_topics(frame, recent_months=4).empty


# --------------------------------------------------------------------------- page


def test_report_html_plotly_once_and_escaped():
    corpus, themes = hand_corpus()
    vectors = {"topic-1": [1, 0], "topic-2": [0.8, 0.6], "topic-3": [0, 1]}
    page = report_html(
        corpus, themes, title="My <script>alert(1)</script> report", topic_vectors=vectors
    )
    assert page.count(PLOTLY_SIGNATURE) == 1
    assert "<title>My &lt;script&gt;alert(1)&lt;/script&gt; report</title>" in page
    for raw in (XSS_IMG, XSS_SCRIPT, "<b>nets</b>", "<i>omega</i>", "alert(1)</script>"):
        assert raw not in page
    # Labels reach the figures as entities (shown literally by plotly) and the tables escaped.
    assert "Graph &lt;b&gt;nets&lt;\\u002fb&gt;" in page or "Graph &lt;b&gt;nets" in page
    for div in ("fig-sizes", "fig-month-counts", "fig-month-shares", "fig-changes"):
        assert f'id="{div}"' in page
    for div in ("fig-terms", "fig-similarity", "fig-hierarchy"):
        assert f'id="{div}"' in page
    assert report_html(corpus, themes, title="My report", topic_vectors=vectors) == report_html(
        corpus, themes, title="My report", topic_vectors=vectors
    )


def test_report_html_without_months_or_vectors():
    corpus, themes = hand_corpus()
    corpus = Corpus([Paper(abstract=p.abstract, source=p.source) for p in corpus.papers], 10)
    page = report_html(corpus, themes, title="No dates")
    assert "No papers have a month" in page
    assert 'id="fig-month-counts"' not in page and 'id="fig-changes"' not in page
    assert 'id="fig-similarity"' not in page
    assert page.count(PLOTLY_SIGNATURE) == 1
    assert 'id="fig-sizes"' in page and 'id="fig-hierarchy"' in page


def test_report_html_empty_taxonomy():
    corpus, _ = hand_corpus()
    page = report_html(corpus, [], title="Nothing")
    assert "<title>Nothing</title>" in page
    assert PLOTLY_SIGNATURE not in page  # no figure, no plotly.js


def test_report_size_at_75k_papers():
    corpus, themes, vectors = synthetic(75_000, n_themes=20, topics_per_theme=10, years=8)
    start = time.perf_counter()
    page = report_html(corpus, themes, title="75k papers", topic_vectors=vectors)
    seconds = time.perf_counter() - start
    size = len(page.encode("utf-8"))
    print(f"75k papers, 200 topics, 96 months: {size / 1e6:.2f} MB in {seconds:.1f} s")
    assert size <= 10_000_000
    assert page.count(PLOTLY_SIGNATURE) == 1


# --------------------------------------------------------------------------- browser


def open_report(browser, path):
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    pg = ctx.new_page()
    pg.errors, pg.requests = [], []
    pg.on("console", lambda m: m.type in ("error", "warning") and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))

    def block(route):
        if not route.request.url.startswith("file://"):
            pg.requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    pg.route("**/*", block)
    pg.on("request", lambda r: r.url.startswith("file://") or pg.requests.append(r.url))
    pg.goto(path.as_uri())
    return ctx, pg


@pytest.mark.browser
@pytest.mark.parametrize("case", ["synthetic", "hand", "no-months"])
def test_report_renders_offline(browser, tmp_path, case):
    if case == "synthetic":
        corpus, themes, vectors = synthetic(1500, n_themes=6, topics_per_theme=4, years=3)
    else:
        corpus, themes = hand_corpus()
        vectors = {"topic-1": [1, 0], "topic-2": [0.8, 0.6], "topic-3": [0, 1]}
        if case == "no-months":
            papers = [Paper(abstract=p.abstract, source=p.source) for p in corpus.papers]
            corpus, vectors = Corpus(papers, len(papers)), None
    path = tmp_path / "report.html"
    path.write_text(report_html(corpus, themes, title=f"Report {XSS_IMG}", topic_vectors=vectors))
    page_text = path.read_text()
    divs = re.findall(r'<div id="(fig-[a-z-]+)" class="plotly-graph-div"', page_text)
    assert len(divs) == (7 if case != "no-months" else 3)
    ctx, pg = open_report(browser, path)
    try:
        for div in divs:
            pg.wait_for_selector(f"#{div} .main-svg", state="attached", timeout=15000)
        drawn = pg.evaluate(
            """ids => ids.map(id => {
                const el = document.getElementById(id);
                const box = el.getBoundingClientRect();
                return [id, el.querySelectorAll('.main-svg').length, box.width, box.height];
            })""",
            divs,
        )
        for div, n_svg, width, height in drawn:
            assert n_svg >= 1 and width > 300 and height > 200, (div, n_svg, width, height)
        assert pg.title() == f"Report {XSS_IMG}"
        assert pg.evaluate("() => window.__xss === undefined")
        assert (
            pg.evaluate("() => document.querySelectorAll('img[onerror], script[src]').length") == 0
        )
        if case == "synthetic":
            # The top-terms menu switches topics.
            header = "#fig-terms .updatemenu-header .updatemenu-item-text"
            before = pg.text_content(header), pg.text_content("#fig-terms .gtitle")
            pg.click("#fig-terms .updatemenu-header")
            items = pg.locator("#fig-terms .updatemenu-dropdown-button .updatemenu-item-text")
            items.nth(2).click()
            pg.wait_for_timeout(300)
            after = pg.text_content(header), pg.text_content("#fig-terms .gtitle")
            assert after[0] != before[0] and after[1] != before[1]
        pg.wait_for_timeout(300)
        assert pg.errors == []
        assert pg.requests == []
    finally:
        ctx.close()


def test_time_step_follows_the_number_of_dated_papers():
    from taxonomy.export.report.over_time import time_step

    months = ["2023-01", "2023-02", "2023-03", "2023-04"]
    assert time_step(months, 40)[0] == "month"
    step, period = time_step(months, 16)
    assert step == "quarter" and period == {
        "2023-01": "2023 Q1",
        "2023-02": "2023 Q1",
        "2023-03": "2023 Q1",
        "2023-04": "2023 Q2",
    }
    assert time_step(months, 15)[0] == "year"
    corpus, themes = hand_corpus()  # 8 dated papers in topics over 4 months: one bar per year
    assert "Papers per year by theme" in report_html(corpus, themes, title="t")
    corpus, themes, _ = synthetic(1500, n_themes=3, topics_per_theme=2, years=3)
    assert "Papers per month by theme" in report_html(corpus, themes, title="t")
