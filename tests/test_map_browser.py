"""The interactive HTML map in headless Chromium (playwright + Debian's chromium): loads
offline without errors, labels, search, panel, XSS, selection, filters, shortened and compressed
abstracts. Skipped when playwright or /usr/bin/chromium is missing."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from pathlib import Path

import pytest

from taxonomy.export import html_map
from taxonomy.export.html_map import render_map_html, write_map_html
from tests.helpers.map_data import XSS_IMG, XSS_SCRIPT, data_blob, synthetic_map

ROOT = Path(__file__).resolve().parents[1]


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
    assert page.evaluate("window.taxonomyMap.totalCount()") == 300
    assert not page.is_visible("#density")  # all papers drawn: no density layer
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


def _inside(x: float, y: float, polygon: list[tuple[float, float]]) -> bool:
    inside = False
    for (xa, ya), (xb, yb) in zip(polygon, polygon[-1:] + polygon[:-1], strict=True):
        if (ya > y) != (yb > y) and x < (xb - xa) * (y - ya) / (yb - ya) + xa:
            inside = not inside
    return inside


@pytest.mark.browser
def test_lasso_selects_the_papers_inside_the_drawn_shape(page):
    ids = page.evaluate("window.taxonomyMap.pointIds()")
    screen = {
        pid: page.evaluate(f"window.taxonomyMap.pointToScreen({json.dumps(pid)})") for pid in ids
    }
    xs, ys = [p["x"] for p in screen.values()], [p["y"] for p in screen.values()]
    left, right, top, bottom = min(xs), max(xs), min(ys), max(ys)
    # A triangle over the papers, drawn with alt+drag: the selection is exactly those inside.
    # (5 px beyond the outermost papers, so that none sits on an edge)
    triangle = [(left, bottom + 5), ((left + right) / 2, top - 5), (right, bottom + 5)]
    page.keyboard.down("Alt")
    page.mouse.move(*triangle[0])
    page.mouse.down()
    for corner in [*triangle[1:], triangle[0]]:
        page.mouse.move(*corner, steps=6)
    page.mouse.up()
    page.keyboard.up("Alt")
    n = page.evaluate("window.taxonomyMap.selectedCount()")
    rows = list(csv.reader(io.StringIO(page.evaluate("window.taxonomyMap.csvText()"))))[1:]
    assert 0 < n < page.evaluate("window.taxonomyMap.visibleCount()") and len(rows) == n
    chosen = {row[0] for row in rows}
    for pid, xy in screen.items():
        assert (pid in chosen) == _inside(xy["x"], xy["y"], triangle), pid
    # A rectangular lasso selects what the box selection of that rectangle selects.
    x0, y0, x1, y1 = left - 5, top - 5, (left + right) / 2, bottom + 5  # the left half
    by_box = page.evaluate(f"window.taxonomyMap.selectBox({x0}, {y0}, {x1}, {y1})")
    rect = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    assert page.evaluate(f"window.taxonomyMap.selectLasso({json.dumps(rect)})") == by_box
    assert 0 < by_box < len(ids)
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


# --------------------------------------------------------------------------- issue 15

LONG_NAMES = [
    "Multilingual & reinforcement learning from human feedback",
    "Mutual information & codes",
    "Auctions",
    "Diffusion models & image synthesis",
    "Graph neural networks for molecules",
    "Speech recognition & audio",
    "Retrieval-augmented generation",
    "Robot manipulation & locomotion",
    "Medical imaging segmentation",
    "Federated learning & privacy",
    "KV cache & long context",
    "Code generation & program repair",
]


def crowded_map(n_themes: int = 24, n: int = 2400, seed: int = 3):
    """`n_themes` themes of 2-6 % of the papers each, as blobs scattered over the map (some
    close together), each with 3 topics; names long and short."""
    from taxonomy.export.html_map import MapLabel, MapPoint

    rng = random.Random(seed)
    weights = [rng.uniform(2, 6) for _ in range(n_themes)]
    total = sum(weights)
    themes, topics, points = [], [], []
    for t, w in enumerate(weights):
        cx, cy = rng.uniform(0, 10), rng.uniform(0, 10)
        name = f"{LONG_NAMES[t % len(LONG_NAMES)]}{'' if t < len(LONG_NAMES) else f' {t}'}"
        themes.append(MapLabel(name, cx, cy, 0, -1))
        for k in range(3):
            topics.append(MapLabel(f"{name} / part {k}", cx + k * 0.3 - 0.3, cy + 0.2 * k, 0, t))
        for _ in range(round(n * w / total)):
            k = rng.randrange(3)
            x, y = rng.gauss(cx + k * 0.3 - 0.3, 0.35), rng.gauss(cy + 0.2 * k, 0.35)
            i = len(points)
            points.append(MapPoint(f"p{i}", f"Paper {i}", "text", x, y, t, 3 * t + k))
    for labels, attr in ((themes, "theme"), (topics, "topic")):
        for j, lab in enumerate(labels):
            lab.size = sum(1 for p in points if getattr(p, attr) == j)
    return points, themes, topics


def open_map(browser, path, width=1400, height=880):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    pg = ctx.new_page()
    pg.errors, pg.requests = [], []
    pg.on("console", lambda m: m.type in ("error", "warning") and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.goto(path.as_uri())
    pg.wait_for_function("() => window.taxonomyMap && window.taxonomyMap.ready === true")
    return ctx, pg


def card_boxes(pg) -> list[dict]:
    return pg.evaluate(
        """() => ['topbar', 'sidebar', 'panel', 'controls'].map(id => document.getElementById(id))
            .filter(e => !e.hidden).map(e => e.getBoundingClientRect())
            .filter(b => b.width && b.height)
            .map(b => ({x: b.left, y: b.top, w: b.width, h: b.height}))"""
    )


def overlapping(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and (a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])
    )


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [(1400, 880), (1100, 720)])
def test_every_major_theme_label_is_visible_at_the_default_view(browser, tmp_path, viewport):
    points, themes, topics = crowded_map()
    path = tmp_path / "crowded.html"
    write_map_html(path, points, themes, topics, title="Crowded")
    ctx, pg = open_map(browser, path, *viewport)
    try:
        shown = set(pg.evaluate("window.taxonomyMap.visibleLabels()"))
        major = {t.name for t in themes if t.size >= 0.03 * len(points)}
        assert len(major) >= 10
        assert major <= shown, sorted(major - shown)
        boxes = pg.evaluate("window.taxonomyMap.labelBoxes()")
        cards = card_boxes(pg)
        for box in boxes:  # no label under a card, none off screen
            assert not any(overlapping(box, c) for c in cards), box
            assert box["x"] >= 0 and box["x"] + box["w"] <= viewport[0], box
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not overlapping(a, b), (a, b)
        assert pg.errors == []
    finally:
        ctx.close()


# Pixels from each placed theme label's box to the nearest drawn paper of its theme.
THEME_LABEL_GAPS = """({ids, th, names}) => {
  const m = window.taxonomyMap, xy = ids.map((id) => m.pointToScreen(id)), out = {};
  for (const b of m.labelBoxes().filter((b) => b.kind === 'theme')) {
    const t = names.indexOf(b.name);
    out[b.name] = Math.min(...xy.filter((p, i) => th[i] === t).map((p) => Math.hypot(
      Math.max(0, b.x - p.x, p.x - b.x - b.w), Math.max(0, b.y - p.y, p.y - b.y - b.h))));
  }
  return out;
}"""


def theme_label_gaps(pg, path: Path) -> dict[str, float]:
    data = json.loads(data_blob(path.read_text(encoding="utf-8")))
    names = [t[0] for t in data["themes"]]
    return pg.evaluate(THEME_LABEL_GAPS, {"ids": data["id"], "th": data["th"], "names": names})


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [(1400, 880), (1100, 720)])
def test_theme_labels_sit_on_their_own_papers(browser, tmp_path, viewport):
    """A theme label that a larger one pushes aside stays on its theme's papers: steps of half
    a wide label's width used to put it on another theme's island (the seeds' "Mathematical
    reasoning" beside Multilingual NLP)."""
    points, themes, topics = crowded_map()
    path = tmp_path / "crowded.html"
    write_map_html(path, points, themes, topics, title="Crowded")
    ctx, pg = open_map(browser, path, *viewport)
    try:
        gaps = theme_label_gaps(pg, path)
        assert len(gaps) >= 20
        assert max(gaps.values()) <= 4, gaps
    finally:
        ctx.close()


@pytest.mark.browser
def test_sidebar_collapses_and_frees_the_map(browser, tmp_path):
    points, themes, topics = crowded_map()
    path = tmp_path / "crowded.html"
    write_map_html(path, points, themes, topics, title="Crowded")
    ctx, pg = open_map(browser, path)
    try:
        left = """() => { const m = window.taxonomyMap;
            return Math.min(...m.pointIds().map(id => m.pointToScreen(id).x)); }"""
        side = pg.evaluate("() => document.getElementById('sidebar').getBoundingClientRect().right")
        assert pg.evaluate(left) > side  # at the default view nothing is under the legend
        pg.click("#sidebar-toggle")
        pg.wait_for_timeout(100)
        assert not pg.is_visible("#legend") and not pg.is_visible("#hist-section")
        assert pg.get_attribute("#sidebar-toggle", "aria-expanded") == "false"
        assert pg.evaluate(left) < side  # the map now uses the freed space
        cards = card_boxes(pg)
        for box in pg.evaluate("window.taxonomyMap.labelBoxes()"):
            assert not any(overlapping(box, c) for c in cards), box
        pg.click("#sidebar-toggle")
        pg.wait_for_timeout(100)
        assert pg.is_visible("#legend")
        assert pg.get_attribute("#sidebar-toggle", "aria-expanded") == "true"
        assert pg.evaluate(left) > side
        assert pg.errors == []
    finally:
        ctx.close()


@pytest.mark.browser
def test_legend_names_are_shown_whole(browser, tmp_path):
    points, themes, topics = crowded_map()
    path = tmp_path / "crowded.html"
    write_map_html(path, points, themes, topics, title="Crowded")
    ctx, pg = open_map(browser, path)
    try:
        rows = pg.evaluate(
            """() => [...document.querySelectorAll('#legend .lg-row.theme .lg-name')].map(e =>
                [e.textContent, e.scrollWidth <= e.clientWidth + 1, e.title])"""
        )
        assert {name for name, _, _ in rows} >= {t.name for t in themes}
        for name, fits, title in rows:
            assert fits, name  # wrapped, not cut with an ellipsis
            assert name in title
    finally:
        ctx.close()


@pytest.mark.browser
def test_wheel_zoom_steps_are_gentle(page):
    # Wheel up (negative deltaY) zooms in: a notch is deltaY 100 (pixels) or 3 (lines).
    levels = [page.evaluate("window.taxonomyMap.wheel(-100)") for _ in range(5)]
    assert 1.0 < levels[0] <= 1.25
    assert levels[-1] <= 2.6  # five notches: about 2x, not a handful of points
    assert levels[-1] * 1.0 < page.evaluate("window.taxonomyMap.wheel(-3, 1)") <= levels[-1] * 1.25
    assert page.evaluate("window.taxonomyMap.wheel(100)") < levels[-1]


@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory):
    from tests.helpers.small_run import small_run

    tmp = tmp_path_factory.mktemp("run")
    return small_run(tmp, tmp / "cache").out_dir


@pytest.mark.browser
def test_run_report_loads_offline_and_shows_every_figure(browser, run_outputs):
    path = run_outputs / "report.html"
    divs = re.findall(r'<div id="(fig-[a-z-]+)" class="plotly-graph-div"', path.read_text())
    assert len(divs) == 7  # sizes, months x2, changes, terms, similarity, hierarchy
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    pg = ctx.new_page()
    errors, requests = [], []
    pg.on("console", lambda m: m.type in ("error", "warning") and errors.append(m.text))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("request", lambda r: requests.append(r.url))
    try:
        pg.goto(path.as_uri())
        for div in divs:
            pg.wait_for_selector(f"#{div} .main-svg", state="attached", timeout=20000)
            box = pg.locator(f"#{div}").bounding_box()
            assert box["width"] > 300 and box["height"] > 200, (div, box)
        assert pg.title() == "Topics in papers"
        pg.wait_for_timeout(300)
        assert errors == [] and requests == [path.as_uri()]
    finally:
        ctx.close()
    ctx, pg = open_map(browser, run_outputs / "map.html")
    try:
        assert pg.title() == "Topics in papers"
        assert pg.inner_text("#map-title") == "Topics in papers"
        assert pg.errors == [] and pg.requests == [(run_outputs / "map.html").as_uri()]
    finally:
        ctx.close()


@pytest.mark.browser
def test_run_map_theme_labels_sit_on_their_own_papers(browser, run_outputs):
    ctx, pg = open_map(browser, run_outputs / "map.html")
    try:
        gaps = theme_label_gaps(pg, run_outputs / "map.html")
        assert gaps and max(gaps.values()) <= 4, gaps
    finally:
        ctx.close()


# --------------------------------------------------------------------------- issue 17

# Canvas pixels with no drawn point within 12 px, and how many of them the density layer
# changes: the layer shows papers that are not drawn.
BARE_PIXELS_LIT = """() => {
  const m = window.taxonomyMap, c = document.getElementById('map'), ctx = c.getContext('2d');
  const r = c.getBoundingClientRect(), k = c.width / r.width;
  const shot = (on) => { m.density(on); return ctx.getImageData(0, 0, c.width, c.height).data; };
  const off = shot(false), on = shot(true);
  let bare = 0, lit = 0;
  for (let y = 3; y < r.height; y += 5) for (let x = 3; x < r.width; x += 5) {
    if (m.pointNear(r.left + x, r.top + y, 12) !== null) continue;
    bare++;
    const o = 4 * (Math.round(y * k) * c.width + Math.round(x * k));
    let d = 0;
    for (let j = 0; j < 3; j++) d += Math.abs(on[o + j] - off[o + j]);
    if (d > 12) lit++;
  }
  return { bare, lit };
}"""


@pytest.mark.browser
def test_capped_map_draws_a_sample_over_a_density_of_all(browser, tmp_path):
    points, themes, topics = synthetic_map(20_000, abstract_words=12)
    path = tmp_path / "capped.html"
    write_map_html(path, points, themes, topics, map_points=1000)
    ctx, pg = open_map(browser, path)
    assert pg.evaluate("[window.taxonomyMap.pointCount(), window.taxonomyMap.totalCount()]") == [
        1000,
        20_000,
    ]
    assert "showing 1,000 of 20,000 papers; density shows all" in pg.inner_text("#status")
    # The legend counts every paper (the labels' sizes), not the drawn sample.
    counts = pg.locator("#legend .lg-row.theme .lg-count").all_inner_texts()
    unassigned = sum(p.theme < 0 or p.topic < 0 for p in points)
    expected = sorted((t.size for t in themes), reverse=True) + [unassigned]
    assert counts == [f"{n:,}" for n in expected]
    lit = pg.evaluate(BARE_PIXELS_LIT)
    assert lit["bare"] > 1000 and lit["lit"] > 0.1 * lit["bare"], lit
    pg.click("#density")  # the button switches the layer off and on
    assert pg.evaluate("window.taxonomyMap.densityShown()") is False
    assert pg.get_attribute("#density", "aria-pressed") == "false"
    pg.click("#density")
    assert pg.evaluate("window.taxonomyMap.densityShown()") is True
    assert pg.evaluate("window.taxonomyMap.search('offline rl')") > 0
    assert "(a sample of 20,000)" in pg.inner_text("#status")
    (ROOT / "outputs").mkdir(exist_ok=True)
    pg.screenshot(path=str(ROOT / "outputs" / "test-map-capped-screenshot.png"))
    # Chromium warns about the test's own pixel readbacks; anything else is the page's.
    errors = [e for e in pg.errors if not e.startswith("Canvas2D: Multiple readback")]
    assert errors == [] and pg.requests == [path.as_uri()]
    ctx.close()
