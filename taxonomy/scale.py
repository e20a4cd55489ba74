"""Large corpora: fit the map on a sample, then place every other paper into it.

UMAP and HDBSCAN are the stages that grow fastest with the corpus; above `compute.fit_sample`
papers they run on a fixed-size, seeded random sample only, so their cost stops growing. The
other papers are then given the topic whose centroid (in the full vector space) they are most
similar to (`taxonomy.assign`), and a map position interpolated from their most similar sampled
papers of that topic. Both steps are linear in the corpus size and deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.preprocessing import normalize

from taxonomy.assign import assign_to_centroids

Assigner = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
NEIGHBOURS = 10  # sampled papers a placed paper's map position is interpolated from
_CHUNK = 4096  # rows per similarity block: bounds memory at chunk x sample floats


def sample_indices(n: int, sample_size: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of a seeded random sample, or None when the whole corpus is fitted."""
    if sample_size is None or n <= sample_size:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=sample_size, replace=False))


def _interpolate(
    unit: np.ndarray, anchors: np.ndarray, anchor_xy: np.ndarray, k: int
) -> np.ndarray:
    """Similarity-weighted mean position of each row's k most similar anchors."""
    out = np.zeros((len(unit), 2), np.float32)
    k = min(k, len(anchors))
    for start in range(0, len(unit), _CHUNK):
        sims = unit[start : start + _CHUNK] @ anchors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < len(anchors) else None
        if top is None:
            top = np.broadcast_to(np.arange(len(anchors)), sims.shape)
        top_sims = np.take_along_axis(sims, top, axis=1)
        weights = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) * 20.0)
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + _CHUNK] = np.einsum("rk,rkd->rd", weights, anchor_xy[top])
    return out


def place_rest(
    vectors: np.ndarray,
    sample: np.ndarray,
    sample_topic: np.ndarray,
    sample_layout: np.ndarray,
    centroids: np.ndarray,
    assign: Assigner = assign_to_centroids,
) -> tuple[np.ndarray, np.ndarray]:
    """(topic per paper, 2-D layout per paper) for the whole corpus from the sample's fit.

    Sampled papers keep their fitted topic and position. Every other paper goes to its nearest
    topic centroid and is placed among the sampled papers of that topic (among all sampled
    papers when the sample's fit left it unassigned or the corpus has no topics).
    """
    n = len(vectors)
    topic_of = np.full(n, -1, dtype=np.int64)
    layout = np.zeros((n, 2), np.float32)
    topic_of[sample] = sample_topic
    layout[sample] = sample_layout
    rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
    if len(rest) == 0:
        return topic_of, layout
    topic_of[rest] = assign(vectors[rest], centroids)[0]
    unit = normalize(vectors).astype(np.float32)
    # Within a topic the search is over that topic's sampled papers only: linear in n overall.
    groups = np.unique(topic_of[rest])
    for t in groups:
        rows = rest[topic_of[rest] == t]
        anchors = sample[sample_topic == t] if t >= 0 else sample
        if len(anchors) == 0:
            anchors = sample
        layout[rows] = _interpolate(unit[rows], unit[anchors], layout[anchors], NEIGHBOURS)
    return topic_of, layout


def label_rows(
    sample: np.ndarray | None, topic_of: np.ndarray, min_sampled: int = 10
) -> np.ndarray:
    """Papers the labels are computed from: the sample, plus every paper of a topic that has
    fewer than `min_sampled` sampled papers (small or curated topics). Phrase statistics of a
    20k sample name topics as well as all 75k papers do, at a fixed cost."""
    if sample is None:
        return np.arange(len(topic_of))
    in_sample = np.zeros(len(topic_of), bool)
    in_sample[sample] = True
    ids = topic_of[topic_of >= 0]
    sampled = np.bincount(
        topic_of[in_sample & (topic_of >= 0)], minlength=ids.max() + 1 if len(ids) else 0
    )
    thin = np.flatnonzero(sampled < min_sampled)
    return np.flatnonzero(in_sample | np.isin(topic_of, thin))
