"""The interactive HTML map: safe data embedding, atomic writes, truncation, and (with a
headless Chromium) the page itself."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
from pathlib import Path

import pytest

from taxonomy.export import html_map
from taxonomy.export.html_map import (
    MapLabel,
    MapPoint,
    escape_json_for_script,
    render_map_html,
    shorten,
    write_map_html,
)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"
THEMES = {
    "Language models": ["Instruction tuning", "Retrieval augmentation", "Reasoning benchmarks"],
    "Computer vision": ["Diffusion image synthesis", "Object detection", "Video understanding"],
    "Reinforcement learning": ["Offline RL", "Reward modeling", "Multi-agent coordination"],
    "Graph learning": ["Molecular property prediction", "Knowledge graphs", "Graph transformers"],
    "Robotics": ["Manipulation policies", "Legged locomotion", "Sim-to-real transfer"],
}
WORDS = (
    "model data learning neural training efficient robust scalable benchmark method approach "
    "representation optimization evaluation generalization sparse attention latent adaptive"
).split()


def synthetic_map(n: int = 300, seed: int = 7, abstract_words: int = 60):
    """`n` papers in 5 themes x 3 topics (a few unassigned), deterministic."""
    rng = random.Random(seed)
    themes, topics, centres = [], [], []
    for t, (theme, names) in enumerate(THEMES.items()):
        ang = 2 * 3.14159 * t / len(THEMES)
        tx, ty = 6 * math.cos(ang), 6 * math.sin(ang)
        themes.append(MapLabel(theme, tx, ty, 0, -1))
        for k, name in enumerate(names):
            a2 = ang + (k - 1) * 0.55
            centres.append((tx + 1.9 * math.cos(a2), ty + 1.9 * math.sin(a2)))
            topics.append(MapLabel(name, *centres[-1], 0, t))
    points = []
    for i in range(n):
        k = rng.randrange(len(topics)) if i % 25 else -1
        if k >= 0:
            cx, cy = centres[k]
            x, y, t = rng.gauss(cx, 0.5), rng.gauss(cy, 0.5), topics[k].parent
        else:
            x, y, t = rng.uniform(-8, 8), rng.uniform(-8, 8), -1
        yy, mm = rng.randint(19, 24), rng.randint(1, 12)
        arxiv = f"{yy:02d}{mm:02d}.{10000 + i:05d}"
        topic_words = topics[k].name.lower() if k >= 0 else "misc"
        w1, w2, w3 = (rng.choice(WORDS) for _ in range(3))
        title = f"{w1.title()} {topic_words} with {w2} {w3}"
        abstract = " ".join(rng.choice(WORDS) for _ in range(abstract_words)) + f" paper{i}."
        points.append(MapPoint(arxiv, title, abstract, x, y, t, k, f"20{yy:02d}-{mm:02d}", arxiv))
    for lab_list, attr in ((themes, "theme"), (topics, "topic")):
        for j, lab in enumerate(lab_list):
            members = [p for p in points if getattr(p, attr) == j]
            lab.size = len(members)
            if members:
                lab.x = sum(p.x for p in members) / len(members)
                lab.y = sum(p.y for p in members) / len(members)
    return points, themes, topics


def data_blob(page: str) -> str:
    m = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S)
    assert m, "data blob missing"
    return m.group(1)


# ---------------------------------------------------------------- fast tests (no browser)


def test_blob_cannot_close_script_and_round_trips():
    points, themes, topics = synthetic_map(20)
    evil = "</script><script>alert(1)</script> & <!-- \u2028\u2029 >"
    points[0].title = evil
    points[1].abstract = XSS_IMG + XSS_SCRIPT
    themes[0].name = "</SCRIPT >theme"
    page = render_map_html(points, themes, topics, title="<b>My</b> map")
    blob = data_blob(page)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in blob
    # The only closing script tags are the two the template writes.
    assert len(re.findall(r"</script", page, re.I)) == 2
    data = json.loads(blob)  # \u003c etc. are ordinary JSON escapes
    assert data["t"][0] == evil
    assert data["a"][1] == XSS_IMG + XSS_SCRIPT
    assert data["themes"][0][0] == "</SCRIPT >theme"
    assert "<title>&lt;b&gt;My&lt;/b&gt; map</title>" in page
    assert json.loads(escape_json_for_script({"k": "a</script>b"})) == {"k": "a</script>b"}


def test_payload_is_columnar_and_compact():
    points, themes, topics = synthetic_map(50)
    data = json.loads(data_blob(render_map_html(points, themes, topics)))
    assert len(data["id"]) == len(data["x"]) == len(data["th"]) == 50
    assert all(isinstance(v, int) for v in data["th"] + data["tp"])
    assert all(len(repr(v).split(".")[-1]) <= 4 for v in data["x"])  # span ~16 -> 4 decimals
    assert data["ax"][0] == 1  # arXiv id equal to the paper id is not repeated
    assert data["months"] == sorted(data["months"])


def test_no_external_resources():
    points, themes, topics = synthetic_map(30)
    points[2].abstract = 'see <a href="https://evil.example/x.js">here</a> and src=http://x'
    page = render_map_html(points, themes, topics)
    # Data text is JSON inside a non-executed script: escaped, it cannot form an attribute.
    assert 'href="https' not in data_blob(page) and "\\u003ca href" in data_blob(page)
    template = page.replace(data_blob(page), "")
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", template, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//|@import", template, re.I)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # The one http(s) URL in the template is the arXiv link built in JS.
    assert re.findall(r"https?://[^\s\"'`]+", template) == ["https://arxiv.org/abs/"]


def test_write_is_atomic(tmp_path):
    points, themes, topics = synthetic_map(10)
    target = tmp_path / "out" / "map.html"
    target.parent.mkdir()
    target.write_text("old")
    write_map_html(target, points, themes, topics, title="T")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["map.html"]


def test_write_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    points, themes, topics = synthetic_map(10)
    target = tmp_path / "map.html"
    target.write_text("old")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(html_map.os, "replace", boom)
    with pytest.raises(OSError):
        write_map_html(target, points, themes, topics)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]


def test_shorten():
    text = "alpha beta gamma delta epsilon"
    assert shorten(text, 100) == text
    assert shorten(text, 17) == "alpha beta gamma\u2026"
    assert len(shorten(text, 17)) <= 17
    assert shorten("x" * 50, 10) == "x" * 9 + "\u2026"
    assert shorten(text, 0) == ""


def test_explicit_truncation_marks_papers():
    points, themes, topics = synthetic_map(40)
    points[3].abstract = "short"
    data = json.loads(data_blob(render_map_html(points, themes, topics, max_abstract_chars=50)))
    assert data["cap"] == 50
    assert all(len(a) <= 50 for a in data["a"])
    assert data["uncut"] == [3] and "cut" not in data  # most were cut: the complement is listed
    data = json.loads(data_blob(render_map_html(points, themes, topics, max_abstract_chars=2000)))
    assert data["cut"] == [] and data["cap"] == 2000


def test_automatic_truncation(monkeypatch):
    points, themes, topics = synthetic_map(200, abstract_words=150)
    small = render_map_html(points, themes, topics)
    assert json.loads(data_blob(small))["cut"] == []  # below the paper threshold: never cut
    monkeypatch.setattr(html_map, "AUTO_TRUNCATE_MIN_PAPERS", 100)
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", len(small.encode()) - 1)
    packed = render_map_html(points, themes, topics)  # compressed, nothing cut
    assert json.loads(data_blob(packed))["cap"] is None
    budget = len(packed.encode()) - 10_000
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", budget)
    page = render_map_html(points, themes, topics)
    data = json.loads(data_blob(page))
    assert len(page.encode()) <= budget
    assert data["cap"] and (data.get("cut") or data.get("uncut") is not None)
    assert len(page.encode()) > budget - 5_000  # cut only as much as needed
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", len(small.encode()) + 10)
    assert json.loads(data_blob(render_map_html(points, themes, topics)))["cap"] is None


def test_large_map_compresses_texts_before_cutting(monkeypatch):
    points, themes, topics = synthetic_map(300, abstract_words=150)
    plain = render_map_html(points, themes, topics)
    monkeypatch.setattr(html_map, "AUTO_TRUNCATE_MIN_PAPERS", 100)
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", len(plain.encode()) - 1)
    page = render_map_html(points, themes, topics)
    data = json.loads(data_blob(page))
    assert "a" not in data and "t" not in data and data["cap"] is None
    assert len(page.encode()) < len(plain.encode()) / 2  # deflated text, not a cut
    titles, abstracts = html_map.unpack_texts(data["z"])
    assert titles == [p.title for p in points] and abstracts == [p.abstract for p in points]
    assert render_map_html(points, themes, topics) == page  # deterministic
    # Still too big once compressed: abstracts are cut as well, and the page stays in budget.
    budget = len(page.encode()) - 20_000
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", budget)
    page = render_map_html(points, themes, topics)
    data = json.loads(data_blob(page))
    assert len(page.encode()) <= budget and data["cap"] and "z" in data
    _, abstracts = html_map.unpack_texts(data["z"])
    assert max(len(a) for a in abstracts) <= data["cap"]


def test_rejects_bad_input():
    points, themes, topics = synthetic_map(5)
    points[0].x = float("nan")
    with pytest.raises(ValueError, match="finite"):
        render_map_html(points, themes, topics)
    points[0].x, points[1].topic = 0.0, 99
    with pytest.raises(ValueError, match="out of range"):
        render_map_html(points, themes, topics)


# ---------------------------------------------------------------- browser tests


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.skip(f"playwright is not installed: {err}")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def map_file(tmp_path_factory):
    points, themes, topics = synthetic_map(300)
    points[7].abstract = f"Careful: {XSS_IMG} and {XSS_SCRIPT} must stay text."
    points[7].title = "An <b>XSS</b> probe"
    path = tmp_path_factory.mktemp("map") / "map.html"
    write_map_html(path, points, themes, topics, title="Synthetic research map")
    return path, points


@pytest.fixture
def page(browser, map_file):
    path, _ = map_file
    ctx = browser.new_context(viewport={"width": 1400, "height": 880}, accept_downloads=True)
    pg = ctx.new_page()
    pg.errors, pg.requests, pg.dialogs = [], [], []
    pg.on("console", lambda m: m.type in ("error", "warning") and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(path.as_uri())
    pg.wait_for_function(
        "() => window.taxonomyMap && window.taxonomyMap.ready === true", timeout=15000
    )
    yield pg
    ctx.close()


def clickable_point(pg, ids):
    """Screen position of a paper whose point is on the bare canvas and picked by a click."""
    return pg.evaluate(
        """(ids) => {
            const m = window.taxonomyMap, c = document.getElementById('map');
            for (const id of ids) {
              const p = m.pointToScreen(id);
              if (!p || document.elementFromPoint(p.x, p.y) !== c) continue;
              if (m.screenToPoint(p.x, p.y) === id) return {id, ...p};
            }
            return null;
        }""",
        ids,
    )


@pytest.mark.browser
def test_page_loads_offline_without_errors(page, map_file):
    path, _ = map_file
    assert page.evaluate("window.taxonomyMap.pointCount()") == 300
    assert page.evaluate("window.taxonomyMap.visibleCount()") == 300
    page.wait_for_timeout(200)
    assert page.errors == []
    assert page.requests == [path.as_uri()]
    out = ROOT / "outputs"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / "test-map-screenshot.png"))


@pytest.mark.browser
def test_labels_visible_and_not_overlapping(page):
    for step in ("all", "theme", "closer"):
        if step == "theme":  # clicking a theme's name zooms to its papers
            page.locator("#legend .lg-row.theme .lg-name").first.click()
            page.wait_for_timeout(700)
        elif step == "closer":
            page.evaluate("window.taxonomyMap.zoom(2); window.taxonomyMap.redraw()")
        boxes = page.evaluate("window.taxonomyMap.labelBoxes()")
        assert boxes, f"no labels ({step})"
        assert [b["name"] for b in boxes] == page.evaluate("window.taxonomyMap.visibleLabels()")
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                apart = (
                    a["x"] + a["w"] <= b["x"]
                    or b["x"] + b["w"] <= a["x"]
                    or a["y"] + a["h"] <= b["y"]
                    or b["y"] + b["h"] <= a["y"]
                )
                assert apart, f"labels overlap ({step}): {a} {b}"
    # zoomed in, topic labels appear
    kinds = {b["kind"] for b in page.evaluate("window.taxonomyMap.labelBoxes()")}
    assert "topic" in kinds


@pytest.mark.browser
def test_search_narrows_matches(page):
    assert page.evaluate("window.taxonomyMap.matchCount()") == 300
    n = page.evaluate("window.taxonomyMap.search('Offline RL')")
    assert 0 < n < 300
    assert page.evaluate("window.taxonomyMap.search('offline rl paper1')") < n
    assert page.evaluate("window.taxonomyMap.search('no-such-word-anywhere')") == 0
    assert page.evaluate("window.taxonomyMap.search('')") == 300
    page.fill("#search", "robust")  # typing (debounced) filters too
    page.wait_for_function("() => window.taxonomyMap.matchCount() < 300")
    m = page.evaluate("window.taxonomyMap.matchCount()")
    assert re.search(rf"\b{m} of 300 papers match", page.inner_text("#status"))


@pytest.mark.browser
def test_click_point_opens_panel(page, map_file):
    _, points = map_file
    target = clickable_point(page, [p.id for p in points[20:]])
    assert target, "no clickable point found"
    page.mouse.move(target["x"], target["y"])
    assert page.is_visible("#tooltip")
    page.mouse.click(target["x"], target["y"])
    paper = next(p for p in points if p.id == target["id"])
    assert page.is_visible("#panel")
    assert paper.abstract in page.inner_text("#panel-abstract")
    assert page.inner_text("#panel-title") == paper.title
    link = page.locator("#panel-meta a")
    assert link.get_attribute("href") == f"https://arxiv.org/abs/{paper.arxiv_id}"
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    related = page.locator("#panel-related button")
    assert related.count() > 0
    other = related.first.inner_text()
    related.first.click()
    assert page.inner_text("#panel-title") == other


@pytest.mark.browser
def test_xss_sample_stays_inert(page, map_file):
    _, points = map_file
    assert page.evaluate(f"window.taxonomyMap.selectPaper({json.dumps(points[7].id)})")
    page.wait_for_timeout(100)
    text = page.inner_text("#panel-abstract")
    assert XSS_IMG in text and XSS_SCRIPT in text
    assert page.inner_text("#panel-title") == "An <b>XSS</b> probe"
    assert page.locator("#panel img, #panel script, #panel b").count() == 0
    page.evaluate("window.taxonomyMap.search('XSS probe')")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == [] and page.errors == []


@pytest.mark.browser
def test_box_selection_csv_and_legend(page):
    vp = page.viewport_size
    x0, y0, x1, y1 = 360, 40, vp["width"] - 60, vp["height"] - 40
    page.keyboard.down("Shift")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    n = page.evaluate("window.taxonomyMap.selectedCount()")
    assert 0 < n <= 300
    rows = list(csv.reader(io.StringIO(page.evaluate("window.taxonomyMap.csvText()"))))
    assert rows[0][:3] == ["id", "title", "theme"] and len(rows) == n + 1
    with page.expect_download() as dl:
        page.click("#csv")
    assert dl.value.suggested_filename.endswith(".csv")
    # Legend: unticking a theme hides its papers; the month histogram filters by date.
    page.click("#selection-clear")
    before = page.evaluate("window.taxonomyMap.visibleCount()")
    page.locator("#legend .lg-row.theme input").first.uncheck()
    assert page.evaluate("window.taxonomyMap.visibleCount()") < before
    page.click("#legend-all")
    box = page.locator("#hist").bounding_box()
    page.mouse.click(box["x"] + 5, box["y"] + box["height"] - 3)
    assert 0 < page.evaluate("window.taxonomyMap.visibleCount()") < 300
    assert page.errors == []


@pytest.mark.browser
def test_shortened_abstract_is_marked(browser, tmp_path):
    points, themes, topics = synthetic_map(30)
    points[1].abstract = "short one"
    path = tmp_path / "short.html"
    write_map_html(path, points, themes, topics, max_abstract_chars=40)
    pg = browser.new_page()
    pg.goto(path.as_uri())
    pg.wait_for_function("() => window.taxonomyMap && window.taxonomyMap.ready === true")
    pg.evaluate(f"window.taxonomyMap.selectPaper({json.dumps(points[0].id)})")
    assert pg.is_visible("#panel-short") and pg.inner_text("#panel-short") == "abstract shortened"
    assert pg.inner_text("#panel-abstract").endswith("\u2026")
    pg.evaluate(f"window.taxonomyMap.selectPaper({json.dumps(points[1].id)})")
    assert not pg.is_visible("#panel-short")
    pg.close()


@pytest.mark.browser
def test_compressed_map_shows_whole_abstracts(browser, tmp_path, monkeypatch):
    points, themes, topics = synthetic_map(120, abstract_words=120)
    points[5].abstract = f"Packed text with {XSS_IMG} stays text."
    monkeypatch.setattr(html_map, "AUTO_TRUNCATE_MIN_PAPERS", 100)
    plain = render_map_html(points, themes, topics)
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", len(plain.encode()) - 1)
    path = tmp_path / "packed.html"
    write_map_html(path, points, themes, topics)
    assert '"z":' in path.read_text(encoding="utf-8")
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(path.as_uri())
    pg.wait_for_function("() => window.taxonomyMap && window.taxonomyMap.ready === true")
    assert pg.evaluate("window.taxonomyMap.pointCount()") == 120
    for i in (0, 5, 119):
        pg.evaluate(f"window.taxonomyMap.selectPaper({json.dumps(points[i].id)})")
        assert pg.inner_text("#panel-title") == points[i].title
        assert pg.inner_text("#panel-abstract") == points[i].abstract
    assert not pg.is_visible("#panel-short")
    assert pg.locator("#panel img").count() == 0
    assert pg.evaluate(f"window.taxonomyMap.search({json.dumps(points[3].title)})") >= 1
    assert errors == []
    pg.close()
