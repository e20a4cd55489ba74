"""`keyphrases.count_phrases` (arrays) gives exactly the CountVectorizer matrix it replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxonomy import keyphrases
from taxonomy.ingest import read_corpus

SEEDS = Path(__file__).resolve().parents[1] / "data/seeds"
WORDS = [
    "of",
    "the",
    "mixture",
    "experts",
    "kv",
    "cache",
    "god's",
    "don't",
    "3.5",
    "gpt-4",
    "(",
    ")",
    ",",
    "a",
    "x1",
    "2b",
    "fine-tuning",
    "lora",
    "and",
    "model",
    "10%",
    "i.e.",
]


def same(texts: list[str], max_ngram: int) -> None:
    counts, vocab = keyphrases.count_phrases(texts, max_ngram)
    ref_counts, ref_vocab = keyphrases._count_phrases_reference(texts, max_ngram)
    assert list(vocab) == list(ref_vocab)
    assert counts.shape == ref_counts.shape and counts.dtype == ref_counts.dtype
    assert (counts != ref_counts).nnz == 0


@pytest.mark.parametrize("max_ngram", [1, 2, 3, 4])
def test_same_as_count_vectorizer_on_the_seeds(max_ngram):
    same(read_corpus([SEEDS]).texts, max_ngram)


def test_vocabulary_cap_keeps_countvectorizer_ties(monkeypatch):
    monkeypatch.setattr(keyphrases, "MAX_VOCABULARY", 500)
    same(read_corpus([SEEDS]).texts, 3)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join), max_size=30))
def test_same_as_count_vectorizer_on_random_texts(texts):
    same(texts, 3)


def test_no_phrase_at_all():
    counts, vocab = keyphrases.count_phrases(["the of and", "", "3.5 , ."] * 10)
    assert counts.shape == (30, 0) and len(vocab) == 0 and isinstance(vocab, np.ndarray)
