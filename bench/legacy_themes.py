"""The theme rule before issue 14, kept for bench/quality.py's "themes before" rows: k-means of
topic centroids weighted by topic size.

Weighting each topic by its papers balances themes by papers, not by topics: Ward on
unweighted centroids put 207 of the seeds' 461 papers in one theme. The number of themes is
chosen by the papers' silhouette (each paper scored with its topic's theme) over a small range
around sqrt(#topics), so 40 topics give 4-9 themes and 300 topics 12-26. docs/QUALITY.md has
the comparison with the earlier Ward/centroid-silhouette choice.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize

# Papers scored for the silhouette: a seeded sample keeps the cost flat on large corpora.
SILHOUETTE_SAMPLE = 3000


def _kmeans(centroids: np.ndarray, sizes: np.ndarray, n_themes: int, seed: int) -> np.ndarray:
    model = KMeans(n_clusters=n_themes, n_init=10, random_state=seed)
    return model.fit(centroids, sample_weight=np.maximum(sizes, 1)).labels_


def _largest_first(assignment: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Themes renumbered by total papers (largest first), ties by smallest topic id."""
    themes = sorted(
        set(assignment), key=lambda t: (-sizes[assignment == t].sum(), np.argmax(assignment == t))
    )
    mapping = {old: new for new, old in enumerate(themes)}
    return np.array([mapping[t] for t in assignment], dtype=np.int64)


def split_topics(centroids: np.ndarray, sizes: np.ndarray, n_groups: int, seed: int) -> np.ndarray:
    """Exactly `n_groups` groups of topics (0 = most papers) by the theme level's rule: k-means
    of the unit centroids weighted by topic size. Used to split a theme on request."""
    sizes = np.asarray(sizes)
    return _largest_first(_kmeans(normalize(centroids), sizes, n_groups, seed), sizes)


def _silhouette_rows(topic_of: np.ndarray, seed: int) -> np.ndarray:
    """The assigned papers scored by the silhouette: a seeded sample of SILHOUETTE_SAMPLE, drawn
    once so every candidate theme count is scored on the same papers."""
    rows = np.flatnonzero(topic_of >= 0)
    if len(rows) > SILHOUETTE_SAMPLE:
        rows = rows[np.random.RandomState(seed).permutation(len(rows))[:SILHOUETTE_SAMPLE]]
    return rows


def _paper_silhouette(papers: np.ndarray, topics: np.ndarray, theme_of_topic: np.ndarray) -> float:
    themes = theme_of_topic[topics]
    if len(set(themes)) < 2:
        return -np.inf
    return float(silhouette_score(papers, themes, metric="cosine"))


def legacy_group_topics(
    centroids: np.ndarray,
    sizes: np.ndarray,
    n_themes: int | None = None,
    *,
    papers: np.ndarray | None = None,
    topic_of: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Theme id (0 = largest theme by papers) for each topic.

    With `n_themes` None the count is chosen by silhouette: of the papers (`papers` vectors,
    `topic_of` their topic, -1 none) when given, else of the topic centroids.
    """
    k = len(centroids)
    if k <= 3:
        return np.zeros(k, dtype=np.int64)
    unit = normalize(centroids)
    sizes = np.asarray(sizes)
    if n_themes is None:
        root = math.sqrt(k)
        low, high = max(2, round(0.7 * root)), min(k - 1, max(3, round(1.5 * root)))
        best, best_score = None, -np.inf
        if papers is not None and topic_of is not None:
            rows = _silhouette_rows(topic_of, seed)
            sample, sample_topics = papers[rows], topic_of[rows]
        for n in range(low, high + 1):
            assignment = _kmeans(unit, sizes, n, seed)
            if papers is not None and topic_of is not None:
                score = _paper_silhouette(sample, sample_topics, assignment)
            elif len(set(assignment)) >= 2:
                score = silhouette_score(unit, assignment, metric="cosine")
            else:
                score = -np.inf
            if score > best_score + 1e-9:
                best, best_score = assignment, score
        assignment = best if best is not None else np.zeros(k, dtype=np.int64)
    else:
        assignment = _kmeans(unit, sizes, min(n_themes, k), seed)
    return _largest_first(assignment, sizes)
