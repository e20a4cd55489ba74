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
import re
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import sparse
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
# Above this many papers (umap-learn's own threshold between 500 and 200 epochs) the CPU fits
# run fewer epochs, and the map layout starts from the clustering space (its first two
# principal axes) instead of a spectral embedding: at 20,000 stand-in papers the layout fit
# took 54 s -> 18 s and the share of a paper's 10 map neighbours in its topic went 0.661 ->
# 0.636 (docs/BENCHMARKS.md). Smaller corpora keep umap-learn's defaults (and their outputs).
LARGE_FIT = 10_000
LARGE_FIT_EPOCHS = 100


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
    and the other texts are projected into them, which keeps the SVD's cost fixed. The fit
    sees at most LEXICAL_FIT_MAX texts (a seeded sample of `fit_rows` or of all); the others
    are projected in blocks of PROJECT_CHUNK (their sparse matrix is never held whole).
    """
    if len(texts) > LEXICAL_FIT_MAX and (fit_rows is None or len(fit_rows) > LEXICAL_FIT_MAX):
        pool = np.arange(len(texts)) if fit_rows is None else np.asarray(fit_rows)
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(pool, size=LEXICAL_FIT_MAX, replace=False))
    # One BLAS thread: the randomized SVD makes many small calls, and on 2 busy cores a second
    # thread's synchronisation made it 2-8x slower (461 papers: 16 s vs 2 s; docs/BENCHMARKS.md).
    with threadpool_limits(limits=1, user_api="blas"):
        if fit_rows is None:
            return _fit_tfidf(texts, dims, seed)[0]
        rest = np.setdiff1d(np.arange(len(texts)), fit_rows, assume_unique=True)
        fitted, project = _fit_tfidf([texts[i] for i in fit_rows], dims, seed)
        out = np.zeros((len(texts), fitted.shape[1]), np.float32)
        out[fit_rows] = fitted
        for start in range(0, len(rest), PROJECT_CHUNK):
            block = rest[start : start + PROJECT_CHUNK]
            out[block] = project([texts[i] for i in block])
        return out


# The TF-IDF vocabulary and SVD are fitted on at most this many texts (LSA of 10,000 abstracts
# names the same fields; the fit is the costly part of this stage).
LEXICAL_FIT_MAX = 10_000
PROJECT_CHUNK = 20_000


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

    fast = _Tfidf(vectorizer)

    def project(other: list[str]) -> np.ndarray:
        return normalize(svd.transform(fast.transform(other))).astype(np.float32)

    return normalize(lsa).astype(np.float32), project


class _Tfidf:
    """`vectorizer.transform` of a fitted word-n-gram (1, 2) TfidfVectorizer, with arrays.

    sklearn builds every n-gram as a string in Python; here each text is one regex scan, the
    words of a block of texts are hashed once (pandas.factorize), and bigrams are looked up as
    pairs of word ids. The same matrix (tests/test_lexical.py), ~N x faster on the projection of
    large corpora, which is linear in their size.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self.supported = (
            vectorizer.analyzer == "word"
            and vectorizer.ngram_range == (1, 2)
            and vectorizer.lowercase
            and vectorizer.strip_accents is None
            and vectorizer.preprocessor is None
            and vectorizer.tokenizer is None
        )
        if not self.supported:
            return
        words: dict[str, int] = {}
        uni: list[tuple[int, int]] = []
        bi: list[tuple[int, int, int]] = []
        for term, col in vectorizer.vocabulary_.items():
            parts = term.split(" ")
            ids = [words.setdefault(w, len(words)) for w in parts]
            if len(ids) == 1:
                uni.append((ids[0], col))
            else:
                bi.append((ids[0], ids[1], col))
        self.words, self.base = words, len(words) + 1
        self.uni_col = np.full(self.base, -1, np.int64)
        for w, col in uni:
            self.uni_col[w] = col
        pairs = np.array(bi, np.int64).reshape(-1, 3)
        keys = pairs[:, 0] * self.base + pairs[:, 1]
        order = np.argsort(keys)
        self.bi_keys, self.bi_cols = keys[order], pairs[order, 2]
        self.stop = frozenset(vectorizer.get_stop_words() or ())
        self.pattern = re.compile(vectorizer.token_pattern)

    def counts(self, texts: list[str]) -> sparse.csr_matrix:
        pieces: list[str] = []
        ends = np.zeros(len(texts), np.int64)
        for d, text in enumerate(texts):
            pieces.extend(self.pattern.findall(text.lower()))
            ends[d] = len(pieces)
        n_cols = len(self.vectorizer.vocabulary_)
        if not pieces:
            return sparse.csr_matrix((len(texts), n_cols), dtype=np.float64)
        codes, uniques = pd.factorize(np.array(pieces, dtype=object), sort=False)
        unique_ids = np.array(
            [-2 if w in self.stop else self.words.get(w, -1) for w in uniques.tolist()], np.int64
        )
        ids = unique_ids[codes]
        doc = np.repeat(np.arange(len(texts)), np.diff(ends, prepend=0))
        kept = ids != -2  # stop words are removed before n-grams are formed
        ids, doc = ids[kept], doc[kept]
        known = ids >= 0
        uni = np.where(known, self.uni_col[np.maximum(ids, 0)], -1)
        rows, cols = [doc[uni >= 0]], [uni[uni >= 0]]
        pair = (doc[:-1] == doc[1:]) & known[:-1] & known[1:]
        at = np.flatnonzero(pair)
        if len(at) and len(self.bi_keys):
            keys = ids[at] * self.base + ids[at + 1]
            pos = np.minimum(np.searchsorted(self.bi_keys, keys), len(self.bi_keys) - 1)
            hit = self.bi_keys[pos] == keys
            rows.append(doc[at[hit]])
            cols.append(self.bi_cols[pos[hit]])
        row, col = np.concatenate(rows), np.concatenate(cols)
        counts = sparse.csr_matrix(
            (np.ones(len(row), np.float64), (row, col)), shape=(len(texts), n_cols)
        )
        counts.sum_duplicates()
        counts.sort_indices()
        return counts

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        if not self.supported:
            return self.vectorizer.transform(texts)
        return self.vectorizer._tfidf.transform(self.counts(texts), copy=False)


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


def exact_knn(vectors: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine distances) of each row's k nearest rows, itself first; ties by index.

    Brute force in blocks of `chunk` rows (memory: chunk x n floats). Up to EXACT_KNN_MAX rows
    this beats pynndescent here: its numba code is compiled afresh in every process (50-110 s
    on 2 cores), while 20,000 x 20,000 cosine similarities take seconds; and the graph is exact.
    From SYMMETRIC_KNN_MIN rows each similarity is computed once for both of its rows (half
    the multiplications: the cost of this step at 20k papers).
    """
    unit = normalize(np.asarray(vectors, np.float32))
    n = len(unit)
    if n >= SYMMETRIC_KNN_MIN and k < chunk:
        return _symmetric_knn(unit, k, chunk)
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
    """The k-NN graph every UMAP fit of a run shares: exact up to EXACT_KNN_MAX rows.

    The last graph is kept with the array it was computed from, so the island layout reuses
    the one `reduce_vectors` computed for the same vectors (5 s at 20,000 papers)."""
    if _LAST_KNN and _LAST_KNN[0] is vectors and _LAST_KNN[1] == (n_neighbors, seed):
        return _LAST_KNN[2]
    if len(vectors) <= EXACT_KNN_MAX:
        graph = exact_knn(vectors, n_neighbors)
    else:
        from umap.umap_ import nearest_neighbors

        graph = nearest_neighbors(
            vectors, n_neighbors, "cosine", {}, False, np.random.RandomState(seed), low_memory=True
        )
    _LAST_KNN[:] = [vectors, (n_neighbors, seed), graph]
    return graph


_LAST_KNN: list[Any] = []


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

    tune = n > LARGE_FIT and getattr(make_umap, "tunable", False)

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
        xy = fit(2, map_min_dist, seed, init=start)
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
        if n > LARGE_FIT and getattr(make_umap, "tunable", False):
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
