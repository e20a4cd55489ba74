"""Fit-on-a-sample for large corpora: sampling, assigning the rest, placing it on the map."""

import numpy as np

from taxonomy.cluster import topic_centroids
from taxonomy.placement import assign_rest, assign_to_centroids, position_rest, sample_indices


def test_sample_is_seeded_sorted_and_only_for_large_corpora():
    assert sample_indices(100, 100, 0) is None
    assert sample_indices(100, None, 0) is None
    a, b = sample_indices(1000, 300, 7), sample_indices(1000, 300, 7)
    assert (a == b).all() and len(np.unique(a)) == 300 and (np.diff(a) > 0).all()
    assert not (a == sample_indices(1000, 300, 8)).all()


def _blobs(n_per: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 16) * 5
    vectors = np.vstack([c + rng.normal(size=(n_per, 16)) for c in centres]).astype(np.float32)
    truth = np.repeat(np.arange(3), n_per)
    layout = np.vstack([[0.1, 0.1], [0.5, 0.9], [0.9, 0.1]])[truth] + rng.normal(
        scale=0.02, size=(len(truth), 2)
    )
    return vectors, truth, layout.astype(np.float32)


def place_rest(vectors, sample, sample_topic, sample_layout, centroids, **options):
    topic_of = assign_rest(vectors, sample, sample_topic, centroids, **options)
    return topic_of, position_rest(vectors, sample, topic_of, sample_layout)


def test_rest_goes_to_its_topic_and_lands_among_its_sampled_papers():
    vectors, truth, layout = _blobs()
    sample = sample_indices(len(vectors), 150, 1)
    centroids = topic_centroids(vectors[sample], truth[sample])
    topic_of, xy = place_rest(vectors, sample, truth[sample], layout[sample], centroids)
    assert (topic_of == truth).all()
    assert np.allclose(xy[sample], layout[sample])  # sampled papers keep their fit
    rest = np.setdiff1d(np.arange(len(vectors)), sample)
    for t in range(3):
        anchors = layout[sample][truth[sample] == t]
        rows = xy[rest][truth[rest] == t]
        assert (rows >= anchors.min(axis=0) - 1e-6).all()
        assert (rows <= anchors.max(axis=0) + 1e-6).all()


def test_placing_is_deterministic_and_uses_the_given_assigner():
    vectors, truth, layout = _blobs(seed=3)
    sample = sample_indices(len(vectors), 120, 2)
    centroids = topic_centroids(vectors[sample], truth[sample])
    args = (vectors, sample, truth[sample], layout[sample], centroids)
    first, second = place_rest(*args), place_rest(*args)
    assert (first[0] == second[0]).all() and np.array_equal(first[1], second[1])

    def everything_to_topic_two(rows, cents):
        return np.full(len(rows), 2), np.ones(len(rows))

    topic_of, _ = place_rest(*args, assign=everything_to_topic_two)
    rest = np.setdiff1d(np.arange(len(vectors)), sample)
    assert (topic_of[rest] == 2).all() and (topic_of[sample] == truth[sample]).all()


def test_exact_knn_matches_a_full_sort_with_self_first():
    from taxonomy.reduce import exact_knn

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(300, 20)).astype(np.float32)
    indices, distances = exact_knn(vectors, 7, chunk=64)  # several uneven blocks
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, np.inf)
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :7]
    assert (indices == expected).all() and (indices[:, 0] == np.arange(300)).all()
    assert np.allclose(distances[:, 0], 0) and (np.diff(distances, axis=1) >= -1e-6).all()


def test_lexical_vectors_fitted_on_a_sample_project_the_rest():
    from taxonomy.lexical import tfidf_vectors

    words = "graph neural vision speech audio robot policy token cache quantum".split()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=12)) for _ in range(120)]
    rows = sample_indices(len(texts), 80, 0)
    mixed = tfidf_vectors(texts, 8, 0, fit_rows=rows)
    alone = tfidf_vectors([texts[i] for i in rows], 8, 0)
    assert mixed.shape == (120, alone.shape[1])
    assert np.allclose(mixed[rows], alone, atol=1e-5)  # the sample is exactly its own fit
    assert np.allclose(np.linalg.norm(mixed, axis=1), 1, atol=1e-4)


def test_labels_come_from_the_sample_plus_thinly_sampled_topics():
    from taxonomy.label import label_rows

    topic_of = np.array([0] * 50 + [1] * 50 + [2] * 5 + [-1] * 3)
    assert (label_rows(None, topic_of) == np.arange(len(topic_of))).all()
    sample = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50, 51, 100, 105])
    rows = label_rows(sample, topic_of, min_sampled=10)
    # topic 0 has 11 sampled papers: only those; topics 1 and 2 are thin: all their papers
    expected = set(range(11)) | set(range(50, 100)) | set(range(100, 105)) | {105}
    assert set(rows.tolist()) == expected and (np.diff(rows) > 0).all()


def test_nearest_centroid_and_threshold():
    centroids = np.array([[1.0, 0.0], [0.0, 2.0]])
    rows = np.array([[3.0, 0.1], [0.1, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    topic, sim = assign_to_centroids(rows, centroids, min_similarity=0.5)
    assert topic.tolist() == [0, 1, 0, -1]  # the tie (row 2) goes to the lower index
    assert np.isclose(sim[2], np.sqrt(0.5), atol=1e-6)


def test_empty_inputs():
    topic, sim = assign_to_centroids(np.zeros((0, 3)), np.ones((2, 3)))
    assert topic.shape == (0,) and sim.shape == (0,)
    topic, _ = assign_to_centroids(np.ones((2, 3)), np.zeros((0, 3)))
    assert topic.tolist() == [-1, -1]


def test_batching_does_not_change_result():
    rng = np.random.default_rng(0)
    rows, centroids = rng.normal(size=(50, 8)), rng.normal(size=(5, 8))
    whole, _ = assign_to_centroids(rows, centroids, 0.1)
    parts = np.concatenate(
        [assign_to_centroids(rows[i : i + 7], centroids, 0.1)[0] for i in range(0, 50, 7)]
    )
    assert (whole == parts).all()


def test_the_rest_is_placed_in_batches_without_changing_a_paper(monkeypatch):
    from taxonomy import placement

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    sample = np.sort(rng.choice(500, 60, replace=False))
    centroids = rng.normal(size=(5, 16)).astype(np.float32)
    sample_topic = rng.integers(0, 5, 60)
    whole = placement.assign_rest(vectors, sample, sample_topic, centroids)
    monkeypatch.setattr(placement, "ASSIGN_ROWS", 7)
    topic_of = placement.assign_rest(vectors, sample, sample_topic, centroids)
    assert (topic_of == whole).all()
    layout = rng.normal(size=(60, 2)).astype(np.float32)
    placed = placement.position_rest(vectors, sample, topic_of, layout)
    rest = np.setdiff1d(np.arange(500), sample)
    alone = placement.map_positions(
        vectors[rest], topic_of[rest], vectors[sample], topic_of[sample], layout
    )
    assert np.array_equal(placed[rest], alone) and np.array_equal(placed[sample], layout)
