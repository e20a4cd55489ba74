"""The island map layout (reduce.island_layout) and the map-layout measures of bench/map_layout.py:
topics become islands (10-NN agreement up), the layout stays faithful to the vectors, it is
deterministic, and small or topic-less corpora and backends without supervised UMAP fall back
to the plain layout."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from taxonomy.reduce import island_layout, reduce_vectors

ROOT = Path(__file__).resolve().parents[1]


def bench():
    spec = importlib.util.spec_from_file_location("map_layout", ROOT / "bench/map_layout.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("map_layout", module)
    spec.loader.exec_module(module)
    return module


def blobs(n_topics=8, per_topic=25, dim=32, spread=2.5, seed=0):
    """Overlapping Gaussian topics (a plain UMAP interleaves their edges), labelled."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_topics, dim)) * 1.6
    topic = np.repeat(np.arange(n_topics), per_topic)
    vectors = centres[topic] + rng.normal(0, spread, (len(topic), dim))
    topic[::37] = -1  # a few unassigned papers
    return vectors.astype(np.float32), topic


@pytest.fixture(scope="module")
def layouts():
    vectors, topic = blobs()
    plain = reduce_vectors(vectors, n_components=5, seed=3).layout
    islands = island_layout(vectors, topic, init=plain, seed=3)
    return vectors, topic, plain, islands


def test_topics_become_islands_and_stay_faithful(layouts):
    vectors, topic, plain, islands = layouts
    m = bench()
    theme = np.where(topic >= 0, topic // 2, -1)  # two topics per theme
    before = m.layout_scores(plain.astype(np.float64), topic, theme, vectors)
    after = m.layout_scores(islands.astype(np.float64), topic, theme, vectors)
    assert islands.shape == (len(vectors), 2) and islands.dtype == np.float32
    assert islands.min() == 0.0 and islands.max() == 1.0
    assert after["topic_agreement"] >= 0.9 > before["topic_agreement"]
    assert after["topic_agreement"] > before["topic_agreement"] + 0.05
    assert after["trustworthiness"] >= before["trustworthiness"] - 0.03
    assert after["centroid_distance_rho"] > 0.3  # islands are not scattered at random


def test_island_layout_is_deterministic(layouts):
    vectors, topic, plain, islands = layouts
    again = island_layout(vectors, topic, init=plain, seed=3)
    assert np.array_equal(again, islands)


def test_small_or_topicless_corpora_keep_the_plain_layout():
    vectors, topic = blobs(n_topics=2, per_topic=10)
    init = np.random.default_rng(1).random((20, 2))
    out = island_layout(vectors, topic, init=init)  # below MIN_PAPERS_FOR_UMAP
    assert np.allclose(out, (init - init.min(0)) / (init.max(0) - init.min(0)))
    vectors, topic = blobs()
    out = island_layout(vectors, np.full(len(vectors), -1), init=None, seed=1)
    assert out.shape == (len(vectors), 2) and np.isfinite(out).all()
    with pytest.raises(ValueError, match="rows"):
        island_layout(vectors, topic[:-1])


def test_backend_without_supervised_umap_keeps_the_plain_layout(caplog):
    class Unsupervised:
        def fit_transform(self, x):
            return np.asarray(x)[:, :2]

    class Factory:
        name, wants_knn = "plain", False

        def __call__(self, **_):
            return Unsupervised()

    vectors, topic = blobs()
    init = np.random.default_rng(2).random((len(vectors), 2))
    out = island_layout(vectors, topic, init=init, make_umap=Factory())
    assert np.allclose(out, (init - init.min(0)) / (init.max(0) - init.min(0)))
    assert "cannot fit a supervised layout" in caplog.text


def test_agreement_counts_neighbours_with_the_same_label():
    m = bench()
    neighbours = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    labels = np.array([0, 0, 1, -1])
    # paper 0: 1 of 2; paper 1: 1 of 2; paper 2: 0 of 2; paper 3 unassigned, not counted.
    assert m.agreement(neighbours, labels) == pytest.approx(2 / 6)
