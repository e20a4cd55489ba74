"""The GPU path: CUDA for embedding (fp16), cuML's UMAP and HDBSCAN when `cuml` is installed.

Asking for CUDA where there is none is a user error with a clear message, never a silent CPU
run. cuML is optional: without it UMAP/HDBSCAN run on the CPU and a note says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from taxonomy.errors import TaxonomyError

log = logging.getLogger(__name__)


def require_cuda() -> str:
    """'cuda' if torch sees a CUDA device, else TaxonomyError naming the setting to change."""
    try:
        import torch

        available = bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken or CPU-only torch build means no CUDA either
        available = False
    if not available:
        raise TaxonomyError(
            "compute.accelerator: cuda was asked for but no CUDA device is available "
            "(torch.cuda.is_available() is False); use accelerator: cpu or a CUDA build of torch"
        )
    return "cuda"


def load_cuml() -> Any:
    """The cuml module, or None (with a logged note) when it is not installed."""
    try:
        import cuml
    except Exception:  # noqa: BLE001 - not installed, or installed without a usable GPU runtime
        log.warning(
            "cuML is not installed: UMAP and HDBSCAN run on the CPU (pip install cuml-cu12)"
        )
        return None
    return cuml


def cuml_reduce(
    cuml: Any,
    vectors: np.ndarray,
    *,
    n_components: int,
    n_neighbors: int,
    min_dist: float,
    map_min_dist: float,
    seed: int,
    n_spaces: int = 1,
) -> Any:
    """GPU counterpart of `taxonomy.reduce.reduce_vectors` (same parameters, same outputs)."""
    from taxonomy.reduce import MIN_PAPERS_FOR_UMAP, Reduced, _no_spaces, _scale01, reduce_vectors

    if len(vectors) < MIN_PAPERS_FOR_UMAP:
        return reduce_vectors(vectors, n_components=n_components, seed=seed)
    common = dict(n_neighbors=min(n_neighbors, len(vectors) - 1), metric="cosine")

    def fit(dims: int, dist: float, random_state: int) -> np.ndarray:
        model = cuml.UMAP(n_components=dims, min_dist=dist, random_state=random_state, **common)
        return np.asarray(model.fit_transform(vectors), np.float32)

    space = fit(n_components, min_dist, seed)
    xy = fit(2, map_min_dist, seed)
    extra = [fit(n_components, min_dist, seed + i) for i in range(1, n_spaces)]
    return Reduced(space, _scale01(xy), np.stack(extra) if extra else _no_spaces(space))


def cuml_hdbscan_factory(cuml: Any) -> Callable[[int, int, str], Any]:
    def make(min_size: int, min_samples: int, selection: str) -> Any:
        return cuml.cluster.hdbscan.HDBSCAN(
            min_cluster_size=min_size,
            min_samples=min_samples,
            cluster_selection_method=selection,
        )

    return make
