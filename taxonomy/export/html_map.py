"""A self-contained interactive HTML map of the papers, their topics and themes.

The page is one file with no network access at all: the template (HTML, CSS, JS under
`templates/`) is inlined and the data travels as one JSON blob in
`<script type="application/json" id="map-data">`. The blob is escaped so that no text in it
can close the script tag, and the page puts data text in the DOM only via `textContent`.

Large maps (over the size budget) carry titles and abstracts deflate-compressed (base64 in the
blob, inflated in the page by the browser's own `DecompressionStream`): English text shrinks
about 3x, so ~4x more of each abstract fits in the same file than as plain JSON.

Maps of more than `map_points` papers (`output.map_points`) draw a sample of them over a
density layer of every paper's position (`map_sample.py`); the legend and labels still count
every paper.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from taxonomy.atomic import FILE_MODE, write_atomic
from taxonomy.export.map_sample import sample_for_page

__all__ = ["MAP_POINTS", "MapLabel", "MapPoint", "render_map_html", "write_map_html"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
#: Below this many papers abstracts are never shortened automatically.
AUTO_TRUNCATE_MIN_PAPERS = 5000
#: Automatic shortening keeps the whole file under this many bytes.
AUTO_BUDGET_BYTES = 18_000_000
ELLIPSIS = "\u2026"
#: Default of `output.map_points`: above this many papers the page draws a sample of them.
#: Measured on 1M real arXiv abstracts (docs/MAP.md): 100k points leave ~220 characters of
#: each abstract in the 18 MB budget; 200k leave ~20.
MAP_POINTS = 100_000

_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_JSON_ESCAPES |= {"\u2028": "\\u2028", "\u2029": "\\u2029"}
_JSON_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")
_TOKEN_RE = re.compile(r"/\*@(CSS|JS|DATA|TITLE|CSP)@\*/")


@dataclass
class MapPoint:
    """One paper on the map; `theme`/`topic` index into the label lists (-1: none)."""

    id: str
    title: str
    abstract: str
    x: float
    y: float
    theme: int
    topic: int
    year_month: str | None = None
    arxiv_id: str | None = None


@dataclass
class MapLabel:
    """A theme or topic label at its centre; `parent` is a topic's theme index (-1: none)."""

    name: str
    x: float
    y: float
    size: int
    parent: int = -1


def escape_json_for_script(obj: object) -> str:
    """Compact JSON that is safe inside a `<script>` element (no `<`, `>`, `&`, U+2028/9)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _JSON_ESCAPE_RE.sub(lambda m: _JSON_ESCAPES[m.group()], text)


def shorten(text: str, cap: int) -> str:
    """`text` cut to at most `cap` characters (ellipsis included), at a word end if one is near."""
    if len(text) <= cap:
        return text
    if cap <= 1:
        return ELLIPSIS if cap == 1 else ""
    cut = text[: cap - 1]
    space = cut.rfind(" ")
    if space >= 0.7 * len(cut):
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + ELLIPSIS


def _quantizer(values: list[float]):
    """Round to ~1/20000 of the coordinate span; integral values print without '.0'."""
    span = (max(values) - min(values)) if values else 0.0
    decimals = max(0, min(8, math.ceil(-math.log10(span / 20000)))) if span > 0 else 3

    def q(v: float) -> float | int:
        r = round(v, decimals)
        return int(r) if r == int(r) and abs(r) < 2**53 else r

    return q


def _check(points: list[MapPoint], themes: list[MapLabel], topics: list[MapLabel]) -> None:
    for p in points:
        if not (math.isfinite(p.x) and math.isfinite(p.y)):
            raise ValueError(f"paper {p.id!r}: coordinates must be finite, got ({p.x}, {p.y})")
        if not -1 <= p.theme < len(themes) or not -1 <= p.topic < len(topics):
            raise ValueError(f"paper {p.id!r}: theme/topic index out of range")
    for label in [*themes, *topics]:
        if not (math.isfinite(label.x) and math.isfinite(label.y)):
            raise ValueError(f"label {label.name!r}: coordinates must be finite")
    for topic in topics:
        if not -1 <= topic.parent < len(themes):
            raise ValueError(f"topic {topic.name!r}: parent theme index out of range")


def pack_texts(titles: list[str], abstracts: list[str]) -> str:
    """Base64 of raw-deflated JSON `[titles, abstracts]` (what the page's `z` field holds)."""
    raw = json.dumps([titles, abstracts], ensure_ascii=False, separators=(",", ":"))
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate: DecompressionStream
    data = packer.compress(raw.encode("utf-8")) + packer.flush()
    return base64.b64encode(data).decode("ascii")


def unpack_texts(packed: str) -> tuple[list[str], list[str]]:
    titles, abstracts = json.loads(zlib.decompress(base64.b64decode(packed), -15))
    return titles, abstracts


def _payload(
    title: str,
    points: list[MapPoint],
    themes: list[MapLabel],
    topics: list[MapLabel],
    cap: int | None,
    pack: bool = False,
    sampled: dict | None = None,
) -> dict:
    """Columnar data for the page. `ax`: 1 = arXiv id equals the paper id, 0 = none;
    `ym`: index into `months` (-1 = none); labels are `[name, x, y, size, parent]`.
    Titles and abstracts are `t` and `a`, or (packed) both in `z`. A sampled map adds
    `sampled` (`total`, `unassigned`, `dens`); an unsampled one has none of those keys."""
    q = _quantizer([p.x for p in points] + [p.y for p in points])
    months = sorted({p.year_month for p in points if p.year_month})
    month_index = {m: i for i, m in enumerate(months)}
    abstracts, cut = [], []
    for i, p in enumerate(points):
        text = p.abstract if cap is None else shorten(p.abstract, cap)
        if len(text) < len(p.abstract):
            cut.append(i)
        abstracts.append(text)

    def labels(items: list[MapLabel]) -> list[list]:
        return [[lab.name, q(lab.x), q(lab.y), int(lab.size), int(lab.parent)] for lab in items]

    titles = [p.title for p in points]
    texts = {"z": pack_texts(titles, abstracts)} if pack else {"t": titles, "a": abstracts}
    return {
        "v": 1,
        "title": title,
        "id": [p.id for p in points],
        **texts,
        "x": [q(p.x) for p in points],
        "y": [q(p.y) for p in points],
        "th": [int(p.theme) for p in points],
        "tp": [int(p.topic) for p in points],
        "months": months,
        "ym": [month_index.get(p.year_month, -1) if p.year_month else -1 for p in points],
        "ax": [(1 if p.arxiv_id == p.id else p.arxiv_id) if p.arxiv_id else 0 for p in points],
        "cap": cap,
        # Shortened papers: listed directly, or (when most are) as the complement.
        **(
            {"uncut": sorted(set(range(len(points))) - set(cut))}
            if 2 * len(cut) > len(points)
            else {"cut": cut}
        ),
        "themes": labels(themes),
        "topics": labels(topics),
        **(sampled or {}),
    }


@cache
def _template() -> tuple[str, str, str]:
    page, css, js = (
        (TEMPLATE_DIR / name).read_text(encoding="utf-8")
        for name in ("map.html", "map.css", "map.js")
    )
    for name, text in (("map.css", css), ("map.js", js)):
        if re.search(r"</(script|style)", text, re.IGNORECASE):
            raise RuntimeError(f"template {name} must not contain a closing script/style tag")
    return page, css, js


def _fill(title: str, data_json: str) -> str:
    page, css, js = _template()
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data: blob:; base-uri 'none'; form-action 'none'"
    )
    values = {"CSS": css, "JS": js, "DATA": data_json, "TITLE": html.escape(title), "CSP": csp}
    # One pass, so text inserted for one token is never scanned for another.
    return _TOKEN_RE.sub(lambda m: values[m.group(1)], page)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _auto_cap(points: list[MapPoint], build, budget: int) -> int | None:
    """Largest abstract length that keeps the page under `budget` bytes (None: no cut needed).

    `build(cap)` renders the page; abstracts are assumed to cost bytes in proportion to their
    characters, at the rate measured on a sample of them (`_packed_rate`), and the whole
    page is built only when that estimate says it fits (each build of a packed 40,000-paper
    page deflates ~40 MB: ~1.4 s); the caller tightens the result against the real size.
    """
    lengths = [len(p.abstract) for p in points]
    total = max(1, sum(lengths))
    rate = _packed_rate(points)  # bytes per abstract character
    full = None
    if rate * total <= budget / 2:  # most pages: the whole page is likely to fit, try it first
        full = _utf8_len(build(None))
        if full <= budget:
            return None
    fixed = _utf8_len(build(0))  # everything but the abstracts
    if full is None and fixed + rate * total <= budget:
        full = _utf8_len(build(None))
        if full <= budget:
            return None
    if full is not None:  # measured: better than the sample's rate
        return _largest_cap(lengths, (full - fixed) / total, budget - fixed)
    cap = _largest_cap(lengths, rate, budget - fixed)
    # Shortened abstracts deflate a little worse than whole ones (40,000 papers: the page
    # came out 0.6 % over): the rate again at that cap, and a margin for the sample's error,
    # so that the page is rarely built twice.
    rate = _packed_rate(points, cap) * (1 + RATE_MARGIN)
    return _largest_cap(lengths, rate, budget - fixed)


def _largest_cap(lengths: list[int], rate: float, room: float) -> int:
    """The largest cap whose abstracts, cut to it, cost at most `room` bytes at `rate` bytes
    per character, counting the list of shortened (or of whole) abstracts the page holds."""
    ordered = np.sort(np.asarray(lengths, np.int64))
    before = np.concatenate([[0], np.cumsum(ordered)])  # characters of the i shortest
    index_bytes = len(str(len(lengths))) + 1  # one entry of the `cut` or `uncut` list

    def cost(cap: int) -> float:
        whole = int(np.searchsorted(ordered, cap, side="right"))
        cut = len(ordered) - whole
        listed = min(cut, whole) if cap else 0  # at 0 every abstract is cut, none listed
        return rate * (before[whole] + cap * cut) + index_bytes * listed

    lo, hi = 0, int(ordered[-1]) if len(ordered) else 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if cost(mid) <= room else (lo, mid - 1)
    return lo


RATE_SAMPLE = 2_000  # abstracts whose rendered size gives the bytes per character
RATE_MARGIN = 0.002


def _packed_rate(points: list[MapPoint], cap: int | None = None) -> float:
    """Bytes per abstract character in a packed page (deflated, base64), measured on up to
    RATE_SAMPLE abstracts spread over `points` (shortened to `cap` when given)."""
    step = max(1, len(points) // RATE_SAMPLE)
    sample = [p.abstract if cap is None else shorten(p.abstract, cap) for p in points[::step]]
    return len(pack_texts([], sample)) / max(1, sum(len(a) for a in sample))


def render_map_html(
    points: list[MapPoint],
    themes: list[MapLabel],
    topics: list[MapLabel],
    *,
    title: str = "Topic map",
    max_abstract_chars: int | None = None,
    map_points: int = MAP_POINTS,
) -> str:
    """The complete, self-contained HTML page for the map.

    More than `map_points` papers: the page draws a stratified sample of them over a density
    layer of all (`sample_points`, `density_grid`); label sizes (`MapLabel.size`) should count
    all papers, as the legend shows them. Abstracts are cut to `max_abstract_chars` when given.
    Otherwise they are kept whole for maps under `AUTO_TRUNCATE_MIN_PAPERS` papers; above that,
    a page over `AUTO_BUDGET_BYTES` first carries its texts compressed, and only if that is
    still too big are abstracts cut, as little as needed; the page marks a shortened abstract.
    """
    _check(points, themes, topics)
    if max_abstract_chars is not None and max_abstract_chars < 0:
        raise ValueError("max_abstract_chars must be >= 0")
    points, sampled = sample_for_page(points, len(themes), map_points)
    pack = False
    built: dict[tuple[int | None, bool], str] = {}  # a packed build deflates ~100 MB at 75k

    def build(cap: int | None) -> str:
        if (cap, pack) not in built:
            payload = _payload(title, points, themes, topics, cap, pack, sampled)
            built[cap, pack] = _fill(title, escape_json_for_script(payload))
        return built[cap, pack]

    cap = max_abstract_chars
    if cap is not None or len(points) < AUTO_TRUNCATE_MIN_PAPERS:
        return build(cap)
    # The plain page holds every title and abstract: when they alone are over the budget it
    # cannot fit, and is not built (20,000 papers: a ~30 MB page, ~1 s).
    texts_bytes = sum(_utf8_len(p.title) + _utf8_len(p.abstract) for p in points)
    page = build(cap) if texts_bytes <= AUTO_BUDGET_BYTES else ""
    if not page or _utf8_len(page) > AUTO_BUDGET_BYTES:
        pack = True
        cap = _auto_cap(points, build, AUTO_BUDGET_BYTES)
        page = build(cap)
    # The estimate ignores word-boundary cuts and the `cut` list; tighten until it fits.
    while cap and _utf8_len(page) > AUTO_BUDGET_BYTES:
        cap = int(cap * 0.97)
        page = build(cap)
    return page


def write_map_html(
    path: Path,
    points: list[MapPoint],
    themes: list[MapLabel],
    topics: list[MapLabel],
    *,
    title: str = "Topic map",
    max_abstract_chars: int | None = None,
    map_points: int = MAP_POINTS,
) -> None:
    """Write the map page atomically (temp file beside it, fsync, rename), readable by all."""
    page = render_map_html(
        points,
        themes,
        topics,
        title=title,
        max_abstract_chars=max_abstract_chars,
        map_points=map_points,
    )
    data = page.encode("utf-8")
    write_atomic(Path(path), lambda handle: handle.write(data), mode=FILE_MODE)
