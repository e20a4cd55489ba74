"""The GPU path: CUDA for embedding (fp16), cuML's UMAP and HDBSCAN when `cuml` is installed.

Asking for CUDA where there is none is a user error with a clear message, never a silent CPU
run. cuML is optional: without it UMAP/HDBSCAN run on the CPU and a note says so. The cuML
classes are handed to the same `reduce_vectors`/`cluster_vectors` code as the CPU ones.
"""

from __future__ import annotations

import logging
from typing import Any

from taxonomy.cluster import ClustererFactory
from taxonomy.errors import TaxonomyError

log = logging.getLogger(__name__)


def require_cuda() -> str:
    """'cuda' if torch sees a CUDA device, else TaxonomyError naming the setting to change."""
    try:
        import torch

        available = bool(torch.cuda.is_available())
    except Exception:
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
    except Exception:
        log.warning(
            "cuML is not installed: UMAP and HDBSCAN run on the CPU (pip install cuml-cu12)"
        )
        return None
    return cuml


class CumlUmap:
    """cuML's UMAP with the parameters of `taxonomy.reduce.CpuUmap` (it searches its own k-NN)."""

    name = "cuml"
    wants_knn = False

    def __init__(self, cuml: Any) -> None:
        self.cuml = cuml

    def __call__(
        self, *, n_components: int, n_neighbors: int, min_dist: float, random_state: int, knn: Any
    ) -> Any:
        return self.cuml.UMAP(
            n_components=n_components,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            random_state=random_state,
            metric="cosine",
        )


def cuml_hdbscan(cuml: Any) -> ClustererFactory:
    def make(min_size: int, min_samples: int, selection: str) -> Any:
        return cuml.cluster.hdbscan.HDBSCAN(
            min_cluster_size=min_size,
            min_samples=min_samples,
            cluster_selection_method=selection,
        )

    return make
