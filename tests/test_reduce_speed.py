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
