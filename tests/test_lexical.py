"""The lexical stage's array-based TF-IDF projection equals sklearn's `transform`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from taxonomy import lexical
from taxonomy.ingest import read_corpus

SEEDS = Path(__file__).resolve().parents[1] / "data/seeds"
WORDS = [
    "the",
    "of",
    "kv",
    "cache",
    "Cache",
    "fine-tuning",
    "LoRA",
    "x1",
    "2b",
    "3.5",
    "and",
    "model",
    "models",
    "é",
    "naïve",
    "a-b",
    "_x",
    ",",
    "retrieval",
    "augmented",
    "it's",
]


def same(fit_texts: list[str], other: list[str]) -> None:
    vec = TfidfVectorizer(
        stop_words="english",
        sublinear_tf=True,
        min_df=2 if len(fit_texts) >= 50 else 1,
        max_df=0.5 if len(fit_texts) >= 10 else 1.0,
        ngram_range=(1, 2),
        max_features=50_000,
        token_pattern=r"(?u)\b[a-zA-Z][\w\-]+\b",
    )
    try:
        vec.fit(fit_texts)
    except ValueError:
        return
    fast = lexical._Tfidf(vec)
    assert fast.supported
    want = vec.transform(other)
    got = fast.transform(other)
    assert got.shape == want.shape
    assert np.allclose(got.toarray(), want.toarray(), rtol=0, atol=1e-12)


def test_projection_equals_sklearn_on_the_seeds():
    texts = read_corpus([SEEDS]).texts
    same(texts[:300], texts[300:])
    same(texts[::2], texts)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), max_size=20).map(" ".join), min_size=1, max_size=30),
    st.lists(st.lists(st.sampled_from(WORDS), max_size=20).map(" ".join), min_size=1, max_size=10),
)
def test_projection_equals_sklearn_on_random_texts(fit_texts, other):
    same(fit_texts, other)


def test_large_corpus_fits_a_sample_and_projects_the_rest(monkeypatch):
    texts = read_corpus([SEEDS]).texts
    monkeypatch.setattr(lexical, "LEXICAL_FIT_MAX", 200)
    monkeypatch.setattr(lexical, "PROJECT_CHUNK", 64)
    out = lexical.tfidf_vectors(texts, 16, 0)
    assert out.shape == (len(texts), 16)
    assert np.allclose(np.linalg.norm(out, axis=1)[np.abs(out).sum(axis=1) > 0], 1, atol=1e-5)


def vectorizer(n: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        stop_words="english",
        sublinear_tf=True,
        min_df=2 if n >= 50 else 1,
        max_df=0.5 if n >= 10 else 1.0,
        ngram_range=(1, 2),
        max_features=50_000,
        token_pattern=r"(?u)\b[a-zA-Z][\w\-]+\b",
    )


def same_fit(texts: list[str], max_features: int | None = 50_000) -> None:
    """The array fit gives sklearn's vocabulary and matrix, entry by entry in the same order
    (the SVD's float sums follow it), or the same error."""
    want_vec, got_vec = vectorizer(len(texts)), vectorizer(len(texts))
    want_vec.max_features = got_vec.max_features = max_features
    try:
        want = want_vec.fit_transform(texts)
    except ValueError as err:
        try:
            lexical._fit_transform(got_vec, texts)
        except ValueError as got_err:
            assert str(got_err) == str(err)
            return
        raise AssertionError(f"no error; sklearn: {err}") from None
    got = lexical._fit_transform(got_vec, texts)
    assert got_vec.vocabulary_ == want_vec.vocabulary_
    assert np.array_equal(got.indptr, want.indptr)
    assert np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    assert np.array_equal(got_vec.idf_, want_vec.idf_)
    assert np.array_equal(
        got_vec.transform(texts[:5]).toarray(), want_vec.transform(texts[:5]).toarray()
    )


def test_fit_equals_sklearn_on_the_seeds():
    texts = read_corpus([SEEDS]).texts
    same_fit(texts)
    same_fit(texts[:120], max_features=2_000)  # the most frequent terms, with sklearn's ties


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), max_size=20).map(" ".join), min_size=1, max_size=60),
    st.sampled_from([None, 3, 50_000]),
)
def test_fit_equals_sklearn_on_random_texts(texts, max_features):
    same_fit(texts, max_features)


def test_lsa_vectors_are_those_of_sklearns_counting(monkeypatch):
    texts = read_corpus([SEEDS]).texts
    fast = lexical.tfidf_vectors(texts, 32, 0)
    monkeypatch.setattr(lexical, "_supported", lambda vectorizer: False)
    assert np.array_equal(fast, lexical.tfidf_vectors(texts, 32, 0))
