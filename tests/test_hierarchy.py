"""Theme level: spectral clustering of the topics' neighbour graph (taxonomy/hierarchy.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from taxonomy import hierarchy
from taxonomy.hierarchy import fit_themes, group_topics, modularity, split_topics


def _corpus(n_fields: int, topics_per_field: int, papers: int, seed: int = 0, spread=0.3):
    """Papers in `n_fields` well-separated fields of `topics_per_field` topics each."""
    rng = np.random.default_rng(seed)
    fields = rng.normal(size=(n_fields, 16)) * 3
    centroids = np.vstack([f + spread * rng.normal(size=(topics_per_field, 16)) for f in fields])
    topic_of = np.repeat(np.arange(len(centroids)), papers)
    vectors = centroids[topic_of] + 0.2 * rng.normal(size=(len(topic_of), 16))
    return centroids, topic_of, vectors.astype(np.float32)


def _same_field(themes: np.ndarray, n_fields: int, per_field: int) -> bool:
    return all(len(set(themes[f * per_field : (f + 1) * per_field])) == 1 for f in range(n_fields))


def test_count_is_chosen_from_the_data():
    for n_fields in (4, 5):
        centroids, topic_of, vectors = _corpus(n_fields, 4, 10, seed=n_fields)
        sizes = np.bincount(topic_of)
        themes = group_topics(centroids, sizes, papers=vectors, topic_of=topic_of, seed=1)
        assert len(set(themes)) == n_fields
        assert _same_field(themes, n_fields, 4)


def test_same_themes_whatever_the_seed():
    centroids, topic_of, vectors = _corpus(4, 5, 8, seed=3)
    sizes = np.bincount(topic_of)
    runs = [
        group_topics(centroids, sizes, papers=vectors, topic_of=topic_of, seed=s)
        for s in (42, 7, 123)
    ]
    assert all(np.array_equal(runs[0], r) for r in runs[1:])


def test_a_lopsided_theme_is_split(monkeypatch):
    # One field of 12 topics (60 % of the papers) and four of 2 topics: the big field is
    # over 25 %, so it is split; the fields of 10 % are not.
    rng = np.random.default_rng(5)
    fields = rng.normal(size=(5, 16)) * 3
    per_field = [12, 2, 2, 2, 2]
    centroids = np.vstack(
        [f + 0.8 * rng.normal(size=(k, 16)) for f, k in zip(fields, per_field, strict=True)]
    )
    topic_of = np.repeat(np.arange(len(centroids)), 10)
    vectors = centroids[topic_of] + 0.2 * rng.normal(size=(len(topic_of), 16))
    sizes = np.bincount(topic_of)
    monkeypatch.setattr(hierarchy, "choose_count", lambda *a, **k: 5)
    themes = group_topics(centroids, sizes, papers=vectors, topic_of=topic_of, seed=0)
    shares = np.bincount(themes, weights=sizes) / sizes.sum()
    assert shares.max() <= 0.25 + 1e-9
    assert _same_field(themes[12:], 4, 2)


def test_a_given_count_is_kept_and_largest_theme_first():
    centroids, topic_of, vectors = _corpus(3, 4, 10)
    sizes = np.array([1] * 4 + [100] * 4 + [1] * 4)
    themes = group_topics(centroids, sizes, 3)
    assert len(set(themes)) == 3 and themes[4] == 0
    assert _same_field(themes, 3, 4)


def test_split_topics_gives_exactly_the_groups_asked_for():
    centroids, _, _ = _corpus(2, 3, 1)
    groups = split_topics(centroids, np.array([5, 5, 5, 1, 1, 1]), 2, seed=0)
    assert sorted(set(groups)) == [0, 1]
    assert _same_field(groups, 2, 3) and groups[0] == 0


def test_fit_themes_reads_the_settings():
    centroids, topic_of, vectors = _corpus(5, 3, 8, spread=0.05)
    topic_of[:3] = -1  # unassigned papers are left out
    auto = fit_themes(topic_of, vectors, SimpleNamespace(n_themes="auto"), seed=42)
    assert auto.n_nodes(1) == 5
    two = fit_themes(topic_of, vectors, SimpleNamespace(n_themes=2), seed=42)
    assert two.n_nodes(1) == 2


def test_modularity():
    graph = np.kron(np.eye(2), np.ones((3, 3)))
    np.fill_diagonal(graph, 0)
    assert modularity(graph, np.array([0, 0, 0, 1, 1, 1])) > 0.4
    assert modularity(graph, np.array([0, 1, 0, 1, 0, 1])) < 0


def test_fit_themes_nests_every_topic_in_one_theme():
    centroids, topic_of, vectors = _corpus(4, 4, 12, seed=8, spread=1.0)
    topic_of[:2] = -1
    fitted = fit_themes(topic_of, vectors, SimpleNamespace(n_themes="auto"), seed=42)
    assert fitted.n_nodes(1) >= 2
    assert np.array_equal(fitted.topic_of < 0, topic_of < 0)
    shares = np.bincount(fitted.layer(1)[fitted.topic_of >= 0]) / (topic_of >= 0).sum()
    assert shares.max() <= hierarchy.MAX_THEME_SHARE + 1e-9


def test_consensus_themes_follow_the_fields_and_place_papers_outside_the_graph_sample():
    centroids, topic_of, vectors = _corpus(3, 3, 30, seed=4, spread=0.5)
    topic_of[:3] = -1
    field = np.repeat(np.arange(3), 90)
    theme_of_topic = np.repeat(np.arange(3), 3)
    themes = hierarchy.consensus_themes(vectors, topic_of, theme_of_topic, seed=1)
    assert (themes[:3] == -1).all()
    # one theme per field, whatever the numbering
    pairs = {(f, t) for f, t in zip(field[3:], themes[3:], strict=True)}
    assert len(pairs) == 3 and len({t for _, t in pairs}) == 3
    # With a graph sample smaller than the corpus, the other papers join the same themes.
    original = hierarchy.GRAPH_SAMPLE
    hierarchy.GRAPH_SAMPLE = 120
    try:
        sampled = hierarchy.consensus_themes(vectors, topic_of, theme_of_topic, seed=1)
    finally:
        hierarchy.GRAPH_SAMPLE = original
    assert (sampled[:3] == -1).all()
    assert len({(f, t) for f, t in zip(field[3:], sampled[3:], strict=True)}) == 3
