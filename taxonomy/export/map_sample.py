"""Which papers a capped map draws, and the density layer of all papers under them.

Maps of more than `map_points` papers (`output.map_points`) draw a sample of them: stratified by
theme and topic (`sample_points`), over a density layer of every paper's position
(`density_grid`); the legend and labels still count every paper. At 1M papers the per-point
columns alone would exceed the size budget, so the page cannot carry them all.
`html_map.render_map_html` calls `sample_for_page`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from taxonomy.export.html_map import MapPoint

#: The smallest cap allowed (fewer points would not show the map's shape).
MIN_MAP_POINTS = 1_000
#: A topic keeps at least this many points in a sample (all of them if it has fewer), so
#: small topics stay visible and clickable however large the map.
MIN_PER_TOPIC = 20
#: Cells of the density grid along the longer side of the layout's bounding box: about
#: sqrt(papers) / 2, so a cell of a dense region holds several papers whatever the map's size
#: (a finer grid is speckle, one point per cell), within these bounds.
DENSITY_CELLS = (64, 512)


def _sample_keys(ids: Sequence[str], seed: int) -> np.ndarray:
    """A pseudo-random number per paper from its id and `seed`: a paper keeps its rank when
    other papers come or go, so a re-run or an update draws mostly the same points."""
    salt = seed.to_bytes(8, "little")
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8, salt=salt).digest(), "little")
            for i in ids
        ),
        dtype=np.uint64,
        count=len(ids),
    )


def _quotas(sizes: np.ndarray, cap: int) -> np.ndarray:
    """Points per stratum: `cap` shared in proportion to the strata's sizes (largest
    remainders), except that a stratum whose share falls below `MIN_PER_TOPIC` gets that many
    (or all its papers) and the others share what is left."""
    floor = np.minimum(sizes, max(1, min(MIN_PER_TOPIC, cap // len(sizes))))
    held = np.zeros(len(sizes), bool)  # strata at their floor
    while True:
        room = max(0, cap - int(floor[held].sum()))
        free = ~held
        share = np.where(free, sizes * (room / max(1, int(sizes[free].sum()))), 0.0)
        low = free & (share < floor)
        if not low.any():
            break
        held |= low
    quota = np.floor(share).astype(np.int64)
    left = room - int(quota.sum())
    if left > 0:  # largest remainders (ties: the first stratum), free strata only
        quota[np.argsort(-(share - quota), kind="stable")[:left]] += 1
    return np.minimum(np.where(held, floor, quota), sizes)


def sample_points(points: Sequence[MapPoint], cap: int, seed: int = 0) -> np.ndarray:
    """Ascending indices of the papers a capped map draws: about `cap` of them, stratified by
    (theme, topic) so every topic, theme and the unassigned papers keep points in proportion,
    and each topic at least `MIN_PER_TOPIC`. Deterministic: which papers depends only on their
    ids, groups and `seed`."""
    n = len(points)
    if n <= cap:
        return np.arange(n)
    theme = np.fromiter((p.theme for p in points), np.int64, n)
    topic = np.fromiter((p.topic for p in points), np.int64, n)
    code = (theme + 1) * (int(topic.max()) + 2) + topic + 1
    _, stratum, sizes = np.unique(code, return_inverse=True, return_counts=True)
    stratum = stratum.reshape(-1)
    quota = _quotas(sizes, cap)
    keys = _sample_keys([p.id for p in points], seed)
    order = np.lexsort((np.arange(n), keys, stratum))  # by stratum, then key (ids are unique)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    by_stratum = stratum[order]
    rank = np.arange(n) - start[by_stratum]
    return np.sort(order[rank < quota[by_stratum]])


def _dominant(cell: np.ndarray, slot: np.ndarray, n_cells: int, n_slots: int) -> np.ndarray:
    """Per cell the theme slot with the most papers (ties: the lower slot), 255 where none."""
    pairs, counts = np.unique(cell * n_slots + slot, return_counts=True)
    cells, slots = pairs // n_slots, pairs % n_slots
    order = np.lexsort((slots, -counts, cells))
    first = order[np.r_[True, cells[order][1:] != cells[order][:-1]]]
    out = np.full(n_cells, 255, np.uint8)
    out[cells[first]] = np.minimum(slots[first], 255)
    return out


def density_grid(points: Sequence[MapPoint], n_themes: int) -> dict:
    """A 2-D histogram of every paper's position, for the page to draw under a sample.

    `w` x `h` square cells over `box` = [x0, y0, x1, y1], rows from the top (largest y).
    `z` is base64 of raw-deflated bytes: first one level per cell (0: empty, else 1-255 on a
    log scale of the count, so sparse regions stay visible beside dense ones), then per cell
    its most common theme (the theme's index; `n_themes` for unassigned; 255: none/other).
    """
    n = len(points)
    x = np.fromiter((p.x for p in points), np.float64, n)
    y = np.fromiter((p.y for p in points), np.float64, n)
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    long_side = max(span_x, span_y)
    cells = min(max(round(math.sqrt(n) / 2), DENSITY_CELLS[0]), DENSITY_CELLS[1])
    w = max(1, round(cells * span_x / long_side))
    h = max(1, round(cells * span_y / long_side))
    col = np.minimum(((x - x0) / span_x * w).astype(np.int64), w - 1)
    row = np.minimum(((y1 - y) / span_y * h).astype(np.int64), h - 1)
    cell = row * w + col
    counts = np.bincount(cell, minlength=w * h)
    level = np.zeros(w * h, np.uint8)
    filled = counts > 0
    scaled = np.round(255 * np.log1p(counts[filled]) / np.log1p(counts.max()))
    level[filled] = np.maximum(scaled, 1)
    theme = np.fromiter((p.theme for p in points), np.int64, n)
    slot = np.where(theme >= 0, theme, n_themes)
    dominant = _dominant(cell, slot, w * h, n_themes + 1)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = packer.compress(level.tobytes() + dominant.tobytes()) + packer.flush()
    box = [x0, y0, x1, y1]
    return {"w": w, "h": h, "box": box, "z": base64.b64encode(data).decode("ascii")}


def sample_for_page(
    points: list[MapPoint], n_themes: int, map_points: int
) -> tuple[list[MapPoint], dict | None]:
    """The points the page carries and, for a sampled map, what it says about all of them
    (`total`, `unassigned`, and `dens`: the density grid of all, `n_themes` theme colours)."""
    if map_points < MIN_MAP_POINTS:
        raise ValueError(f"map_points must be >= {MIN_MAP_POINTS:,}, got {map_points}")
    if len(points) <= map_points:
        return points, None
    unassigned = sum(1 for p in points if p.theme < 0 or p.topic < 0)
    info = {
        "total": len(points),
        "unassigned": unassigned,
        "dens": density_grid(points, n_themes),
    }
    return [points[i] for i in sample_points(points, map_points)], info
