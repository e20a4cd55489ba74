"""Themes refined on the papers and topics nested in them (taxonomy/nesting.py)."""

from __future__ import annotations

import numpy as np

from taxonomy import nesting


def two_fields() -> tuple[np.ndarray, np.ndarray]:
    """Papers of two fields; topic 0 holds 20 papers of field A and 12 of field B."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=16) * 3, rng.normal(size=16) * 3
    vectors = np.vstack([a + 0.2 * rng.normal(size=(40, 16)), b + 0.2 * rng.normal(size=(40, 16))])
    return vectors, np.array([0] * 20 + [1] * 20 + [0] * 12 + [2] * 28)


def test_a_topic_straddling_two_themes_is_split_between_them():
    # Two fields; topic 0 holds 20 papers of field A and 12 of field B.
    vectors, topic_of = two_fields()
    paper_theme = nesting.refine_themes(vectors, topic_of, np.array([0, 0, 1]))
    assert list(paper_theme) == [0] * 40 + [1] * 40
    nested, owner = nesting.nest_topics(vectors, topic_of, paper_theme, min_size=10)
    assert list(owner) == [0, 0, 1, 1]  # the 12 papers of field B became topic 3 under theme 1
    assert list(nested[40:52]) == [3] * 12 and list(nested[:40]) == list(topic_of[:40])
    # Fewer than min_size: they join the most similar topic of their own theme instead.
    nested, owner = nesting.nest_topics(vectors, topic_of, paper_theme, min_size=20)
    assert list(owner) == [0, 0, 1] and set(nested[40:52]) == {2}
    # A seed theme's topic is kept whole.
    nested, _ = nesting.nest_topics(vectors, topic_of, paper_theme, 10, fixed=frozenset({0}))
    assert np.array_equal(nested, topic_of)


def test_refinement_keeps_the_grouping_when_a_theme_has_no_papers():
    vectors = np.random.default_rng(0).normal(size=(12, 4))
    topic_of = np.repeat([0, 1, 2], 4)
    themes = nesting.refine_themes(vectors, topic_of, np.array([0, 0, 1, 2]))  # 3: empty
    assert list(themes) == [0] * 8 + [1] * 4


def test_a_sample_refines_and_nests_like_the_whole_on_separate_fields():
    # The same two fields as above; the refinement fitted on every other paper.
    vectors, topic_of = two_fields()
    sample = np.arange(0, 80, 2)
    paper_theme = nesting.refine_themes(vectors, topic_of, np.array([0, 0, 1]), sample)
    assert list(paper_theme) == [0] * 40 + [1] * 40
    # strays inside the sample vote with sampled neighbours, the others take the centroid rule
    nested, owner = nesting.nest_topics(vectors, topic_of, paper_theme, 20, sample=sample)
    assert list(owner) == [0, 0, 1] and set(nested[40:52]) == {2}
    whole, _ = nesting.nest_topics(vectors, topic_of, paper_theme, 20)
    assert np.array_equal(nested, whole)
    # every stray outside the sample: all take the centroid rule
    outside = np.setdiff1d(np.arange(80), np.arange(40, 52))
    nested, _ = nesting.nest_topics(vectors, topic_of, paper_theme, 20, sample=outside)
    assert np.array_equal(nested, whole)


def test_the_reduce_stages_graph_votes_as_a_search_of_its_own():
    from taxonomy.reduce import exact_knn

    vectors, topic_of = two_fields()
    paper_theme = nesting.refine_themes(vectors, topic_of, np.array([0, 0, 1]))
    searched, _ = nesting.nest_topics(vectors, topic_of, paper_theme, 20)
    graph = exact_knn(vectors, nesting.NEIGHBOURS + 1)[0]
    given, _ = nesting.nest_topics(vectors, topic_of, paper_theme, 20, neighbours=graph)
    assert np.array_equal(given, searched)
    narrow = exact_knn(vectors, 5)[0]  # too narrow for the vote: searched again
    assert np.array_equal(
        nesting.nest_topics(vectors, topic_of, paper_theme, 20, neighbours=narrow)[0], searched
    )
