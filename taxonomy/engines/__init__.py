"""Where the heavy steps run: `compute.accelerator` (cpu | cuda) and `compute.engine` (local | ray).

The pipeline asks an `Engine` for the few things that differ between them: the torch device and
batch size for embedding, an optional remote embedder (Ray), the UMAP and HDBSCAN
implementations (cuML on a GPU when installed) and the assignment of papers to fitted topics.
Everything else runs the same everywhere, so every engine gives the same taxonomy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from taxonomy.assign import assign_to_centroids

log = logging.getLogger(__name__)

# Batches this large keep a GPU busy; measured on an H100 (docs/BENCHMARKS.md).
CUDA_BATCH_SIZE = 512


@dataclass
class Engine:
    device: str = "cpu"
    cuml: Any = None  # the cuml module when the GPU UMAP/HDBSCAN are used
    ray: Any = None  # taxonomy.engines.ray_engine.RayEngine when engine: ray

    @classmethod
    def from_config(cls, compute: Any) -> Engine:
        """Validate the compute settings against this machine (TaxonomyError if impossible)."""
        from taxonomy.engines import cuda

        device, cuml = "cpu", None
        if compute.accelerator == "cuda":
            device = cuda.require_cuda()
            cuml = cuda.load_cuml()
        ray = None
        if compute.engine == "ray":
            from taxonomy.engines.ray_engine import RayEngine

            ray = RayEngine.start(compute.ray_address, compute.ray_cpus, device)
        return cls(device=device, cuml=cuml, ray=ray)

    def batch_size(self, configured: int) -> int:
        return max(configured, CUDA_BATCH_SIZE) if self.device.startswith("cuda") else configured

    def encode_fn(
        self, model_name: str, max_tokens: int
    ) -> Callable[[list[str]], np.ndarray] | None:
        if self.ray is None:
            return None
        return self.ray.embedder(model_name, max_tokens)

    @property
    def reducer_name(self) -> str:
        return "cuml" if self.cuml is not None else "umap"

    def reduce_vectors(self, vectors: np.ndarray, **options: Any) -> Any:
        if self.cuml is not None:
            from taxonomy.engines.cuda import cuml_reduce

            return cuml_reduce(self.cuml, vectors, **options)
        from taxonomy.reduce import reduce_vectors

        return reduce_vectors(vectors, **options)

    def cluster_options(self) -> dict[str, Any]:
        if self.cuml is None:
            return {}
        from taxonomy.engines.cuda import cuml_hdbscan_factory

        return {"make_clusterer": cuml_hdbscan_factory(self.cuml)}

    def assign(self, vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.ray is not None:
            return self.ray.assign(vectors, centroids)
        return assign_to_centroids(vectors, centroids)
