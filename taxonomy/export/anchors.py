"""Where a theme's or topic's label goes on the map: on its papers, not between them.

On the island layout a theme is several islands, and the median of its papers' positions can
fall in the sea between them (or on another theme's island). The anchor is instead the medoid:
the member position with the smallest total distance to the others, which lies on the most
central of the node's islands. Large nodes use an evenly spaced subset of their members (the
cost is quadratic in it), so the anchor stays deterministic and cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Members used to find the medoid of a large node.
MEDOID_SAMPLE = 400


def label_anchor(layout: np.ndarray, members: Sequence[int]) -> np.ndarray:
    """[x, y] of the members' medoid (the median for one or two members)."""
    points = np.asarray(layout, np.float64)[np.asarray(members, np.int64)]
    if len(points) <= 2:
        return np.median(points, axis=0)
    if len(points) > MEDOID_SAMPLE:
        points = points[np.linspace(0, len(points) - 1, MEDOID_SAMPLE).astype(np.int64)]
    distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    return points[int(np.argmin(distances.sum(axis=1)))]
