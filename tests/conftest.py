import os
from pathlib import Path

import pytest

# Keep numba's compiled UMAP/HDBSCAN code between test processes (first JIT costs ~15 s).
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache/numba"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    # One embedding cache for the whole session: the seeds are embedded once across test files.
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def fake_embedder():
    """Every run in the test embeds with the deterministic stand-in (no model is loaded)."""
    from taxonomy import engines
    from tests.helpers.fake_embed import FakeEmbedder

    embedder = FakeEmbedder()
    engines.use_embedder(embedder)
    yield embedder
    engines.use_embedder(None)
