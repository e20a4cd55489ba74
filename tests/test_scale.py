"""Fit-on-a-sample for large corpora: sampling, assigning the rest, placing it on the map."""

import numpy as np

from taxonomy.cluster import topic_centroids
from taxonomy.scale import place_rest, sample_indices


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
