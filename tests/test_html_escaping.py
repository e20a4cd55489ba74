"""Text from the data reaches map.html through one escaping path only.

Every string a run puts on the map (paper ids, titles, abstracts, arXiv ids, months, theme and
topic labels, the page title) carries a hostile payload here; the page must hold it only
inside the JSON blob (escaped by `escape_json_for_script`, so it cannot close the script tag)
or, for the page title, HTML-escaped in <title>. The template's JS must insert data into the
DOM with textContent / createTextNode only. (The headless-browser check of the same payloads
lives in test_map_browser.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxonomy.export.html_map import (
    TEMPLATE_DIR,
    MapLabel,
    MapPoint,
    escape_json_for_script,
    render_map_html,
    unpack_texts,
)

PAYLOAD = "</script><script>alert(1)</script><img src=x onerror=alert(2)>\"'&amp;<!--\u2028"
BLOB = re.compile(r'(<script type="application/json" id="map-data">)(.*?)(</script>)', re.S)


def hostile_map(n: int = 6, marker: str = "ZQX"):
    themes = [MapLabel(f"{marker}theme{PAYLOAD}", 0.0, 0.0, n, -1)]
    topics = [MapLabel(f"{marker}topic{PAYLOAD}", 0.0, 0.0, n, 0)]
    points = [
        MapPoint(
            id=f"{marker}id{i}{PAYLOAD}",
            title=f"{marker}title{PAYLOAD}",
            abstract=f"{marker}abstract{PAYLOAD}",
            x=float(i),
            y=float(-i),
            theme=0,
            topic=0,
            year_month=f"{marker}month{PAYLOAD}",
            arxiv_id=f"{marker}arxiv{PAYLOAD}",
        )
        for i in range(n)
    ]
    return points, themes, topics


@pytest.mark.parametrize("packed", [False, True])
def test_data_appears_only_in_the_escaped_blob_and_title(monkeypatch, packed):
    from taxonomy.export import html_map

    points, themes, topics = hostile_map()
    page = render_map_html(points, themes, topics, title=f"ZQXpage{PAYLOAD}")
    if packed:  # large maps over budget carry titles and abstracts deflated: force that path
        monkeypatch.setattr(html_map, "AUTO_TRUNCATE_MIN_PAPERS", 0)
        monkeypatch.setattr(html_map, "AUTO_BUDGET_BYTES", len(page.encode()) - 1)
        page = render_map_html(points, themes, topics, title=f"ZQXpage{PAYLOAD}")
    match = BLOB.search(page)
    assert match
    blob = match.group(2)
    for char in "<>&\u2028\u2029":
        assert char not in blob
    outside = page[: match.start(2)] + page[match.end(2) :]
    # Outside the blob the data shows up only as the page title (<title> and <h1>), escaped.
    escaped_title = f"ZQXpage{html_escaped(PAYLOAD)}"
    assert outside.count("ZQX") == outside.count(escaped_title) == 2
    assert f"<title>{escaped_title}</title>" in outside
    assert len(re.findall(r"</script", page, re.I)) == 2  # the template's own two
    data = json.loads(blob)
    texts = unpack_texts(data["z"]) if "z" in data else (data["t"], data["a"])
    assert ("z" in data) == packed
    assert texts[0][0] == f"ZQXtitle{PAYLOAD}" and texts[1][0] == f"ZQXabstract{PAYLOAD}"
    assert data["id"][0] == f"ZQXid0{PAYLOAD}" and data["themes"][0][0].endswith(PAYLOAD)


def html_escaped(text: str) -> str:
    import html

    return html.escape(text)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.recursive(st.none() | st.text() | st.integers(), lambda c: st.lists(c, max_size=4)))
def test_escaped_json_round_trips_and_never_closes_a_script(value):
    text = escape_json_for_script({"v": value})
    assert json.loads(text) == {"v": value}
    assert not re.search(r"[<>&\u2028\u2029]", text)


# DOM sinks that parse HTML or run code; data must never reach them.
SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function|"
    r"setTimeout\s*\(\s*['\"`]|srcdoc|\.on\w+\s*=|createContextualFragment|DOMParser"
)


def test_template_inserts_text_only():
    js = (TEMPLATE_DIR / "map.js").read_text(encoding="utf-8")
    assert not SINKS.findall(js)
    # Links: the only assigned hrefs are the arXiv link (id checked against a strict pattern
    # first) and the object URL of the CSV download.
    hrefs = re.findall(r"\.href\s*=\s*([^;]+);", js)
    assert sorted(hrefs) == ["ARXIV_ABS + ax", "url"]
    assert re.search(r"/\^\[A-Za-z0-9\.\\-/\]\+\$/\.test\(ax\)", js)
    assert "textContent" in js
    html_page = (TEMPLATE_DIR / "map.html").read_text(encoding="utf-8")
    assert not SINKS.findall(html_page)


def test_title_is_the_only_other_text_slot():
    # The page template has one text slot besides the blob (used twice), and it is escaped.
    page = (TEMPLATE_DIR / "map.html").read_text(encoding="utf-8")
    tokens = re.findall(r"/\*@(\w+)@\*/", page)
    assert sorted(set(tokens)) == ["CSP", "CSS", "DATA", "JS", "TITLE"]
    assert tokens.count("DATA") == 1
    source = (Path(__file__).parents[1] / "taxonomy/export/html_map.py").read_text()
    assert '"TITLE": html.escape(title)' in source
    assert "escape_json_for_script(" in source


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    texts=st.lists(st.text(min_size=1), min_size=6, max_size=6),
    title=st.text(),
)
def test_any_text_stays_in_its_slot(texts, title):
    # 100 cases: arbitrary Unicode in every field still round-trips through the blob only.
    ident, paper_title, abstract, month, arxiv, label = texts
    points = [MapPoint(ident, paper_title, abstract, 0.0, 1.0, 0, 0, month, arxiv)]
    themes, topics = [MapLabel(label, 0.0, 1.0, 1, -1)], [MapLabel(label, 0.0, 1.0, 1, 0)]
    page = render_map_html(points, themes, topics, title=title)
    match = BLOB.search(page)
    assert match and len(re.findall(r"</script", page, re.I)) == 2
    data = json.loads(match.group(2))
    assert (data["id"][0], data["t"][0], data["a"][0]) == (ident, paper_title, abstract)
    assert data["themes"][0][0] == label and data["title"] == title
