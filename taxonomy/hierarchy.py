"""Hierarchy stage: topics -> broad themes (agglomerative clustering of topic centroids).

The number of themes is chosen by silhouette over a small range around sqrt(#topics), so a
corpus with 30 topics gets ~4-8 themes and one with 300 topics ~12-26.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize


def _agglomerate(centroids: np.ndarray, sizes: np.ndarray, n_themes: int) -> np.ndarray:
    # Ward on unit vectors (Euclidean ~ cosine there) gives balanced themes; average linkage
    # tends to make one giant theme plus singletons.
    model = AgglomerativeClustering(n_clusters=n_themes, linkage="ward")
    return model.fit_predict(centroids)


def group_topics(
    centroids: np.ndarray, sizes: np.ndarray, n_themes: int | None = None
) -> np.ndarray:
    """Theme id (0 = largest theme by papers) for each topic."""
    k = len(centroids)
    if k <= 3:
        return np.zeros(k, dtype=np.int64)
    unit = normalize(centroids)
    if n_themes is None:
        root = math.sqrt(k)
        low, high = max(2, round(0.7 * root)), min(k - 1, max(3, round(1.5 * root)))
        best, best_score = None, -np.inf
        for n in range(low, high + 1):
            assignment = _agglomerate(unit, sizes, n)
            if len(set(assignment)) < 2:
                continue
            score = silhouette_score(unit, assignment, metric="cosine")
            if score > best_score + 1e-9:
                best, best_score = assignment, score
        assignment = best if best is not None else np.zeros(k, dtype=np.int64)
    else:
        assignment = _agglomerate(unit, sizes, min(n_themes, k))
    # Renumber themes by total papers (largest first), ties by smallest topic id.
    themes = sorted(
        set(assignment), key=lambda t: (-sizes[assignment == t].sum(), np.argmax(assignment == t))
    )
    mapping = {old: new for new, old in enumerate(themes)}
    return np.array([mapping[t] for t in assignment], dtype=np.int64)
