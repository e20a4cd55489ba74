import numpy as np

from taxonomy.assign import assign_to_centroids


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
