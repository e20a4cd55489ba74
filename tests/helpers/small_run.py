"""A small dated corpus run end to end with the fake embedder (tests of the run's outputs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

SUBJECTS = [
    "compressing the KV cache of transformer decoders for long context generation",
    "retrieval augmented generation with dense passage retrievers and rerankers",
    "diffusion models for text to image generation with classifier free guidance",
    "speech recognition with self supervised audio encoders and streaming decoders",
    "reinforcement learning from human feedback and direct preference optimization",
]


def papers(n: int = 90) -> pd.DataFrame:
    """`n` papers over 6 months of 2024 (arXiv ids give the months), subjects interleaved."""
    rows = []
    for i in range(n):
        subject = SUBJECTS[i % len(SUBJECTS)]
        words = subject.split()
        rows.append(
            {
                "arxiv_id": f"24{1 + i % 6:02d}.{10000 + i:05d}",
                "title": f"On {' '.join(words[:3])} ({i})",
                "abstract": f"Paper {i} studies {subject}; we vary {words[i % len(words)]} "
                f"and {words[(3 * i) % len(words)]} in setting {i}.",
            }
        )
    return pd.DataFrame(rows)


def small_config(folder: Path, cache: Path, n: int = 90, **output) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    papers(n).to_csv(folder / "papers.csv", index=False)
    cfg = {
        "cache_dir": str(cache),
        "curation": None,
        "input": {"paths": [str(folder / "papers.csv")]},
        "output": output,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def small_run(folder: Path, cache: Path, n: int = 90, **output):
    """run() on the small corpus with the fake embedder; returns the RunResult."""
    from taxonomy import engines
    from taxonomy.pipeline import run
    from tests.helpers.fake_embed import FakeEmbedder

    engines.use_embedder(FakeEmbedder())
    try:
        return run(small_config(folder, cache, n, **output), out=folder / "out")
    finally:
        engines.use_embedder(None)
