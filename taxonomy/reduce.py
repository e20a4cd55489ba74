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
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import normalize

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
# From this many papers (umap-learn's own threshold between 500 and 200 epochs) the CPU fits
# run fewer epochs, and the map layout starts from the clustering space (its first two
# principal axes) instead of a spectral embedding: at 20,000 stand-in papers the layout fit
# took 54 s -> 18 s and the share of a paper's 10 map neighbours in its topic went 0.661 ->
# 0.636 (docs/BENCHMARKS.md). Smaller corpora keep umap-learn's defaults (and their outputs).
LARGE_FIT = 10_000
LARGE_FIT_EPOCHS = 100


@dataclass
class Reduced:
    cluster_space: np.ndarray  # [n, d] what the clusterer sees
    layout: np.ndarray  # [n, 2] plain map coordinates (or the islands' start), in [0, 1]
    # [k, n, d]: the clustering space again with seeds seed+1..seed+k (for the seed vote)
    extra_spaces: np.ndarray
    # [n, k] the k-NN graph the fits shared (indices, itself first; cosine distances); [0, 0]
    # where none was searched. The island layout and the theme nesting's vote reuse it.
    knn_indices: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    knn_distances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


def combine_vectors(
    embeddings: np.ndarray, lexical: np.ndarray, lexical_weight: float
) -> np.ndarray:
    """Concatenate so that cosine(combined) = (1-w)·cosine(embedding) + w·cosine(lexical).

    Computed in float64 blocks of COMBINE_ROWS rows written into one float32 array: the same
    bits as the whole array at once (every step is per row), without its float64 temporaries
    (~8 GB at 1M papers)."""
    if lexical_weight <= 0:
        return normalize(embeddings).astype(np.float32)
    out = np.empty((len(embeddings), embeddings.shape[1] + lexical.shape[1]), np.float32)
    for start in range(0, len(out), COMBINE_ROWS):
        rows = slice(start, start + COMBINE_ROWS)
        parts = [
            np.sqrt(1 - lexical_weight) * normalize(embeddings[rows]),
            np.sqrt(lexical_weight) * lexical[rows],
        ]
        out[rows] = normalize(np.hstack(parts))
    return out


COMBINE_ROWS = 16_384


def exact_knn(
    vectors: np.ndarray, k: int, chunk: int = 1024, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine distances) of each row's k nearest rows, itself first; ties by index.
    `rows`: only those rows' neighbours (among all rows), in that order.

    Brute force in blocks of `chunk` rows (memory: chunk x n floats). Up to EXACT_KNN_MAX rows
    this beats pynndescent here: its numba code is compiled afresh in every process (50-110 s
    on 2 cores), while 20,000 x 20,000 cosine similarities take seconds; and the graph is exact.
    From SYMMETRIC_KNN_MIN rows each similarity is computed once for both of its rows (half
    the multiplications: the cost of this step at 20k papers).
    """
    unit = normalize(np.asarray(vectors, np.float32))
    if rows is None and len(unit) >= SYMMETRIC_KNN_MIN and k < chunk:
        return _symmetric_knn(unit, k, chunk)
    queries = np.arange(len(unit)) if rows is None else np.asarray(rows, np.int64)
    n = len(queries)
    indices = np.empty((n, k), np.int64)
    distances = np.empty((n, k), np.float32)
    for start in range(0, n, chunk):
        block = queries[start : start + chunk]
        # (a slice when it can be: a copied block can change BLAS's last bits, and the graph's)
        sims = (unit[start : start + chunk] if rows is None else unit[block]) @ unit.T
        sims[np.arange(len(block)), block] = np.inf  # a point is its own nearest neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -top_sims), axis=1)
        indices[start : start + chunk] = np.take_along_axis(top, order, axis=1)
        best = np.take_along_axis(top_sims, order, axis=1)
        distances[start : start + chunk] = np.clip(1.0 - best, 0.0, 2.0)
    return indices, distances


SYMMETRIC_KNN_MIN = 8192


def _symmetric_knn(unit: np.ndarray, k: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """exact_knn over the block pairs (i, j >= i) of the similarity matrix: each block serves
    its rows and, transposed, its columns; a running top k per row is merged block by block."""
    n = len(unit)
    best_sims = np.full((n, k), -np.inf, np.float32)
    best_idx = np.full((n, k), n, np.int64)  # n: no neighbour yet (sorts last on ties)

    def merge(start: int, sims: np.ndarray, col_start: int) -> None:
        rows = slice(start, start + len(sims))
        if sims.shape[1] > k:
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            cand = np.take_along_axis(sims, top, axis=1)
        else:
            top = np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
            cand = sims
        all_sims = np.hstack([best_sims[rows], cand])
        all_idx = np.hstack([best_idx[rows], top + col_start])
        keep = np.argpartition(-all_sims, k - 1, axis=1)[:, :k]
        best_sims[rows] = np.take_along_axis(all_sims, keep, axis=1)
        best_idx[rows] = np.take_along_axis(all_idx, keep, axis=1)

    for i in range(0, n, chunk):
        block_i = unit[i : i + chunk]
        for j in range(i, n, chunk):
            sims = block_i @ unit[j : j + chunk].T
            if j == i:
                diag = np.arange(len(sims))
                sims[diag, diag] = np.inf  # a point is its own nearest neighbour
            merge(i, sims, j)
            if j != i:
                merge(j, np.ascontiguousarray(sims.T), i)
    order = np.lexsort((best_idx, -best_sims), axis=1)
    indices = np.take_along_axis(best_idx, order, axis=1)
    distances = np.clip(1.0 - np.take_along_axis(best_sims, order, axis=1), 0.0, 2.0)
    return indices, distances.astype(np.float32)


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


_UMAP_JIT_CACHED = False


def cache_umap_jit() -> None:
    """Let numba cache umap-learn's own compiled functions on disk (in $NUMBA_CACHE_DIR).

    umap-learn compiles smooth_knn_dist, compute_membership_strengths and the layout epoch
    without `cache=True`, so every process compiled them again: 20 s on an idle 2-core
    machine, 84 s of a 136 s reduce of 1,000 papers when busy. A parallel variant of a
    function that also has a serial one is left alone (numba's cache key does not tell them
    apart; we run the serial one).
    """
    global _UMAP_JIT_CACHED
    if _UMAP_JIT_CACHED:
        return
    _UMAP_JIT_CACHED = True
    try:
        import umap.layouts
        import umap.umap_
        import umap.utils
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # another numba: compile as umap-learn does
        return
    found = [
        obj
        for module in (umap.umap_, umap.layouts, umap.utils)
        for obj in vars(module).values()
        if isinstance(obj, Dispatcher) and isinstance(getattr(obj, "_cache", None), NullCache)
    ]
    wrappers: dict[int, int] = {}
    for obj in found:
        wrappers[id(obj.py_func)] = wrappers.get(id(obj.py_func), 0) + 1
    for obj in found:
        if obj.targetoptions.get("parallel") and wrappers[id(obj.py_func)] > 1:
            continue
        try:
            obj.enable_caching()
        except Exception:  # a function numba cannot cache: compiled as before
            pass


class CpuUmap:
    """umap-learn on one thread, reusing the k-NN graph the caller computed once."""

    name = "umap"
    wants_knn = True
    tunable = True  # takes umap-learn's n_epochs and init (set_params) for large fits

    def __call__(
        self, *, n_components: int, n_neighbors: int, min_dist: float, random_state: int, knn: Any
    ) -> Any:
        from umap import UMAP  # slow import (numba); only when needed

        cache_umap_jit()
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
    )[:2]


def first_neighbours(indices: np.ndarray, distances: np.ndarray, k: int) -> tuple | None:
    """The graph's first `k` columns (an exact graph's k-NN graph), or None if it is narrower."""
    if indices.ndim != 2 or indices.shape[1] < k:
        return None
    return np.ascontiguousarray(indices[:, :k]), np.ascontiguousarray(distances[:, :k])


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
    layout_starts_islands: bool = False,
    spare_neighbours: int = 0,
) -> Reduced:
    """UMAP clustering space and 2-D map layout, plus `n_spaces - 1` further clustering spaces
    fitted with seeds seed+1, ... on the same k-NN graph (for the seed vote).

    `layout_starts_islands`: the layout is only where the island layout starts. From
    LARGE_FIT on it is then the clustering space's first two principal axes, where the 2-D fit
    would start, without that fit: the island layout from there puts 95.4 % of a paper's 10
    map neighbours in its topic, from the fitted layout 95.3 % (20,000 stand-in papers; one
    100-epoch fit, ~4 s, fewer).

    `spare_neighbours`: an exact graph is searched at least this many neighbours (besides each
    paper itself) wide, for a later use of it (the theme nesting's vote); the fits see its
    first `n_neighbors` columns, the very graph they would get otherwise."""
    n = len(vectors)
    if n < MIN_PAPERS_FOR_UMAP:  # PCA does not depend on the seed: no further spaces
        space = _pca(vectors, n_components, seed)
        return Reduced(space, _scale01(_pca(vectors, 2, seed)), _no_spaces(space))

    make_umap = make_umap or CpuUmap()
    neighbors = min(n_neighbors, n - 1)
    # One k-NN search shared by every fit: it is the costly part on large corpora.
    graph = None
    if make_umap.wants_knn:
        exact = n <= EXACT_KNN_MAX
        graph = knn_graph(
            vectors, max(neighbors, spare_neighbours + 1) if exact else neighbors, seed
        )
    knn = None if graph is None else first_neighbours(*graph, neighbors)

    tune = n >= LARGE_FIT and getattr(make_umap, "tunable", False)

    def fit(dims: int, dist: float, random_state: int, init: Any = None) -> np.ndarray:
        model = make_umap(
            n_components=dims,
            n_neighbors=neighbors,
            min_dist=dist,
            random_state=random_state,
            knn=knn,
        )
        if tune:
            model.set_params(n_epochs=LARGE_FIT_EPOCHS, **({} if init is None else {"init": init}))
        return np.asarray(model.fit_transform(vectors))

    with warnings.catch_warnings():  # "no search index: transform unavailable": not needed
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        space = fit(n_components, min_dist, seed).astype(np.float32)
        start = PCA(n_components=2, random_state=seed).fit_transform(space) if tune else None
        xy = start if layout_starts_islands and tune else fit(2, map_min_dist, seed, init=start)
        extra = [
            fit(n_components, min_dist, seed + i).astype(np.float32) for i in range(1, n_spaces)
        ]
    spaces = np.stack(extra) if extra else _no_spaces(space)
    if graph is None:
        return Reduced(space, _scale01(xy), spaces)
    return Reduced(space, _scale01(xy), spaces, np.asarray(graph[0]), np.asarray(graph[1]))


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
    knn: tuple | None = None,
) -> np.ndarray:
    """[n, 2] map positions in [0, 1] where each topic is an island: a 2-D UMAP of `vectors`
    with `topic_of` (-1: unassigned, left unlabelled) as a categorical partial target.

    The paper vectors' k-NN graph is intersected with the topic labels' graph (weighted by
    `target_weight`), so papers of one topic are pulled together; starting from `init` (the
    plain UMAP layout of the same vectors) keeps its global arrangement, so neighbouring
    topics and themes stay where the vectors put them. Corpora too small for UMAP, or without
    any topic, keep `init` (or get a PCA layout). `knn`: the vectors' k-NN graph, when
    `reduce_vectors` has searched it already (its `knn_indices`/`knn_distances`).
    """
    n = len(vectors)
    labels = np.asarray(topic_of, np.int64)
    if len(labels) != n:
        raise ValueError(f"topic_of has {len(labels)} rows, vectors {n}")
    if n < MIN_PAPERS_FOR_UMAP or not (labels >= 0).any():
        return _scale01(init) if init is not None else _scale01(_pca(vectors, 2, seed))
    make_umap = make_umap or CpuUmap()
    neighbors = min(n_neighbors, n - 1)
    if knn is not None:
        knn = first_neighbours(*knn, neighbors)
    if knn is None and make_umap.wants_knn:
        knn = knn_graph(vectors, neighbors, seed)
    model = make_umap(
        n_components=2, n_neighbors=neighbors, min_dist=min_dist, random_state=seed, knn=knn
    )
    settings: dict[str, Any] = {"target_weight": target_weight}
    if init is not None and make_umap.name == "umap":  # umap-learn takes an array to start from
        settings["init"] = np.asarray(init, np.float64)
        if n >= LARGE_FIT and getattr(make_umap, "tunable", False):
            # started from a finished layout: 100 epochs keep 10-NN topic agreement (20,000
            # papers: 0.953 vs 0.955 with umap's 200) in half the time
            settings["n_epochs"] = LARGE_FIT_EPOCHS
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
