"""Lexical vectors: TF-IDF of word uni- and bigrams reduced by SVD (LSA) to a few hundred
dimensions, which keep the rare field terms ("LoRA", "KV cache") a sentence model blurs. The
embed stage appends them to the sentence embeddings (reduce.combine_vectors).

The counting is sklearn's TfidfVectorizer done with arrays (`_Tfidf` for a fitted vocabulary,
`_fit_counts` for fitting one): the same matrices, element for element and in the same order
(tests/test_lexical.py), several times faster on large corpora.
"""

from __future__ import annotations

import re
from numbers import Integral
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits


def tfidf_vectors(
    texts: list[str], dims: int, seed: int, fit_rows: np.ndarray | None = None
) -> np.ndarray:
    """Unit-length TF-IDF/SVD (LSA) vectors of all `texts`: `fit_lsa`, then the texts it did
    not fit projected into its space."""
    return lsa_array(texts, fit_lsa(texts, dims, seed, fit_rows))


def lsa_array(texts: list[str], fit: LsaFit, skip: np.ndarray | None = None) -> np.ndarray:
    """Every text's LSA vector from `fit`: the fitted texts' own, the others projected; the
    rows in `skip` are left 0 (the caller projects them elsewhere)."""
    if fit.rows is None:
        return fit.vectors
    out = np.zeros((len(texts), fit.vectors.shape[1]), np.float32)
    out[fit.rows] = fit.vectors
    rest = unfitted_rows(len(texts), fit.rows)
    if skip is not None:
        rest = np.setdiff1d(rest, skip, assume_unique=True)
    project_rows(fit.projection, texts, rest, out)
    return out


def project_rows(
    projection: Projection, texts: list[str], rows: np.ndarray, out: np.ndarray
) -> None:
    """out[rows] = the projection of those texts, PROJECT_CHUNK at a time (1M papers: their
    vectors are never held twice)."""
    for start in range(0, len(rows), PROJECT_CHUNK):
        block = rows[start : start + PROJECT_CHUNK]
        out[block] = projection([texts[i] for i in block])


class LsaFit(NamedTuple):
    rows: np.ndarray | None  # the texts fitted (sorted), None: all of them
    vectors: np.ndarray  # their unit-length LSA vectors, in that order
    projection: Projection  # other texts into the same space


def fit_lsa(texts: list[str], dims: int, seed: int, fit_rows: np.ndarray | None = None) -> LsaFit:
    """The TF-IDF vocabulary and SVD fitted on `fit_rows` (all texts when None), which keeps
    the rare field terms a sentence model blurs; large corpora fit a sample so the SVD's cost
    is fixed. The fit sees at most LEXICAL_FIT_MAX texts (a seeded sample of `fit_rows` or of
    all)."""
    if len(texts) > LEXICAL_FIT_MAX and (fit_rows is None or len(fit_rows) > LEXICAL_FIT_MAX):
        pool = np.arange(len(texts)) if fit_rows is None else np.asarray(fit_rows)
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(pool, size=LEXICAL_FIT_MAX, replace=False))
    fitted = texts if fit_rows is None else [texts[i] for i in fit_rows]
    # One BLAS thread: the randomized SVD makes many small calls, and on 2 busy cores a second
    # thread's synchronisation made it 2-8x slower (461 papers: 16 s vs 2 s; docs/BENCHMARKS.md).
    with threadpool_limits(limits=1, user_api="blas"):
        vectors, projection = _fit_tfidf(fitted, dims, seed)
    return LsaFit(fit_rows, vectors, projection)


def unfitted_rows(n: int, fit_rows: np.ndarray) -> np.ndarray:
    return np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)


# The TF-IDF vocabulary and SVD are fitted on at most this many texts (LSA of 10,000 abstracts
# names the same fields; the fit is the costly part of this stage).
LEXICAL_FIT_MAX = 10_000
PROJECT_CHUNK = 20_000


class Projection:
    """Texts -> unit-length vectors in a fitted LSA space, in blocks of PROJECT_CHUNK texts
    (their sparse matrix is never held whole). Picklable, so the background process can
    project while the main one fits."""

    def __init__(self, vectorizer: TfidfVectorizer | None, svd: TruncatedSVD | None) -> None:
        self.svd = svd  # None: no usable term, every text projects to 0
        self.tfidf = _Tfidf(vectorizer) if vectorizer is not None else None

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.svd is None or self.tfidf is None:
            return np.zeros((len(texts), 1), np.float32)
        out = np.empty((len(texts), self.svd.n_components), np.float32)
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(texts), PROJECT_CHUNK):
                block = self.tfidf.transform(texts[start : start + PROJECT_CHUNK])
                block = block.astype(self.svd.components_.dtype, copy=False)  # as fitted
                out[start : start + PROJECT_CHUNK] = normalize(self.svd.transform(block))
        return out


def _fit_tfidf(texts: list[str], dims: int, seed: int) -> tuple[np.ndarray, Projection]:
    """(LSA vectors of `texts`, the projection of other texts into the same space)."""
    n = len(texts)
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
        tfidf = _fit_transform(vectorizer, texts)
    except ValueError:  # no usable term at all (stop words only, non-Latin script)
        return np.zeros((n, 1), np.float32), Projection(None, None)
    k = min(dims, tfidf.shape[1] - 1, n - 1)
    if k < 1:
        return np.zeros((n, 1), np.float32), Projection(None, None)
    svd = TruncatedSVD(n_components=k, random_state=seed, algorithm="randomized")
    # From FLOAT32_MIN texts the SVD runs in float32: half the time (10,000 abstracts: 3.3 ->
    # 1.6 s) for the same space (the papers' 15 nearest neighbours in it are float64's, 3,000
    # checked). Smaller fits take a fraction of a second either way and stay in float64: the
    # few last bits that differ move a small corpus's topics (seeds: topic NMI 0.672 -> 0.660).
    if n >= FLOAT32_MIN:
        tfidf = tfidf.astype(np.float32)
    lsa = svd.fit_transform(tfidf)
    return normalize(lsa).astype(np.float32), Projection(vectorizer, svd)


FLOAT32_MIN = 5_000


class _Tfidf:
    """`vectorizer.transform` of a fitted word-n-gram (1, 2) TfidfVectorizer, with arrays.

    sklearn builds every n-gram as a string in Python; here each text is one regex scan, the
    words of a block of texts are hashed once (pandas.factorize), and bigrams are looked up as
    pairs of word ids. The same matrix (tests/test_lexical.py), ~N x faster on the projection of
    large corpora, which is linear in their size.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self.supported = _supported(vectorizer)
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
        n_cols = len(self.vectorizer.vocabulary_)
        words = _Words(texts, self.pattern, self.stop)
        if not len(words.ids):
            return sparse.csr_matrix((len(texts), n_cols), dtype=np.float64)
        ids = np.array([self.words.get(w, -1) for w in words.uniques], np.int64)[words.ids]
        doc = words.doc
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


def _supported(vectorizer: TfidfVectorizer) -> bool:
    """Whether the array counting here equals the vectorizer's own: lower-cased word uni- and
    bigrams of its token pattern, stop words removed before the bigrams are formed."""
    return (
        vectorizer.analyzer == "word"
        and vectorizer.ngram_range == (1, 2)
        and vectorizer.lowercase
        and vectorizer.strip_accents is None
        and vectorizer.preprocessor is None
        and vectorizer.tokenizer is None
        and not vectorizer.binary
        and vectorizer.vocabulary is None
    )


class _Words:
    """The texts' tokens, stop words removed: `ids` (into `uniques`, each distinct token once,
    in order of first use) and `doc` (the text of each), in reading order."""

    def __init__(self, texts: list[str], pattern: re.Pattern[str], stop: frozenset[str]) -> None:
        pieces: list[str] = []
        ends = np.zeros(len(texts), np.int64)
        for d, text in enumerate(texts):
            pieces.extend(pattern.findall(text.lower()))
            ends[d] = len(pieces)
        doc = np.repeat(np.arange(len(texts)), np.diff(ends, prepend=0))
        if not pieces:
            self.uniques: list[str] = []
            self.ids, self.doc = np.zeros(0, np.int64), doc
            return
        codes, uniques = pd.factorize(np.array(pieces, dtype=object), sort=False)
        self.uniques = uniques.tolist()
        kept = ~np.array([w in stop for w in self.uniques], bool)[codes]
        self.ids, self.doc = codes[kept].astype(np.int64), doc[kept]


def _fit_transform(vectorizer: TfidfVectorizer, texts: list[str]) -> sparse.csr_matrix:
    """`vectorizer.fit_transform(texts)`, counting with arrays where `_supported`."""
    if not _supported(vectorizer):
        return vectorizer.fit_transform(texts)
    counts, vocabulary = _fit_counts(vectorizer, texts)
    vectorizer.vocabulary_, vectorizer.fixed_vocabulary_ = vocabulary, False
    vectorizer._tfidf = TfidfTransformer(
        norm=vectorizer.norm,
        use_idf=vectorizer.use_idf,
        smooth_idf=vectorizer.smooth_idf,
        sublinear_tf=vectorizer.sublinear_tf,
    )
    vectorizer._tfidf.fit(counts)
    return vectorizer._tfidf.transform(counts, copy=False)


def _fit_counts(
    vectorizer: TfidfVectorizer, texts: list[str]
) -> tuple[sparse.csr_matrix, dict[str, int]]:
    """CountVectorizer.fit_transform with arrays: (counts, vocabulary) equal to sklearn's,
    each row's entries in sklearn's order (its terms' first use in the corpus), which the
    SVD's float sums follow. Raises sklearn's ValueErrors for an empty vocabulary."""
    stop = frozenset(vectorizer.get_stop_words() or ())
    words = _Words(texts, re.compile(vectorizer.token_pattern), stop)
    ids, doc, n_words = words.ids, words.doc, len(words.uniques)
    # Terms in the analyzer's order: per text its unigrams, then its bigrams.
    at = np.flatnonzero(doc[:-1] == doc[1:])
    keys = np.concatenate([ids, n_words + ids[at] * n_words + ids[at + 1]])
    docs = np.concatenate([doc, doc[at]])
    order = np.argsort(docs * 2 + (np.arange(len(keys)) >= len(ids)), kind="stable")
    keys, docs = keys[order], docs[order]
    if not len(keys):
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    terms, first, term_of = np.unique(keys, return_index=True, return_inverse=True)
    n_terms = len(terms)
    cells, cell_counts = np.unique(docs * n_terms + term_of, return_counts=True)
    cell_doc, cell_term = cells // n_terms, cells % n_terms
    kept = _kept_terms(vectorizer, terms, words.uniques, cell_term, term_of, len(texts))
    column = np.full(n_terms, -1, np.int64)
    column[kept] = np.arange(len(kept))
    keep = column[cell_term] >= 0
    cell_doc, cell_term, cell_counts = cell_doc[keep], cell_term[keep], cell_counts[keep]
    rank = np.empty(n_terms, np.int64)
    rank[np.argsort(first)] = np.arange(n_terms)
    row_order = np.lexsort((rank[cell_term], cell_doc))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(cell_doc, minlength=len(texts)))])
    counts = sparse.csr_matrix(
        (
            cell_counts[row_order].astype(np.float64),
            column[cell_term[row_order]].astype(np.int32),
            indptr.astype(np.int32),
        ),
        shape=(len(texts), len(kept)),
    )
    vocabulary = {_term(int(t), words.uniques): i for i, t in enumerate(terms[kept].tolist())}
    return counts, vocabulary


def _term(key: int, uniques: list[str]) -> str:
    n_words = len(uniques)
    if key < n_words:
        return uniques[key]
    first, second = divmod(key - n_words, n_words)
    return f"{uniques[first]} {uniques[second]}"


def _kept_terms(
    vectorizer: TfidfVectorizer,
    terms: np.ndarray,
    uniques: list[str],
    cell_term: np.ndarray,
    term_of: np.ndarray,
    n_doc: int,
) -> np.ndarray:
    """Indices into `terms` of the vocabulary, in its (alphabetical) order: sklearn's
    document-frequency bounds, then its `max_features` most frequent (its very tie order)."""
    max_df, min_df, limit = vectorizer.max_df, vectorizer.min_df, vectorizer.max_features
    high = max_df if isinstance(max_df, Integral) else max_df * n_doc
    low = min_df if isinstance(min_df, Integral) else min_df * n_doc
    if high < low:
        raise ValueError("max_df corresponds to < documents than min_df")
    df = np.bincount(cell_term, minlength=len(terms))
    candidates = np.flatnonzero((df <= high) & (df >= low))
    names = np.array([_term(int(t), uniques) for t in terms[candidates].tolist()], dtype=object)
    candidates = candidates[np.argsort(names, kind="stable")]
    if limit is not None and len(candidates) > limit:
        frequency = np.bincount(term_of, minlength=len(terms)).astype(np.float64)
        candidates = candidates[np.sort((-frequency[candidates]).argsort()[:limit])]
    if not len(candidates):
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    return candidates
