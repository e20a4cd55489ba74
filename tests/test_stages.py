"""Fast unit tests of the pure stage functions on small synthetic data."""

import numpy as np

from taxonomy.cluster import (
    CONSENSUS_MAX_PAPERS,
    auto_min_size,
    cluster_vectors,
    combine_runs,
    consensus_runs,
    reassign_outliers,
)
from taxonomy.hierarchy import group_topics
from taxonomy.keyphrases import (
    class_tfidf,
    complete_phrase,
    count_phrases,
    phrases,
    surface_form,
)
from taxonomy.label import clashes, label_groups, names_nothing
from taxonomy.reduce import combine_vectors, reduce_vectors


def test_phrases_skip_stop_word_edges_but_keep_inner_of():
    got = phrases("We propose a mixture of experts for the KV cache.")
    assert "mixture of experts" in got
    assert "kv cache" in got
    assert not any(p.split()[0] in {"we", "the", "a"} or p.split()[-1] == "the" for p in got)


def test_hyphenated_and_spaced_forms_are_one_phrase():
    assert "fine tuning" in phrases("parameter-efficient fine-tuning")
    assert "fine tuning" in phrases("fine tuning")


def test_surface_form_keeps_authors_casing():
    texts = ["The KV cache grows.", "We compress the KV cache.", "kv cache eviction"]
    assert surface_form("kv cache", texts) == "KV cache"
    assert surface_form("lora", ["LoRA adapters", "Unlike LoRA, ..."]) == "LoRA"


def test_class_tfidf_prefers_terms_specific_to_a_group():
    texts = ["cat cat dog", "cat dog dog", "fish bird", "fish fish bird"] * 6
    counts, vocab = count_phrases(texts, max_ngram=1)
    groups = np.array([0, 0, 1, 1] * 6)
    scores = class_tfidf(counts, groups, 2)
    top = [vocab[np.argmax(row)] for row in scores]
    assert top == ["cat", "fish"] or top == ["dog", "fish"]


def blobs(n_per: int, centers: int, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centers, dim)) * 5
    x = np.vstack([m + rng.normal(size=(n_per, dim)) for m in means])
    return x.astype(np.float32), np.repeat(np.arange(centers), n_per)


def test_reassign_outliers_respects_budget():
    x, truth = blobs(20, 3)
    labels = truth.copy()
    labels[::4] = -1  # 25 % outliers
    out = reassign_outliers(x, labels, max_unassigned=0.05)
    assert (out < 0).mean() <= 0.05
    assert (out[labels >= 0] == labels[labels >= 0]).all()
    # Outliers go back to their own blob.
    assert ((out == truth) | (out < 0)).all()
    assert (reassign_outliers(x, labels, 0.0) >= 0).all()


def test_reassign_outliers_follows_the_clustered_space_when_given():
    # Two topics; the outlier's full vector is nearer topic 1's centroid, but in the space the
    # labels were clustered in it lies among topic 0's papers: it joins its neighbourhood.
    x = np.array([[1, 0]] * 10 + [[0, 1]] * 10 + [[0.4, 0.6]], dtype=np.float32)
    space = np.array([[0, 0]] * 10 + [[5, 5]] * 10 + [[0.1, 0]], dtype=np.float32)
    space = space + np.arange(len(space))[:, None] * 1e-3  # no exact distance ties
    labels = np.array([0] * 10 + [1] * 10 + [-1])
    assert reassign_outliers(x, labels, 0.0)[-1] == 1
    assert reassign_outliers(x, labels, 0.0, space)[-1] == 0
    # The budget still holds with the space.
    x2, truth = blobs(20, 3)
    held = truth.copy()
    held[::4] = -1
    out = reassign_outliers(x2, held, 0.05, x2)
    assert (out < 0).mean() <= 0.05
    assert ((out == truth) | (out < 0)).all()


def test_cluster_finds_blobs_and_is_deterministic():
    x, truth = blobs(40, 4)
    reduced = reduce_vectors(x, n_components=5, seed=1)
    a = cluster_vectors(reduced.cluster_space, x, min_size=8)
    b = cluster_vectors(reduce_vectors(x, n_components=5, seed=1).cluster_space, x, min_size=8)
    assert (a == b).all()
    # Leaf selection may split a blob, but never mixes two blobs in one topic.
    for t in set(a[a >= 0]):
        assert len(set(truth[a == t])) == 1
    assert set(truth[a >= 0]) == {0, 1, 2, 3}
    # Topic 0 is the largest.
    sizes = np.bincount(a[a >= 0])
    assert sizes[0] == sizes.max()


def test_combine_runs_keeps_pairs_grouped_in_most_runs():
    # Papers 0-3 are together in every run; 4-7 in two of three (run 3 splits them 4,5 | 6,7);
    # 8 is noise in two runs and sits with 0-3 in one: below half, so it leaves (group of 1).
    runs = [
        np.array([0, 0, 0, 0, 1, 1, 1, 1, -1]),
        np.array([5, 5, 5, 5, 2, 2, 2, 2, 5]),
        np.array([0, 0, 0, 0, 1, 1, 3, 3, -1]),
    ]
    out = combine_runs(runs, min_size=3)
    assert len(set(out[:4])) == 1 and len(set(out[4:8])) == 1
    assert out[0] != out[4] and out[0] >= 0 and out[4] >= 0
    assert out[8] == -1
    # Labels are only names: renaming a run's topics changes nothing.
    renamed = [runs[0], runs[1] + 10, runs[2]]
    assert (combine_runs(renamed, min_size=3) == out).all()


def test_consensus_runs_only_for_small_corpora():
    assert consensus_runs(461, "auto") == 5
    assert consensus_runs(461, 3) == 3
    assert consensus_runs(CONSENSUS_MAX_PAPERS + 1, "auto") == 1
    assert consensus_runs(CONSENSUS_MAX_PAPERS + 1, 7) == 1


def test_cluster_with_extra_spaces_votes_across_runs():
    x, truth = blobs(40, 4)
    reduced = reduce_vectors(x, n_components=5, seed=1, n_spaces=3)
    assert reduced.layout.shape == (160, 2) and reduced.extra_spaces.shape == (2, 160, 5)
    # the first extra space is the seed+1 fit on the same neighbour graph
    alone = reduce_vectors(x, n_components=5, seed=2)
    assert np.allclose(reduced.extra_spaces[0], alone.cluster_space)
    extra = list(reduced.extra_spaces)
    a = cluster_vectors(reduced.cluster_space, x, min_size=8, extra_spaces=extra)
    b = cluster_vectors(reduced.cluster_space, x, min_size=8, extra_spaces=extra)
    assert (a == b).all()
    for t in set(a[a >= 0]):
        assert len(set(truth[a == t])) == 1
    assert set(truth[a >= 0]) == {0, 1, 2, 3}


def test_tiny_corpus_is_one_topic():
    x, _ = blobs(3, 1)
    reduced = reduce_vectors(x, n_components=5)
    assert reduced.layout.shape == (3, 2)
    assert (cluster_vectors(reduced.cluster_space, x) == 0).all()


def test_auto_min_size_grows_slowly():
    assert auto_min_size(10) == 3
    # 0.085 * n^(2/3): 461 -> 5.07, 7_432 -> 32.3, 75_000 -> 151.0
    assert [auto_min_size(n) for n in (461, 7_432, 75_000)] == [5, 32, 151]
    assert auto_min_size(10**9) == 1000


def test_group_topics_joins_similar_topics():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 8))
    centroids = np.vstack([b + 0.05 * rng.normal(size=(4, 8)) for b in base])
    themes = group_topics(centroids, np.ones(12, int), n_themes=3)
    for j in range(3):
        assert len(set(themes[j * 4 : j * 4 + 4])) == 1
    assert len(set(themes)) == 3


def test_group_topics_picks_theme_count_from_papers_and_weights_by_size():
    # Four fields of 4 topics (25 % of the papers each: no theme is over the 25 % cap).
    rng = np.random.default_rng(1)
    base = rng.normal(size=(4, 8)) * 3
    centroids = np.vstack([b + 0.3 * rng.normal(size=(4, 8)) for b in base])
    topic_of = np.repeat(np.arange(16), 10)
    papers = centroids[topic_of] + 0.2 * rng.normal(size=(160, 8))
    themes = group_topics(centroids, np.full(16, 10), papers=papers, topic_of=topic_of)
    assert len(set(themes)) == 4
    for j in range(4):
        assert len(set(themes[j * 4 : j * 4 + 4])) == 1
    # Theme 0 is the one with most papers, whatever the number of topics in it.
    sizes = np.array([1] * 4 + [100] * 4 + [1] * 8)
    weighted = group_topics(centroids, sizes, n_themes=4)
    assert weighted[4] == 0


def test_combined_vectors_mix_cosines():
    rng = np.random.default_rng(0)
    e, t = rng.normal(size=(2, 5)), rng.normal(size=(2, 3))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    c = combine_vectors(e, t, 0.25)
    expected = 0.75 * e[0] @ e[1] + 0.25 * t[0] @ t[1]
    assert np.isclose(c[0] @ c[1], expected, atol=1e-5)


def test_labels_are_unique_and_descriptive():
    texts = (
        ["KV cache compression for long inputs."] * 5
        + ["We compress the KV cache by eviction."] * 5
        + ["Retrieval-augmented generation with a retriever."] * 5
        + ["Retrieval-augmented generation improves answers."] * 5
    )
    groups = np.array([0] * 10 + [1] * 10)
    counts, vocab = count_phrases(texts)
    x = np.eye(20, dtype=np.float32)
    out = label_groups(groups, 2, counts, vocab, texts, x, n_keywords=4, n_representatives=3)
    assert "kv cache" in out[0].label.lower()
    assert "retrieval" in out[1].label.lower()
    # Forcing the same candidates for both groups still yields distinct labels.
    same = label_groups(np.zeros(20, int), 1, counts, vocab, texts, x, taken={out[0].label.lower()})
    assert same[0].label.lower() != out[0].label.lower()
    assert len(out[0].representatives) == 3


def test_complete_phrase_extends_fragments_to_what_authors_write():
    texts = [
        "We study retrieval-augmented language models.",
        "Retrieval-augmented language models retrieve text.",
        "A retrieval augmented language model helps.",
        "in-context examples matter; choosing in-context examples is hard",
        "the KV cache grows; compress the KV cache; a KV cache eviction policy",
    ]
    # "model"/"models" count as one follower (3 of 3 occurrences); hyphenated "in-" is kept
    # although "in" is a stop word; a plain stop word ("the", 2 of 3) never is.
    assert complete_phrase("retrieval augmented language", texts) == (
        "retrieval augmented language models"
    )
    assert complete_phrase("context examples", texts) == "in context examples"
    assert surface_form("in context examples", texts) == "in-context examples"
    assert complete_phrase("kv cache", texts) == "kv cache"
    # A participle needs its noun: "generation" follows 2 of 4 uses (< 0.6, but >= 0.8 * 0.6),
    # and content words follow all 4.
    rag = ["retrieval-augmented generation"] * 2
    rag += ["retrieval augmented language", "retrieval augmented LMs"]
    assert complete_phrase("retrieval augmented", rag) == "retrieval augmented generation"
    # No dominant neighbour (2 different followers of 2 occurrences): unchanged.
    assert complete_phrase("neural", ["neural networks", "neural codecs"]) == "neural"


def test_label_prefers_phrases_most_group_papers_use():
    # "rare term" has the highest c-TF-IDF (30 uses) but only 2 of the group's 20 papers use
    # it (< MIN_GROUP_SHARE); "shared topic alpha" is in 18 of them.
    group = ["shared topic alpha"] * 18 + ["rare term. " * 30 + "shared topic"] * 2
    texts = group + ["background words beta"] * 100
    counts, vocab = count_phrases(texts, max_ngram=2)
    groups = np.array([0] * 20 + [1] * 100)
    vectors = np.eye(120, dtype=np.float32)
    labels = label_groups(groups, 2, counts, vocab, texts, vectors, n_keywords=3)
    assert [g.label for g in labels] == ["Shared topic alpha", "Background words beta"]


def test_possessives_and_contractions_in_phrases():
    got = phrases("God's love; I don't know that we can't say")
    assert "god" in got and "god love" in got
    assert not any("'" in p for p in got)


def test_labels_that_read_the_same_clash():
    taken = {"homosexual", "window", "god", "sentence embedding", "drive"}
    assert clashes("Homosexuality", taken) and clashes("Windows", taken)
    assert clashes("God's", taken) and clashes("Sentence embeddings", taken)
    assert not clashes("Hard drive", taken)  # a longer phrase says more than its head word
    assert not clashes("Code", {"codec"})  # short words: no prefix rule


def test_adjectives_and_modifier_phrases_are_not_labels_when_a_noun_is_there():
    assert names_nothing("comprehensive") and names_nothing("generative")
    assert names_nothing("high level") and names_nothing("graph based")
    assert not names_nothing("survey") and not names_nothing("retrieval")
    assert not names_nothing("domain specific") and not names_nothing("table")
    # Every paper says "comprehensive" (the group's top c-TF-IDF term); most say "ontology"
    # ("survey" would do too, but is a generic label now: tests/test_label.py).
    texts = [f"A comprehensive {w} ontology of topic {i}." for i, w in enumerate(["new"] * 8)]
    texts += ["A comprehensive study of methods."] * 2
    texts += [f"Unrelated background text number {i} about cats." for i in range(50)]
    counts, vocab = count_phrases(texts, max_ngram=1)
    groups = np.array([0] * 10 + [1] * 50)
    labels = label_groups(groups, 2, counts, vocab, texts, np.eye(60, dtype=np.float32))
    assert labels[0].label == "Ontology"
