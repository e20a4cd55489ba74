"""The Ray engine: embedding through Ray Data (`map_batches` over an actor pool) and assignment
of papers to fitted topics as Ray tasks, on a local Ray instance or an existing cluster.

Each actor loads the model once and embeds whole batches; results carry their row index, so the
order Ray returns them in never matters. Assignment is split into blocks of rows that workers
score against the shared centroids (`taxonomy.assign`), which gives exactly the local result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.errors import TaxonomyError
from taxonomy.placement import assign_to_centroids

ROWS_PER_BATCH = 256  # texts per actor call
ASSIGN_BLOCK = 16_384  # papers per assignment task


class _Embedder:
    """A Ray Data actor: holds one copy of the model, embeds one batch per call."""

    def __init__(self, model_name: str, max_tokens: int, batch_size: int, device: str) -> None:
        from taxonomy.embed import SentenceEmbedder

        self.embedder = SentenceEmbedder(
            model_name, max_tokens, device=device, batch_size=batch_size
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": vectors}


class RayEmbedder:
    """`taxonomy.embed.Embedder` that fans texts out to a pool of `_Embedder` actors."""

    def __init__(self, engine: RayEngine, model: str, max_tokens: int) -> None:
        from taxonomy.embed import model_dim, model_identity

        self.engine = engine
        self.model = model  # what the actors load (embed.model)
        self.model_name = model_identity(model)  # what the cache calls its vectors
        self.max_tokens = max_tokens
        self.dim = model_dim(model)

    def chunk(self, n_missing: int) -> int:
        return max(8 * 32, n_missing // 8, 4096)  # big chunks keep every actor busy

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.engine.embed(texts, self.model, self.max_tokens)


def _assign_block(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return assign_to_centroids(vectors, centroids)


class RayEngine:
    def __init__(self, ray: Any, device: str, actors: int) -> None:
        self.ray = ray
        self.device = device
        self.actors = actors

    @classmethod
    def start(cls, address: str | None, num_cpus: int, device: str = "cpu") -> RayEngine:
        """Join the cluster at `address`, or start a local instance with `num_cpus` CPUs."""
        try:
            import ray
        except ImportError:
            raise TaxonomyError(
                "compute.engine: ray needs the ray package: pip install 'taxonomy[ray]'"
            ) from None
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not ray.is_initialized():
            import taxonomy

            options: dict[str, Any] = dict(
                include_dashboard=False, log_to_driver=False, configure_logging=False
            )
            if address is None:
                options["num_cpus"] = num_cpus
            else:  # a remote cluster gets this package shipped to its workers
                options["runtime_env"] = {"py_modules": [str(Path(taxonomy.__file__).parent)]}
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise TaxonomyError(f"compute.ray_address: cannot start Ray: {exc}") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        gpus = int(ray.cluster_resources().get("GPU", 0))
        actors = max(1, gpus if device.startswith("cuda") else cpus)
        return cls(ray, device, actors)

    def embedder(self, model_name: str, max_tokens: int) -> RayEmbedder:
        return RayEmbedder(self, model_name, max_tokens)

    def embed(self, texts: list[str], model_name: str, max_tokens: int) -> np.ndarray:
        """Vectors of `texts` in their order, embedded by the actor pool through Ray Data."""
        from taxonomy.engines import CUDA_BATCH_SIZE

        gpu = self.device.startswith("cuda")
        items = [{"i": i, "text": t} for i, t in enumerate(texts)]
        dataset = self.ray.data.from_items(items).map_batches(
            _Embedder,
            fn_constructor_kwargs=dict(
                model_name=model_name,
                max_tokens=max_tokens,
                batch_size=CUDA_BATCH_SIZE if gpu else 32,
                device=self.device,
            ),
            batch_size=ROWS_PER_BATCH * (8 if gpu else 1),
            batch_format="numpy",
            concurrency=self.actors,
            num_gpus=1 if gpu else 0,
            num_cpus=0 if gpu else 1,
        )
        out = np.zeros((len(texts), 0), np.float32)
        for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
            if out.shape[1] == 0:
                out = np.zeros((len(texts), batch["vector"].shape[1]), np.float32)
            out[batch["i"]] = batch["vector"]
        return out

    def assign(self, vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`assign_to_centroids` over blocks of rows as Ray tasks; identical to the local result."""
        if len(vectors) == 0:
            return assign_to_centroids(vectors, centroids)
        task = self.ray.remote(_assign_block)
        shared = self.ray.put(np.asarray(centroids, np.float32))
        refs = [
            task.remote(vectors[i : i + ASSIGN_BLOCK], shared)
            for i in range(0, len(vectors), ASSIGN_BLOCK)
        ]
        parts = self.ray.get(refs)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
