"""The interactive HTML map without a browser: safe data embedding, atomic writes, truncation
and compression. The page itself is tested in headless Chromium by test_map_browser.py."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from taxonomy import atomic
from taxonomy.export import html_map
from taxonomy.export.html_map import (
    escape_json_for_script,
    render_map_html,
    shorten,
    write_map_html,
)
from tests.helpers.map_data import XSS_IMG, XSS_SCRIPT, data_blob, synthetic_map


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
    assert target.stat().st_mode & 0o777 == 0o644  # a map is meant to be shared


def test_write_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    points, themes, topics = synthetic_map(10)
    target = tmp_path / "map.html"
    target.write_text("old")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
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


def test_a_page_cut_to_the_budget_is_built_once_at_its_cap(monkeypatch):
    # each build of a packed page deflates all its texts (40,000 papers: ~1.5 s)
    points, themes, topics = synthetic_map(3000, abstract_words=150)
    monkeypatch.setattr(html_map, "AUTO_TRUNCATE_MIN_PAPERS", 100)
    plain = render_map_html(points, themes, topics)
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", len(plain.encode()) - 1)
    packed = render_map_html(points, themes, topics)  # deflated, nothing cut
    payload = html_map._payload
    caps: list[int | None] = []

    def counted(*args, **kwargs):
        caps.append(args[4])
        return payload(*args, **kwargs)

    for share in (0.6, 0.8):
        budget = int(len(packed.encode()) * share)
        monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", budget)
        monkeypatch.setattr(html_map, "_payload", counted)
        caps.clear()
        page = render_map_html(points, themes, topics)
        cap = json.loads(data_blob(page))["cap"]
        assert budget - 0.01 * budget < len(page.encode()) <= budget
        assert [c for c in caps if c] == [cap]


def test_rejects_bad_input():
    points, themes, topics = synthetic_map(5)
    points[0].x = float("nan")
    with pytest.raises(ValueError, match="finite"):
        render_map_html(points, themes, topics)
    points[0].x, points[1].topic = 0.0, 99
    with pytest.raises(ValueError, match="out of range"):
        render_map_html(points, themes, topics)


# --------------------------------------------------------------------------- issue 17: 1M papers

# The payload of a map that draws every paper: a sampled map adds keys, this one must not.
UNSAMPLED_KEYS = {"v", "title", "id", "t", "a", "x", "y", "th", "tp", "months", "ym", "ax"}
UNSAMPLED_KEYS |= {"cap", "cut", "themes", "topics"}


def test_page_of_at_most_map_points_papers_is_unchanged():
    points, themes, topics = synthetic_map(1200)
    page = render_map_html(points, themes, topics)
    assert render_map_html(points, themes, topics, map_points=1200) == page
    assert set(json.loads(data_blob(page))) == UNSAMPLED_KEYS
    assert '"dens"' in render_map_html(points, themes, topics, map_points=1199)
    with pytest.raises(ValueError, match="map_points"):
        render_map_html(points, themes, topics, map_points=999)


def test_map_points_setting():
    from taxonomy.config import Config, OutputConfig

    assert Config().output.map_points == html_map.MAP_POINTS
    assert OutputConfig(map_points=1000).map_points == 1000
    with pytest.raises(ValueError):
        OutputConfig(map_points=999)


def test_sampled_page_still_shortens_abstracts_to_the_budget(monkeypatch):
    points, themes, topics = synthetic_map(3000, abstract_words=150)
    monkeypatch.setattr(html_map, "AUTO_TRUNCATE_MIN_PAPERS", 500)
    full = render_map_html(points, themes, topics, map_points=1000)
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", len(full.encode()) - 1)
    packed = render_map_html(points, themes, topics, map_points=1000)
    budget = len(packed.encode()) - 20_000  # compressed and still too big: cut as well
    monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", budget)
    page = render_map_html(points, themes, topics, map_points=1000)
    data = json.loads(data_blob(page))
    assert len(page.encode()) <= budget and data["cap"] and "z" in data and "dens" in data
    _, abstracts = html_map.unpack_texts(data["z"])
    assert len(abstracts) == 1000 and max(len(a) for a in abstracts) <= data["cap"]


def _page(contents: dict) -> str:
    """map.html of `tables_and_map`: rendered in a thread, written when published."""
    written = io.BytesIO()
    contents["map.html"](written)
    return written.getvalue().decode("utf-8")


def test_export_passes_map_points_to_the_page():
    from taxonomy.export import tables_and_map
    from taxonomy.models import Corpus, Paper, TaxonomyNode

    papers = [Paper(f"Abstract number {i} about topic {i % 4}.", "x.csv") for i in range(1500)]
    topics = [
        TaxonomyNode(f"t{k}", f"Topic {k}", [], list(range(k, 1400, 4)), []) for k in range(4)
    ]
    themes = [
        TaxonomyNode(
            f"T{j}",
            f"Theme {j}",
            [],
            topics[2 * j].members + topics[2 * j + 1].members,
            [],
            children=topics[2 * j : 2 * j + 2],
        )
        for j in range(2)
    ]  # papers 1400-1499 are unassigned
    layout = np.random.default_rng(0).normal(size=(1500, 2))
    corpus = Corpus(papers, 1500)
    page = _page(tables_and_map(corpus, themes, layout, map_html=True, map_points=1000))
    data = json.loads(data_blob(page))
    assert (len(data["id"]), data["total"], data["unassigned"]) == (1000, 1500, 100)
    assert [t[3] for t in data["themes"]] == [700, 700]
    page = _page(tables_and_map(corpus, themes, layout, map_html=True))
    assert set(json.loads(data_blob(page))) == UNSAMPLED_KEYS  # default cap: 100,000
