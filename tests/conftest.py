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


# Headless Chromium for the browser tests (Debian's package; see .ci/run), one per session.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.skip(f"playwright is not installed: {err}")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
