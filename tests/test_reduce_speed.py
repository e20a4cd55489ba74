"""The reduce stage's speed paths give the same results as the plain ones."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomy import reduce


@pytest.mark.parametrize("n,chunk", [(50, 7), (300, 64), (257, 256)])
def test_symmetric_knn_equals_the_row_by_row_one(monkeypatch, n, chunk):
    rng = np.random.default_rng(n)
    vectors = rng.standard_normal((n, 12)).astype(np.float32)
    vectors[5] = vectors[3]  # a duplicate: both are each other's nearest
    monkeypatch.setattr(reduce, "SYMMETRIC_KNN_MIN", 10**9)
    plain = reduce.exact_knn(vectors, 6, chunk)
    monkeypatch.setattr(reduce, "SYMMETRIC_KNN_MIN", 0)
    fast = reduce.exact_knn(vectors, 6, chunk)
    # Equal except where two candidates tie exactly at the k-th place (argpartition picks either)
    differ = np.flatnonzero((plain[0] != fast[0]).any(axis=1))
    assert all(set(plain[0][r]) ^ set(fast[0][r]) <= {3, 5} for r in differ)
    assert np.array_equal(plain[0][[3, 5], :2], [[3, 5], [5, 3]])
    assert np.array_equal(plain[0][[3, 5]], fast[0][[3, 5]])
    assert np.allclose(plain[1], fast[1], atol=1e-6)
    assert (fast[0][:, 0] == np.arange(n)).all()  # itself first


def test_umap_jit_functions_are_cached_on_disk():
    import umap.umap_
    from numba.core.caching import NullCache

    reduce.cache_umap_jit()
    assert not isinstance(umap.umap_.smooth_knn_dist._cache, NullCache)
    assert not isinstance(umap.umap_.compute_membership_strengths._cache, NullCache)


def test_large_fit_path(monkeypatch):
    """Above LARGE_FIT: fewer epochs and a layout started from the clustering space."""
    monkeypatch.setattr(reduce, "LARGE_FIT", 50)
    monkeypatch.setattr(reduce, "LARGE_FIT_EPOCHS", 20)
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 16))
    vectors = np.vstack([c + 0.1 * rng.standard_normal((40, 16)) for c in centers])
    out = reduce.reduce_vectors(vectors.astype(np.float32), n_components=4, seed=1)
    assert out.cluster_space.shape == (120, 4) and out.layout.shape == (120, 2)
    assert np.isfinite(out.layout).all() and out.layout.min() >= 0 and out.layout.max() <= 1


def test_chosen_rows_and_a_wider_graph_give_the_same_neighbours():
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((200, 16)).astype(np.float32)
    whole = reduce.exact_knn(vectors, 8)
    rows = np.array([7, 3, 150, 3])
    chosen = reduce.exact_knn(vectors, 8, rows=rows)
    assert np.array_equal(chosen[0], whole[0][rows])
    assert np.allclose(chosen[1], whole[1][rows], atol=1e-6)
    wide = reduce.exact_knn(vectors, 12)
    assert np.array_equal(reduce.first_neighbours(*wide, 8)[0], whole[0])
    assert reduce.first_neighbours(*whole, 9) is None  # too narrow: the caller searches


def test_the_fits_see_the_graph_they_would_without_spare_neighbours():
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((120, 16)).astype(np.float32)
    plain = reduce.reduce_vectors(vectors, n_neighbors=10, n_components=3)
    spare = reduce.reduce_vectors(vectors, n_neighbors=10, n_components=3, spare_neighbours=15)
    assert spare.knn_indices.shape == (120, 16) and plain.knn_indices.shape == (120, 10)
    assert np.array_equal(plain.cluster_space, spare.cluster_space)
    assert np.array_equal(plain.layout, spare.layout)
