"""Compute settings: accelerator (cpu | cuda) and engine (local | ray), tested on a CPU."""

import logging
import sys
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from taxonomy.cli import app
from taxonomy.config import config_from_dict
from taxonomy.engines import build, cuda
from taxonomy.errors import TaxonomyError
from taxonomy.placement import assign_to_centroids
from taxonomy.reduce import CpuUmap, reduce_vectors

torch = pytest.importorskip("torch")
NO_CUDA = not torch.cuda.is_available()


def test_compute_defaults_and_validation():
    compute = config_from_dict({}).compute
    assert (compute.accelerator, compute.engine, compute.ray_address) == ("cpu", "local", None)
    with pytest.raises(TaxonomyError, match="compute.accelerator"):
        config_from_dict({"compute": {"accelerator": "tpu"}})
    with pytest.raises(TaxonomyError, match="compute.fit_sample"):
        config_from_dict({"compute": {"fit_sample": 5}})
    assert config_from_dict({"compute": {"fit_sample": None}}).compute.fit_sample is None


def backend(config: dict | None = None):
    cfg = config_from_dict(config or {})
    return build(cfg.compute, cfg.embed)


def test_cpu_backend_is_the_plain_local_path():
    local = backend()
    assert local.embedder.device == "cpu" and local.embedder.batch_size == 32
    assert local.embedder.chunk(1000) == 32  # a progress tick per CPU batch
    assert isinstance(local.make_umap, CpuUmap) and local.reducer_name == "umap"
    assert local.assign is assign_to_centroids


def test_a_given_embedder_replaces_the_configured_model():
    from tests.helpers.fake_embed import FakeEmbedder

    fake = FakeEmbedder()
    cfg = config_from_dict({})
    assert build(cfg.compute, cfg.embed, fake).embedder is fake


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_user_error(tmp_path):
    with pytest.raises(TaxonomyError, match="compute.accelerator: cuda .* no CUDA device"):
        backend({"compute": {"accelerator": "cuda"}})
    config = tmp_path / "c.yaml"
    config.write_text(f"compute:\n  accelerator: cuda\ncache_dir: {tmp_path / 'cache'}\n")
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--quiet"])
    assert result.exit_code == 2
    assert "no CUDA device" in result.output and "Traceback" not in result.output


def test_cuda_without_cuml_falls_back_to_cpu_umap_with_a_note(monkeypatch, caplog):
    monkeypatch.setattr(cuda, "require_cuda", lambda: "cuda")
    monkeypatch.setitem(sys.modules, "cuml", None)  # makes `import cuml` fail
    with caplog.at_level(logging.WARNING):
        gpu = backend({"compute": {"accelerator": "cuda"}})
    assert gpu.embedder.device == "cuda" and gpu.reducer_name == "umap"
    assert gpu.embedder.batch_size >= 256  # large GPU batches
    assert "cuML is not installed" in caplog.text


def test_cuda_with_cuml_uses_its_umap_and_hdbscan(monkeypatch):
    calls = []

    class FakeUMAP:
        def __init__(self, n_components, **kwargs):
            self.n = n_components
            calls.append(("umap", n_components, kwargs["random_state"]))

        def fit_transform(self, x):
            return np.asarray(x)[:, : self.n]

    class FakeHDBSCAN:
        def __init__(self, **kwargs):
            calls.append(("hdbscan", kwargs["min_cluster_size"]))

        def fit_predict(self, x):
            return (np.asarray(x)[:, 0] > np.median(x[:, 0])).astype(int)

    fake = types.SimpleNamespace(
        UMAP=FakeUMAP,
        cluster=types.SimpleNamespace(hdbscan=types.SimpleNamespace(HDBSCAN=FakeHDBSCAN)),
    )
    monkeypatch.setattr(cuda, "require_cuda", lambda: "cuda")
    monkeypatch.setitem(sys.modules, "cuml", fake)
    gpu = backend({"compute": {"accelerator": "cuda"}})
    assert gpu.reducer_name == "cuml"
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 12)).astype(np.float32)
    options = dict(n_components=5, n_neighbors=15, min_dist=0.0, map_min_dist=0.1)
    reduced = reduce_vectors(vectors, **options, seed=3, make_umap=gpu.make_umap)
    assert reduced.cluster_space.shape == (200, 5) and reduced.layout.shape == (200, 2)
    from taxonomy.cluster import cluster_vectors

    labels = cluster_vectors(
        reduced.cluster_space, vectors, min_size=10, make_clusterer=gpu.make_clusterer
    )
    assert set(labels) <= {-1, 0, 1} and ("hdbscan", 10) in calls
    assert ("umap", 5, 3) in calls and ("umap", 2, 3) in calls
    # Extra clustering spaces for the seed vote: one more 5-d fit each, the 2-D map fit once.
    calls.clear()
    voted = reduce_vectors(vectors, **options, seed=4, n_spaces=3, make_umap=gpu.make_umap)
    assert voted.extra_spaces.shape == (2, 200, 5)
    assert calls == [("umap", 5, 4), ("umap", 2, 4), ("umap", 5, 5), ("umap", 5, 6)]
