"""Evaluation metrics on small hand-computed examples (NMI, ARI, purity, NPMI, diversity)."""

from __future__ import annotations

import math

import pytest

from taxonomy.evaluate.metrics import (
    ari,
    harmonic_purity,
    inverse_purity,
    nmi,
    npmi_coherence,
    purity,
    topic_diversity,
)


def test_purity_two_by_two_table():
    # true a a a b / pred x x y y. Contingency (rows = gold, cols = clusters):
    #        x  y
    #   a    2  1
    #   b    0  1
    # purity  = (max col x + max col y) / N = (2 + 1) / 4 = 0.75
    # inverse = (max row a + max row b) / N = (2 + 1) / 4 = 0.75
    true, pred = list("aaab"), list("xxyy")
    assert purity(true, pred) == pytest.approx(0.75)
    assert inverse_purity(true, pred) == pytest.approx(0.75)
    assert harmonic_purity(true, pred) == pytest.approx(0.75)


def test_purity_one_big_cluster():
    # true a a b b / pred x x x x: one column [2, 2].
    # purity = 2/4 = 0.5; inverse = (2 + 2)/4 = 1; harmonic = 2*0.5*1/1.5 = 2/3
    true, pred = list("aabb"), list("xxxx")
    assert purity(true, pred) == pytest.approx(0.5)
    assert inverse_purity(true, pred) == pytest.approx(1.0)
    assert harmonic_purity(true, pred) == pytest.approx(2 / 3)


def test_purity_singletons():
    # Every item its own cluster: each column holds one item -> purity 4/4 = 1; each gold
    # class (size 2) is split over 2 clusters, max per row is 1 -> inverse = (1 + 1)/4.
    true, pred = list("aabb"), list("wxyz")
    assert purity(true, pred) == pytest.approx(1.0)
    assert inverse_purity(true, pred) == pytest.approx(0.5)
    assert harmonic_purity(true, pred) == pytest.approx(2 / 3)


def test_nmi_hand_computed():
    # true a a b b / pred x x x y. p(a,x)=1/2, p(b,x)=1/4, p(b,y)=1/4; p(a)=p(b)=1/2,
    # p(x)=3/4, p(y)=1/4. MI = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2.
    # H(true) = ln 2, H(pred) = -(3/4 ln 3/4 + 1/4 ln 1/4); NMI = MI / mean(H(true), H(pred)).
    mi = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    h_true = math.log(2)
    h_pred = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    expected = mi / ((h_true + h_pred) / 2)
    assert nmi(list("aabb"), list("xxxy")) == pytest.approx(expected)


def test_ari_hand_computed():
    # true a a a b b b / pred x x y y z z. Cells: a:x2 y1, b:y1 z2.
    # sum C(n_ij,2) = 1 + 1 = 2; rows 3,3 -> 3 + 3 = 6; cols 2,2,2 -> 3; C(6,2) = 15.
    # expected = 6*3/15 = 1.2; max = (6 + 3)/2 = 4.5; ARI = (2 - 1.2)/(4.5 - 1.2) = 8/33.
    assert ari(list("aaabbb"), list("xxyyzz")) == pytest.approx(8 / 33)
    # true a a b b / pred x x x y: index 1 = expected (2*3/6 = 1) -> ARI 0.
    assert ari(list("aabb"), list("xxxy")) == pytest.approx(0.0)


@pytest.mark.parametrize("metric", [nmi, ari, purity, inverse_purity, harmonic_purity])
def test_perfect_clustering_scores_one(metric):
    true = list("aaabbbcc")
    assert metric(true, true) == pytest.approx(1.0)
    # Renaming the clusters changes nothing.
    assert metric(true, [{"a": 7, "b": 3, "c": 5}[t] for t in true]) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", [nmi, ari, purity, inverse_purity, harmonic_purity])
def test_invariant_to_label_renaming(metric):
    true, pred = list("aaabbbccd"), list("xxyyyzzzz")
    renamed_true = [{"a": "q", "b": "r", "c": "s", "d": "t"}[t] for t in true]
    renamed_pred = [{"x": 2, "y": 0, "z": 1}[p] for p in pred]
    assert metric(renamed_true, renamed_pred) == pytest.approx(metric(true, pred))


def test_constant_and_independent_clusterings():
    true = list("aabb")
    assert nmi(true, list("xxxx")) == pytest.approx(0.0)
    assert ari(true, list("xxxx")) == pytest.approx(0.0)
    # x y x y is independent of a a b b: MI = 0 -> NMI 0; ARI (0 - 2/3)/(2 - 2/3) = -0.5.
    assert nmi(true, list("xyxy")) == pytest.approx(0.0)
    assert ari(true, list("xyxy")) == pytest.approx(-0.5)


def test_metric_input_errors():
    with pytest.raises(ValueError):
        purity(["a"], ["x", "y"])
    with pytest.raises(ValueError):
        nmi([], [])


def test_npmi_hand_examples():
    docs = [{"a", "b"}, {"a", "b"}, {"c"}, {"d"}]
    # a, b: p(a) = p(b) = p(a,b) = 1/2 -> log(0.5/0.25) / -log(0.5) = 1.
    assert npmi_coherence([["a", "b"]], docs) == [pytest.approx(1.0)]
    # a, c never co-occur -> -1.
    assert npmi_coherence([["a", "c"]], docs) == [pytest.approx(-1.0)]
    # Pairs (a,b)=1, (a,c)=-1, (b,c)=-1 -> mean -1/3.
    assert npmi_coherence([["a", "b", "c"]], docs) == [pytest.approx(-1 / 3)]
    # Independent: p(a) = p(b) = 1/2, p(a,b) = 1/4 -> log(1) = 0.
    independent = [{"a", "b"}, {"a"}, {"b"}, {"c"}]
    assert npmi_coherence([["a", "b"]], independent) == [pytest.approx(0.0)]


def test_npmi_top_n_tokenized_docs_and_ngrams():
    docs = [["kv", "cache", "memory"], ["kv", "cache", "memory"], ["other"]]
    # top_n=2 keeps only the first two words, which always co-occur.
    assert npmi_coherence([["kv", "cache", "other"]], docs, top_n=2) == [pytest.approx(1.0)]
    # "kv cache" is present where both words are, so it always co-occurs with "memory".
    assert npmi_coherence([["kv cache", "memory"]], docs) == [pytest.approx(1.0)]
    assert math.isnan(npmi_coherence([["kv"]], docs)[0])


def test_topic_diversity():
    # top 3 of two topics: a b c / a d e -> 5 unique of 6.
    assert topic_diversity([["a", "b", "c"], ["a", "d", "e"]], top_n=3) == pytest.approx(5 / 6)
    assert topic_diversity([["a", "b", "x"], ["c", "d", "x"]], top_n=2) == pytest.approx(1.0)
    assert topic_diversity([["a", "b"], ["A", "b"]]) == pytest.approx(0.5)
