"""Where a theme's or topic's label goes on the map: on its largest dense region of papers.

On the island layout a theme is several islands. The mean or median of its papers' positions
can fall in the sea between them (or on another theme's island), and so can the medoid (the
member with the smallest total distance to all the others): it is pulled towards the middle,
and a few stray papers between two islands are its best candidates. The anchor is instead the
member with the smallest total distance to its nearest half of the members: the centre of the
largest dense region (on well separated islands, inside any island that holds half the
members). Large nodes use an evenly spaced subset of their members (the cost is quadratic in
it), so the anchor stays deterministic and cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Members used to find the anchor of a large node.
ANCHOR_SAMPLE = 400


def label_anchor(layout: np.ndarray, members: Sequence[int]) -> np.ndarray:
    """[x, y] of the member whose nearest half of the members is closest (ties: the one closest
    to all of them); the median for one or two members."""
    points = np.asarray(layout, np.float64)[np.asarray(members, np.int64)]
    if len(points) <= 2:
        return np.median(points, axis=0)
    if len(points) > ANCHOR_SAMPLE:
        points = points[np.linspace(0, len(points) - 1, ANCHOR_SAMPLE).astype(np.int64)]
    distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    nearest_half = np.sort(distances, axis=1)[:, : (len(points) + 1) // 2]  # itself included
    # Ties (two members nearest each other) go to the more central one, then the first.
    best = np.lexsort((distances.sum(axis=1), nearest_half.sum(axis=1)))[0]
    return points[int(best)]
