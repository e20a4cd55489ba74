import os
from pathlib import Path

import pytest

# Keep numba's compiled UMAP/HDBSCAN code between test processes (first JIT costs ~15 s).
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache/numba"))


def pytest_configure(config):
    # Map tests that drive headless Chromium (need playwright and /usr/bin/chromium).
    config.addinivalue_line("markers", "browser: tests that open the HTML map in headless Chromium")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    # One embedding cache for the whole session: the seeds are embedded once across test files.
    return tmp_path_factory.mktemp("cache")
