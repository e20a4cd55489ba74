"""Backends: where the heavy steps run, chosen once from `compute` and passed to the stages.

`build(compute, embed)` returns a `Backend`: the `Embedder` (sentence-transformers on the CPU,
the same model in fp16 on CUDA, or fanned out over Ray Data), the UMAP and HDBSCAN factories
(umap-learn/hdbscan, or cuML's on a GPU when installed) and the assignment of papers to fitted
topics (local, or Ray tasks). The stages never branch on the backend: they call what they are
given, so every backend gives the same taxonomy from the same code.

Adding a backend: implement `taxonomy.embed.Embedder` and/or a UMAP/HDBSCAN factory
(`taxonomy.reduce.UmapFactory`, `taxonomy.cluster.ClustererFactory`) and choose it in `build`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taxonomy.cluster import ClustererFactory, cpu_hdbscan
from taxonomy.embed import Embedder, SentenceEmbedder, model_folder_problem
from taxonomy.errors import TaxonomyError
from taxonomy.placement import Assigner, assign_to_centroids
from taxonomy.reduce import CpuUmap, UmapFactory

# Batches this large keep a GPU busy; measured on an H100 (docs/BENCHMARKS.md).
CUDA_BATCH_SIZE = 512

_default_embedder: Embedder | None = None


def use_embedder(embedder: Embedder | None) -> None:
    """Make every later `build` use `embedder` (a notebook's own model, a test's stand-in);
    None goes back to the configured model."""
    global _default_embedder
    _default_embedder = embedder


def sentence_embedder(
    model: str, max_tokens: int, *, device: str = "cpu", batch_size: int = 32
) -> Embedder:
    """The embedder set by `use_embedder`, else the sentence model `model` (the bundled
    model's name or a model folder, as in embed.model) on `device`."""
    if _default_embedder is not None:
        return _default_embedder
    problem = model_folder_problem(model)
    if problem:
        raise TaxonomyError(f"embed.model: {problem}")
    return SentenceEmbedder(model, max_tokens, device=device, batch_size=batch_size)


@dataclass(frozen=True)
class Backend:
    embedder: Embedder
    make_umap: UmapFactory = CpuUmap()
    make_clusterer: ClustererFactory = cpu_hdbscan
    assign: Assigner = assign_to_centroids

    @property
    def reducer_name(self) -> str:
        return self.make_umap.name


def build(compute: Any, embed: Any, embedder: Embedder | None = None) -> Backend:
    """The backend for the `compute` and `embed` settings (TaxonomyError if impossible here).

    `embedder`, when given, replaces the configured sentence model (embed.model: the bundled
    MiniLM or a sentence-transformers folder on disk).
    """
    from taxonomy.engines import cuda

    device, cuml = "cpu", None
    if compute.accelerator == "cuda":
        device = cuda.require_cuda()
        cuml = cuda.load_cuml()
    batch = max(embed.batch_size, CUDA_BATCH_SIZE) if device == "cuda" else embed.batch_size
    chosen = embedder or sentence_embedder(
        embed.model, embed.max_tokens, device=device, batch_size=batch
    )
    parts: dict[str, Any] = {}
    if cuml is not None:
        parts = {"make_umap": cuda.CumlUmap(cuml), "make_clusterer": cuda.cuml_hdbscan(cuml)}
    if compute.engine == "ray":
        from taxonomy.engines.ray_engine import RayEngine

        ray = RayEngine.start(compute.ray_address, compute.ray_cpus, device)
        if embedder is None and _default_embedder is None:
            chosen = ray.embedder(embed.model, embed.max_tokens)
        parts["assign"] = ray.assign
    return Backend(embedder=chosen, **parts)
