"""Clustering and topic-quality metrics, as plain functions over label sequences.

Supervised (gold labels `true` vs. a clustering `pred`, any hashable values, same length):
NMI and ARI (scikit-learn), purity, inverse purity and their harmonic mean as TopicGPT
reports them. Unsupervised: NPMI coherence of each topic's top words over a reference corpus
(document co-occurrence) and topic diversity.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def _check(true: Sequence[Hashable], pred: Sequence[Hashable]) -> None:
    if len(true) != len(pred):
        raise ValueError(f"true and pred differ in length ({len(true)} != {len(pred)})")
    if len(true) == 0:
        raise ValueError("cannot score an empty clustering")


def _contingency(true: Sequence[Hashable], pred: Sequence[Hashable]) -> np.ndarray:
    """Counts with one row per gold class and one column per predicted cluster."""
    _check(true, pred)
    classes = {c: i for i, c in enumerate(dict.fromkeys(true))}
    clusters = {k: j for j, k in enumerate(dict.fromkeys(pred))}
    table = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    for c, k in zip(true, pred, strict=True):
        table[classes[c], clusters[k]] += 1
    return table


def _codes(values: Sequence[Hashable]) -> list[int]:
    index: dict[Hashable, int] = {}
    return [index.setdefault(v, len(index)) for v in values]


def nmi(true: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Normalized mutual information, arithmetic-mean normalisation (scikit-learn default)."""
    _check(true, pred)
    score = normalized_mutual_info_score(_codes(true), _codes(pred), average_method="arithmetic")
    return float(score)


def ari(true: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Adjusted Rand index (0 for chance agreement, 1 for identical partitions)."""
    _check(true, pred)
    return float(adjusted_rand_score(_codes(true), _codes(pred)))


def purity(true: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Share of items whose cluster's majority gold class is their own class.

    purity = 1/N * sum over clusters k of max over classes c of |k ∩ c|.
    """
    table = _contingency(true, pred)
    return float(table.max(axis=0).sum() / table.sum())


def inverse_purity(true: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Purity with the roles swapped: how well each gold class stays in one cluster.

    inverse purity = 1/N * sum over classes c of max over clusters k of |c ∩ k|.
    """
    table = _contingency(true, pred)
    return float(table.max(axis=1).sum() / table.sum())


def harmonic_purity(true: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Harmonic mean of purity and inverse purity (TopicGPT's "harmonic purity")."""
    p, ip = purity(true, pred), inverse_purity(true, pred)
    return 0.0 if p + ip == 0 else 2 * p * ip / (p + ip)


def _doc_sets(documents: Iterable[Iterable[str]]) -> list[set[str]]:
    return [d if isinstance(d, set) else set(d) for d in documents]


def npmi_coherence(
    top_words: Sequence[Sequence[str]],
    documents: Iterable[Iterable[str]],
    top_n: int = 10,
) -> list[float]:
    """Mean NPMI over all pairs of each topic's first `top_n` words (nan: fewer than 2 words).

    Probabilities are document frequencies over `documents` (each a set or list of tokens):
    p(w) = D(w)/N, p(a, b) = D(a, b)/N, NPMI = log(p(a,b) / (p(a) p(b))) / -log p(a,b).
    A pair that never co-occurs scores -1; a pair present in every document scores 1.
    A multi-word entry ("mixture of experts", split on whitespace) occurs in a document when
    all of its words do.
    """
    docs = _doc_sets(documents)
    n_docs = len(docs)
    if n_docs == 0:
        raise ValueError("NPMI needs at least one reference document")
    # One bitmask per word: bit i is set when document i contains the word.
    masks: dict[str, int] = {}
    for i, doc in enumerate(docs):
        bit = 1 << i
        for word in doc:
            masks[word] = masks.get(word, 0) | bit
    all_docs = (1 << n_docs) - 1

    def mask(entry: str) -> int:
        m = all_docs
        for word in entry.split():
            m &= masks.get(word, 0)
        return m if entry.split() else 0

    scores: list[float] = []
    for words in top_words:
        entries = list(dict.fromkeys(words))[:top_n]
        entry_masks = [mask(e) for e in entries]
        pair_scores = [
            _npmi(a, b, n_docs) for i, a in enumerate(entry_masks) for b in entry_masks[i + 1 :]
        ]
        scores.append(float(np.mean(pair_scores)) if pair_scores else math.nan)
    return scores


def _npmi(a: int, b: int, n_docs: int) -> float:
    joint = (a & b).bit_count()
    if joint == 0:
        return -1.0
    if joint == n_docs:
        return 1.0
    p_ab = joint / n_docs
    p_a, p_b = a.bit_count() / n_docs, b.bit_count() / n_docs
    return math.log(p_ab / (p_a * p_b)) / -math.log(p_ab)


def topic_diversity(top_words: Sequence[Sequence[str]], top_n: int = 10) -> float:
    """Share of unique entries among all topics' first `top_n` words (1.0: no overlap).

    Entries are compared as given (lower-cased, whitespace-collapsed), so a multi-word key
    phrase counts as one entry.
    """
    tops = [[" ".join(w.lower().split()) for w in words[:top_n]] for words in top_words]
    total = sum(len(t) for t in tops)
    if total == 0:
        raise ValueError("topic diversity needs at least one top word")
    return len({w for t in tops for w in t}) / total
