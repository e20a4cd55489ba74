"""Placement: put papers into an already fitted taxonomy, without refitting.

Large corpora are fitted on a seeded sample (`sample_indices`): UMAP and HDBSCAN grow fastest
with the corpus, so above `compute.fit_sample` papers they see the sample only and every other
paper is placed by the rule below.

One rule, used wherever a paper joins fitted topics (the rest of a large corpus after fitting on
a sample, `taxonomy assign`, a run that updates an earlier one):
  - topic: the topic whose centroid the paper's vector is most similar to (cosine); when a floor
    is given and even the best topic is less similar, the paper stays unassigned (-1);
  - map position: the similarity-weighted (softmax, temperature 1/20) mean position of its
    NEIGHBOURS most similar placed papers of that topic (of all placed papers when it is
    unassigned or its topic has none).
Both are linear in the number of papers placed and deterministic.

The floor (`similarity_floor`) comes from the fitted topics themselves: the FLOOR_QUANTILE
quantile of the fitted papers' similarity to their own topic's centroid computed without them,
i.e. a new paper is left out when it is less similar to its best topic than 95 % of the fitted
papers are to theirs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.preprocessing import normalize

Assigner = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
NEIGHBOURS = 10  # placed papers a new paper's map position is interpolated from
FLOOR_QUANTILE = 0.05
_CHUNK = 4096  # rows per similarity block: bounds memory at chunk x anchors floats


def sample_indices(n: int, sample_size: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of the seeded random sample a large corpus is fitted on, or None when
    the whole corpus is fitted (`compute.fit_sample`)."""
    if sample_size is None or n <= sample_size:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=sample_size, replace=False))


def assign_to_centroids(
    vectors: np.ndarray, centroids: np.ndarray, min_similarity: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(topic index per row or -1, cosine similarity to that topic) for each row.

    `centroids` is [k, d] in the same space as `vectors`; neither needs to be unit-length.
    Rows less similar than `min_similarity` to every topic get -1.
    Ties go to the lower topic index, so the result does not depend on row order or batching.
    """
    n = len(vectors)
    if n == 0 or len(centroids) == 0:
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    unit = normalize(np.asarray(vectors, np.float32))
    sims = unit @ normalize(np.asarray(centroids, np.float32)).T
    best = sims.argmax(axis=1).astype(np.int64)
    best_sim = sims[np.arange(n), best].astype(np.float32)
    best[best_sim < min_similarity] = -1
    return best, best_sim


def similarity_floor(vectors: np.ndarray, topic_of: np.ndarray) -> float:
    """The FLOOR_QUANTILE quantile of fitted papers' cosine to their own topic's centroid.

    Each paper is compared with its topic's centroid computed without it (leave-one-out), as a
    new paper would be; otherwise small topics, whose centroid is mostly their own members,
    would set the floor too high.
    """
    sims: list[np.ndarray] = []
    for t in np.unique(topic_of[topic_of >= 0]):  # one topic's rows normalised at a time
        members = normalize(np.asarray(vectors[topic_of == t], np.float32))
        if len(members) < 2:
            continue
        rest = members.sum(axis=0) - members
        norms = np.maximum(np.linalg.norm(rest, axis=1), 1e-12)
        sims.append((members * rest).sum(axis=1) / norms)
    if not sims:
        return 0.0
    return round(float(np.quantile(np.concatenate(sims), FLOOR_QUANTILE)), 6)


def _interpolate(unit: np.ndarray, anchors: np.ndarray, anchor_xy: np.ndarray) -> np.ndarray:
    """Softmax-weighted mean position of each row's NEIGHBOURS most similar anchors."""
    out = np.zeros((len(unit), 2), np.float32)
    k = min(NEIGHBOURS, len(anchors))
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


def map_positions(
    vectors: np.ndarray,
    topic_of: np.ndarray,
    anchor_vectors: np.ndarray,
    anchor_topic: np.ndarray,
    anchor_xy: np.ndarray,
) -> np.ndarray:
    """Map position of each new paper among the placed papers (anchors) of its topic."""
    return _positions(
        vectors, np.arange(len(vectors)), topic_of, anchor_vectors, anchor_topic, anchor_xy
    )


def _positions(
    vectors: np.ndarray,
    rows: np.ndarray,
    topic_of: np.ndarray,
    anchor_vectors: np.ndarray,
    anchor_topic: np.ndarray,
    anchor_xy: np.ndarray,
) -> np.ndarray:
    """`map_positions` of `vectors[rows]` (topic `topic_of[k]` for `rows[k]`), each topic's rows
    copied and normalised in turn: no copy of all of them (~2 GB at 1M papers)."""
    layout = np.zeros((len(rows), 2), np.float32)
    if len(rows) == 0 or len(anchor_vectors) == 0:
        return layout
    anchor_unit = normalize(np.asarray(anchor_vectors, np.float32))
    # Within a topic the search is over that topic's anchors only: linear in n overall.
    for t in np.unique(topic_of):
        members = np.flatnonzero(topic_of == t)
        anchors = np.flatnonzero(anchor_topic == t) if t >= 0 else np.arange(len(anchor_unit))
        if len(anchors) == 0:
            anchors = np.arange(len(anchor_unit))
        unit = normalize(np.asarray(vectors[rows[members]], np.float32))
        layout[members] = _interpolate(unit, anchor_unit[anchors], anchor_xy[anchors])
    return layout


ASSIGN_ROWS = 65_536  # papers assigned per call of the assigner: bounds the copies it makes


def assign_rest(
    vectors: np.ndarray,
    sample: np.ndarray,
    sample_topic: np.ndarray,
    centroids: np.ndarray,
    assign: Assigner = assign_to_centroids,
) -> np.ndarray:
    """Topic per paper of a corpus fitted on `sample` only: sampled papers keep their fitted
    topic, every other paper gets the one `assign` gives it (nearest centroid), ASSIGN_ROWS
    papers at a time (each paper's topic is its own: batching does not change it)."""
    topic_of = np.full(len(vectors), -1, dtype=np.int64)
    topic_of[sample] = sample_topic
    rest = np.setdiff1d(np.arange(len(vectors)), sample, assume_unique=True)
    for start in range(0, len(rest), ASSIGN_ROWS):
        rows = rest[start : start + ASSIGN_ROWS]
        topic_of[rows] = assign(vectors[rows], centroids)[0]
    return topic_of


def position_rest(
    vectors: np.ndarray, sample: np.ndarray, topic_of: np.ndarray, sample_layout: np.ndarray
) -> np.ndarray:
    """2-D layout per paper of a corpus fitted on `sample` only: sampled papers keep their
    position, every other paper lands among its topic's most similar sampled papers."""
    layout = np.zeros((len(vectors), 2), np.float32)
    layout[sample] = sample_layout
    rest = np.setdiff1d(np.arange(len(vectors)), sample, assume_unique=True)
    if len(rest):
        layout[rest] = _positions(
            vectors, rest, topic_of[rest], vectors[sample], topic_of[sample], sample_layout
        )
    return layout
