"""Reduce stage: document vectors -> a low-dimensional space to cluster in, and a 2-D map layout.

Both come from UMAP with a fixed seed (so the same input gives the same output). The map layout
re-uses the nearest-neighbour graph of the clustering fit instead of searching it again.
Very small corpora (where UMAP's neighbour graph is meaningless) fall back to PCA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

# Below this many papers UMAP's k-NN graph is too small to be trusted; PCA is used instead.
MIN_PAPERS_FOR_UMAP = 30


@dataclass
class Reduced:
    cluster_space: np.ndarray  # [n, d] what the clusterer sees
    layout: np.ndarray  # [n, 2] map coordinates, scaled to [0, 1]


def tfidf_vectors(texts: list[str], dims: int, seed: int) -> np.ndarray:
    """Unit-length TF-IDF/SVD (LSA) vectors; they keep rare field terms a sentence model blurs."""
    n = len(texts)
    try:
        tfidf = TfidfVectorizer(
            stop_words="english",
            sublinear_tf=True,
            min_df=2 if n >= 50 else 1,
            max_df=0.5 if n >= 10 else 1.0,  # in a handful of papers every term is "common"
            ngram_range=(1, 2),
            max_features=50_000,
            token_pattern=r"(?u)\b[a-zA-Z][\w\-]+\b",
        ).fit_transform(texts)
    except ValueError:  # no usable term at all (stop words only, non-Latin script)
        return np.zeros((n, 1), np.float32)
    k = min(dims, tfidf.shape[1] - 1, n - 1)
    if k < 1:
        return np.zeros((n, 1), np.float32)
    lsa = TruncatedSVD(n_components=k, random_state=seed, algorithm="randomized").fit_transform(
        tfidf
    )
    return normalize(lsa).astype(np.float32)


def combine_vectors(
    embeddings: np.ndarray, lexical: np.ndarray, lexical_weight: float
) -> np.ndarray:
    """Concatenate so that cosine(combined) = (1-w)·cosine(embedding) + w·cosine(lexical)."""
    if lexical_weight <= 0:
        return normalize(embeddings).astype(np.float32)
    parts = [np.sqrt(1 - lexical_weight) * normalize(embeddings), np.sqrt(lexical_weight) * lexical]
    return normalize(np.hstack(parts)).astype(np.float32)


def _scale01(xy: np.ndarray) -> np.ndarray:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return ((xy - lo) / span).astype(np.float32)


def _pca(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    n = len(vectors)
    k = max(1, min(dims, n - 1, vectors.shape[1])) if n > 1 else 1
    if n <= 1:
        return np.zeros((n, dims), np.float32)
    out = PCA(n_components=k, random_state=seed).fit_transform(vectors)
    if out.shape[1] < dims:
        out = np.hstack([out, np.zeros((n, dims - out.shape[1]))])
    return out.astype(np.float32)


def reduce_vectors(
    vectors: np.ndarray,
    *,
    n_components: int = 10,
    n_neighbors: int = 15,
    min_dist: float = 0.0,
    map_min_dist: float = 0.1,
    seed: int = 42,
) -> Reduced:
    n = len(vectors)
    if n < MIN_PAPERS_FOR_UMAP:
        space = _pca(vectors, n_components, seed)
        return Reduced(cluster_space=space, layout=_scale01(_pca(vectors, 2, seed)))

    from umap import UMAP  # slow import (numba); only when needed
    from umap.umap_ import nearest_neighbors

    neighbors = min(n_neighbors, n - 1)
    # One k-NN search shared by both fits: it is the costly part on large corpora.
    knn = nearest_neighbors(
        vectors, neighbors, "cosine", {}, False, np.random.RandomState(seed), low_memory=True
    )
    common = dict(
        n_neighbors=neighbors, metric="cosine", random_state=seed, n_jobs=1, precomputed_knn=knn
    )
    space = UMAP(n_components=n_components, min_dist=min_dist, **common).fit_transform(vectors)
    layout = UMAP(n_components=2, min_dist=map_min_dist, **common).fit_transform(vectors)
    return Reduced(cluster_space=space.astype(np.float32), layout=_scale01(layout))
