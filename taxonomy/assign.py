"""Assign stage: place papers into an already fitted taxonomy without refitting.

Used by `taxonomy assign` (new abstracts into the last run's topics) and by the Ray engine
(fit on a sample, assign the rest). A paper goes to the topic whose centroid its embedding is
most similar to; when even the best topic is not similar enough it is left unassigned (-1), which
the callers report as "unassigned / possibly new theme".
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import normalize


def assign_to_centroids(
    embeddings: np.ndarray, centroids: np.ndarray, min_similarity: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(topic index per row or -1, cosine similarity to that topic) for each embedding row.

    `centroids` is [k, d] in the same space as `embeddings`; neither needs to be unit-length.
    Ties go to the lower topic index, so the result does not depend on row order or batching.
    """
    n = len(embeddings)
    if n == 0 or len(centroids) == 0:
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    sims = (
        normalize(np.asarray(embeddings, np.float32))
        @ normalize(np.asarray(centroids, np.float32)).T
    )
    best = sims.argmax(axis=1).astype(np.int64)
    best_sim = sims[np.arange(n), best].astype(np.float32)
    best[best_sim < min_similarity] = -1
    return best, best_sim
