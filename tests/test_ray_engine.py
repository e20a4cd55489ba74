"""engine: ray on a local 2-CPU Ray instance gives the local engine's results."""

from pathlib import Path

import numpy as np
import pytest

from taxonomy.ingest import read_corpus
from taxonomy.placement import assign_to_centroids

ray = pytest.importorskip("ray", reason="ray is not installed (pip install '.[ray]')")
SEEDS = Path(__file__).resolve().parents[1] / "data/seeds"


@pytest.fixture(scope="module")
def engine():
    from taxonomy.engines.ray_engine import RayEngine

    started = RayEngine.start(None, 2)
    yield started
    ray.shutdown()


def test_assignment_on_ray_equals_local(engine, monkeypatch):
    from taxonomy.engines import ray_engine

    monkeypatch.setattr(ray_engine, "ASSIGN_BLOCK", 97)  # many blocks, uneven last one
    rng = np.random.default_rng(0)
    vectors, centroids = rng.normal(size=(1000, 24)), rng.normal(size=(17, 24))
    local = assign_to_centroids(vectors, centroids)
    remote = engine.assign(vectors, centroids)
    assert np.array_equal(local[0], remote[0]) and np.allclose(local[1], remote[1])


@pytest.mark.slow
def test_embedding_on_ray_equals_local(engine):
    from taxonomy.embed import SentenceEmbedder

    texts = read_corpus([SEEDS]).texts[:40]
    remote = engine.embedder("all-MiniLM-L6-v2", 256).encode(texts)
    local = SentenceEmbedder().encode(texts)
    assert remote.shape == local.shape
    assert np.abs(remote - local).max() < 1e-4


@pytest.mark.slow
def test_pipeline_on_ray_gives_the_local_assignments(engine, tmp_path):
    from taxonomy.pipeline import run

    # Fit on a sample of 200 so the rest (261 papers) is assigned: on Ray in the second run.
    common = {"cache_dir": str(tmp_path / "cache"), "compute.fit_sample": 200}
    common["input.paths"] = [str(SEEDS)]
    local = run(None, out=tmp_path / "local", **common)
    remote = run(None, out=tmp_path / "ray", **common, **{"compute.engine": "ray"})
    assert remote.newly_embedded == 0  # the cache written by the local run is used
    assert np.array_equal(local.topic_of, remote.topic_of)
    assert np.allclose(local.layout, remote.layout)
    assert [t.label for t in local.topics] == [t.label for t in remote.topics]
