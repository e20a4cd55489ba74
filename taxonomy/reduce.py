"""Reduce stage: document vectors -> a low-dimensional space to cluster in, and a 2-D map layout.

Both come from UMAP with a fixed seed (so the same input gives the same output). The map layout
re-uses the nearest-neighbour graph of the clustering fit instead of searching it again.
Very small corpora (where UMAP's neighbour graph is meaningless) fall back to PCA.

`island_layout` is the map the outputs show: once the topics are fitted, a second 2-D UMAP
takes them as a partial target (supervised UMAP, as datamapplot users do), so each topic is an
island and a theme's topics lie side by side, while the paper vectors' own neighbour graph
still sets most of the layout (docs/MAP.md measures both).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

# Below this many papers UMAP's k-NN graph is too small to be trusted; PCA is used instead.
MIN_PAPERS_FOR_UMAP = 30
# Up to this many papers the k-NN graph is computed exactly (see exact_knn); above, pynndescent.
EXACT_KNN_MAX = 30_000
# How much the island layout follows the topics (UMAP's target_weight: 0 = the paper vectors
# only, 1 = the topics only) and how tightly it packs an island (UMAP's min_dist). Chosen on
# the seeds and a 1,000-paper arXiv sample (bench/map_layout.py, docs/MAP.md).
ISLAND_TARGET_WEIGHT = 0.1
ISLAND_MIN_DIST = 0.3


@dataclass
class Reduced:
    cluster_space: np.ndarray  # [n, d] what the clusterer sees
    layout: np.ndarray  # [n, 2] map coordinates, scaled to [0, 1]
    # [k, n, d]: the clustering space again with seeds seed+1..seed+k (for the seed vote)
    extra_spaces: np.ndarray


def tfidf_vectors(
    texts: list[str], dims: int, seed: int, fit_rows: np.ndarray | None = None
) -> np.ndarray:
    """Unit-length TF-IDF/SVD (LSA) vectors; they keep rare field terms a sentence model blurs.

    With `fit_rows` (large corpora) the vocabulary and the SVD are fitted on those texts only
    and the other texts are projected into them, which keeps the SVD's cost fixed.
    """
    # One BLAS thread: the randomized SVD makes many small calls, and on 2 busy cores a second
    # thread's synchronisation made it 2-8x slower (461 papers: 16 s vs 2 s; docs/BENCHMARKS.md).
    with threadpool_limits(limits=1, user_api="blas"):
        if fit_rows is None:
            return _fit_tfidf(texts, dims, seed)[0]
        rest = np.setdiff1d(np.arange(len(texts)), fit_rows, assume_unique=True)
        fitted, project = _fit_tfidf([texts[i] for i in fit_rows], dims, seed)
        out = np.zeros((len(texts), fitted.shape[1]), np.float32)
        out[fit_rows] = fitted
        out[rest] = project([texts[i] for i in rest])
        return out


def _fit_tfidf(texts: list[str], dims: int, seed: int):
    """(LSA vectors of `texts`, a function projecting other texts into the same space)."""
    n = len(texts)

    def nothing(other: list[str]) -> np.ndarray:
        return np.zeros((len(other), 1), np.float32)

    vectorizer = TfidfVectorizer(
        stop_words="english",
        sublinear_tf=True,
        min_df=2 if n >= 50 else 1,
        max_df=0.5 if n >= 10 else 1.0,  # in a handful of papers every term is "common"
        ngram_range=(1, 2),
        max_features=50_000,
        token_pattern=r"(?u)\b[a-zA-Z][\w\-]+\b",
    )
    try:
        tfidf = vectorizer.fit_transform(texts)
    except ValueError:  # no usable term at all (stop words only, non-Latin script)
        return np.zeros((n, 1), np.float32), nothing
    k = min(dims, tfidf.shape[1] - 1, n - 1)
    if k < 1:
        return np.zeros((n, 1), np.float32), nothing
    svd = TruncatedSVD(n_components=k, random_state=seed, algorithm="randomized")
    lsa = svd.fit_transform(tfidf)

    def project(other: list[str]) -> np.ndarray:
        return normalize(svd.transform(vectorizer.transform(other))).astype(np.float32)

    return normalize(lsa).astype(np.float32), project


def combine_vectors(
    embeddings: np.ndarray, lexical: np.ndarray, lexical_weight: float
) -> np.ndarray:
    """Concatenate so that cosine(combined) = (1-w)·cosine(embedding) + w·cosine(lexical)."""
    if lexical_weight <= 0:
        return normalize(embeddings).astype(np.float32)
    parts = [np.sqrt(1 - lexical_weight) * normalize(embeddings), np.sqrt(lexical_weight) * lexical]
    return normalize(np.hstack(parts)).astype(np.float32)


def exact_knn(vectors: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine distances) of each row's k nearest rows, itself first; ties by index.

    Brute force in blocks of `chunk` rows (memory: chunk x n floats). Up to EXACT_KNN_MAX rows
    this beats pynndescent here: its numba code is compiled afresh in every process (50-110 s
    on 2 cores), while 20,000 x 20,000 cosine similarities take seconds; and the graph is exact.
    """
    unit = normalize(np.asarray(vectors, np.float32))
    n = len(unit)
    indices = np.empty((n, k), np.int64)
    distances = np.empty((n, k), np.float32)
    for start in range(0, n, chunk):
        sims = unit[start : start + chunk] @ unit.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = np.inf  # a point is its own nearest neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -top_sims), axis=1)
        indices[start : start + chunk] = np.take_along_axis(top, order, axis=1)
        best = np.take_along_axis(top_sims, order, axis=1)
        distances[start : start + chunk] = np.clip(1.0 - best, 0.0, 2.0)
    return indices, distances


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


class UmapFactory(Protocol):
    """Builds a UMAP-like estimator (`fit_transform`); `knn` is the precomputed k-NN graph,
    given only to factories whose `wants_knn` is true (others search their own)."""

    name: str
    wants_knn: bool

    def __call__(
        self, *, n_components: int, n_neighbors: int, min_dist: float, random_state: int, knn: Any
    ) -> Any: ...


class CpuUmap:
    """umap-learn on one thread, reusing the k-NN graph the caller computed once."""

    name = "umap"
    wants_knn = True

    def __call__(
        self, *, n_components: int, n_neighbors: int, min_dist: float, random_state: int, knn: Any
    ) -> Any:
        from umap import UMAP  # slow import (numba); only when needed

        return UMAP(
            n_components=n_components,
            min_dist=min_dist,
            random_state=random_state,
            n_neighbors=n_neighbors,
            metric="cosine",
            n_jobs=1,
            precomputed_knn=knn,
        )


def knn_graph(vectors: np.ndarray, n_neighbors: int, seed: int) -> tuple:
    """The k-NN graph every UMAP fit of a run shares: exact up to EXACT_KNN_MAX rows."""
    if len(vectors) <= EXACT_KNN_MAX:
        return exact_knn(vectors, n_neighbors)
    from umap.umap_ import nearest_neighbors

    return nearest_neighbors(
        vectors, n_neighbors, "cosine", {}, False, np.random.RandomState(seed), low_memory=True
    )


def reduce_vectors(
    vectors: np.ndarray,
    *,
    n_components: int = 10,
    n_neighbors: int = 15,
    min_dist: float = 0.0,
    map_min_dist: float = 0.1,
    seed: int = 42,
    n_spaces: int = 1,
    make_umap: UmapFactory | None = None,
) -> Reduced:
    """UMAP clustering space and 2-D map layout, plus `n_spaces - 1` further clustering spaces
    fitted with seeds seed+1, ... on the same k-NN graph (for the seed vote)."""
    n = len(vectors)
    if n < MIN_PAPERS_FOR_UMAP:  # PCA does not depend on the seed: no further spaces
        space = _pca(vectors, n_components, seed)
        return Reduced(space, _scale01(_pca(vectors, 2, seed)), _no_spaces(space))

    make_umap = make_umap or CpuUmap()
    neighbors = min(n_neighbors, n - 1)
    # One k-NN search shared by every fit: it is the costly part on large corpora.
    knn = knn_graph(vectors, neighbors, seed) if make_umap.wants_knn else None

    def fit(dims: int, dist: float, random_state: int) -> np.ndarray:
        model = make_umap(
            n_components=dims,
            n_neighbors=neighbors,
            min_dist=dist,
            random_state=random_state,
            knn=knn,
        )
        return np.asarray(model.fit_transform(vectors))

    with warnings.catch_warnings():  # "no search index: transform unavailable": not needed
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        space = fit(n_components, min_dist, seed).astype(np.float32)
        xy = fit(2, map_min_dist, seed)
        extra = [
            fit(n_components, min_dist, seed + i).astype(np.float32) for i in range(1, n_spaces)
        ]
    return Reduced(space, _scale01(xy), np.stack(extra) if extra else _no_spaces(space))


def _no_spaces(space: np.ndarray) -> np.ndarray:
    return np.zeros((0, *space.shape), np.float32)


def island_layout(
    vectors: np.ndarray,
    topic_of: np.ndarray,
    *,
    init: np.ndarray | None = None,
    n_neighbors: int = 15,
    min_dist: float = ISLAND_MIN_DIST,
    seed: int = 42,
    target_weight: float = ISLAND_TARGET_WEIGHT,
    make_umap: UmapFactory | None = None,
) -> np.ndarray:
    """[n, 2] map positions in [0, 1] where each topic is an island: a 2-D UMAP of `vectors`
    with `topic_of` (-1: unassigned, left unlabelled) as a categorical partial target.

    The paper vectors' k-NN graph is intersected with the topic labels' graph (weighted by
    `target_weight`), so papers of one topic are pulled together; starting from `init` (the
    plain UMAP layout of the same vectors) keeps its global arrangement, so neighbouring
    topics and themes stay where the vectors put them. Corpora too small for UMAP, or without
    any topic, keep `init` (or get a PCA layout).
    """
    n = len(vectors)
    labels = np.asarray(topic_of, np.int64)
    if len(labels) != n:
        raise ValueError(f"topic_of has {len(labels)} rows, vectors {n}")
    if n < MIN_PAPERS_FOR_UMAP or not (labels >= 0).any():
        return _scale01(init) if init is not None else _scale01(_pca(vectors, 2, seed))
    make_umap = make_umap or CpuUmap()
    neighbors = min(n_neighbors, n - 1)
    knn = knn_graph(vectors, neighbors, seed) if make_umap.wants_knn else None
    model = make_umap(
        n_components=2, n_neighbors=neighbors, min_dist=min_dist, random_state=seed, knn=knn
    )
    settings: dict[str, Any] = {"target_weight": target_weight}
    if init is not None and make_umap.name == "umap":  # umap-learn takes an array to start from
        settings["init"] = np.asarray(init, np.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        try:
            model.set_params(**settings)
            xy = np.asarray(model.fit_transform(vectors, y=labels))
        except (AttributeError, TypeError) as err:  # a backend without supervised UMAP
            log.warning(
                "%s cannot fit a supervised layout (%s); the map keeps its plain layout",
                make_umap.name,
                err,
            )
            return _scale01(init) if init is not None else _scale01(_pca(vectors, 2, seed))
    return _scale01(xy)
