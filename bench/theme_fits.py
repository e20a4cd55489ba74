"""Topic fits for theme-level experiments: run the pipeline once per (dataset, seed) and keep
what the hierarchy stage receives (topic per paper, paper vectors) with the gold labels, so
theme methods can be compared without refitting UMAP/HDBSCAN.

    python bench/theme_fits.py seeds arxiv-a ... [--seeds 42,7,123]
Writes .cache/bench/fits/<dataset>-<seed>.npz (topic_of, vectors, gold, baseline themes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from corpora import dataset  # noqa: E402


def gold_labels(corpus, labels_path: Path, field: str) -> np.ndarray:
    from taxonomy.evaluate import load_labels
    from taxonomy.evaluate.labels import join_labels

    frame = pd.DataFrame(
        {
            "id": [p.id for p in corpus.papers],
            "arxiv_id": [p.arxiv_id or "" for p in corpus.papers],
            "abstract": [p.abstract for p in corpus.papers],
            "topic_id": "",
            "theme_id": "",
        }
    )
    joined = join_labels(frame, load_labels(labels_path, field)).documents
    gold = ["" if pd.isna(v) else str(v) for v in joined.get("label", [""] * len(frame))]
    return np.array(["" if g.lower() == "other" else g for g in gold])


def fit_one(name: str, seed: int, cache: Path) -> Path:
    from taxonomy import hierarchy, pipeline
    from taxonomy.config import load_config
    from taxonomy.ingest import read_corpus

    out = cache / "bench/fits" / f"{name}-{seed}.npz"
    if out.is_file():
        return out
    paths, labels_path, field = dataset(name, cache)
    corpus = read_corpus([Path(p) for p in paths])
    captured = {}
    original = hierarchy.fit_themes

    def capture(topic_of, vectors, settings, seed_, topic_names=None):
        fitted = original(topic_of, vectors, settings, seed_, topic_names)
        captured.update(
            topic_of=np.asarray(topic_of),
            vectors=np.asarray(vectors, np.float32),
            themes=np.asarray(fitted.theme_of_topic),
        )
        return fitted

    hierarchy.fit_themes = capture
    try:
        cfg = load_config(
            None,
            {"seed": seed, "cache_dir": str(cache), "curation": None, "output.map": False},
        )
        pipeline.fit(corpus, config=cfg)
    finally:
        hierarchy.fit_themes = original
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, gold=gold_labels(corpus, labels_path, field), **captured)
    return out


if __name__ == "__main__":
    seeds = [42, 7, 123]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--seeds" in sys.argv:
        seeds = [int(s) for s in sys.argv[sys.argv.index("--seeds") + 1].split(",")]
        args = [a for a in args if a != sys.argv[sys.argv.index("--seeds") + 1]]
    for name in args:
        for seed in seeds:
            cache = Path(os.environ.get("TAXONOMY_BENCH_CACHE", REPO / ".cache"))
            print(name, seed, fit_one(name, seed, cache), flush=True)
