"""How well the map shows the topics and themes, and how faithful it stays to the vectors.

For the plain 2-D UMAP layout (`output.layout: umap`, the layout before issue 15) and the island
layout (`output.layout: islands`, the default), on the seeds and on a 1,000-paper arXiv sample:

- topic / theme agreement: the share of a paper's 10 nearest map neighbours (from
  documents.csv x, y) in the same topic / theme (unassigned papers not counted as a paper);
- trustworthiness (scikit-learn, 10 neighbours, cosine in the paper vectors the layout is
  computed from) and 10-NN preservation (the share of a paper's 10 nearest neighbours in the
  vectors that are among its 10 nearest on the map);
- centroid distance correlation: Spearman correlation between topic-centroid distances on the
  map and cosine distances of the topic centroids in the vectors (are cross-topic distances
  still meaningful?).

    .venv/bin/python bench/map_layout.py [--cache-dir .cache] [--json out.json]

The arXiv sample (1,000 papers, seed 0, from ../shared/data/arxiv_cs_daily_2025_2026) is
written to <cache-dir>/bench/arxiv1000.csv; its embeddings are cached like any run's (the
first run embeds them: ~1 min on 2 CPU cores). Results: docs/MAP.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARXIV = ROOT.parent / "shared/data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz"
K = 10


def arxiv_sample(cache_dir: Path, n: int = 1000, seed: int = 0) -> Path:
    path = cache_dir / "bench" / f"arxiv{n}.csv"
    if not path.is_file():
        frame = pd.read_json(ARXIV, lines=True)
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), n, replace=False))
        path.parent.mkdir(parents=True, exist_ok=True)
        sample = frame.iloc[rows][["id", "title", "abstract"]].rename(columns={"id": "arxiv_id"})
        sample.to_csv(path, index=False)
    return path


def _map_knn(xy: np.ndarray, k: int = K) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]


def agreement(neighbours: np.ndarray, labels: np.ndarray) -> float:
    """Share of each assigned paper's map neighbours with the same label."""
    keep = labels >= 0
    return float((labels[neighbours][keep] == labels[keep, None]).mean())


def layout_scores(xy: np.ndarray, topic: np.ndarray, theme: np.ndarray, vectors: np.ndarray):
    from scipy.stats import spearmanr
    from sklearn.manifold import trustworthiness

    from taxonomy.reduce import exact_knn

    neighbours = _map_knn(xy)
    true = exact_knn(vectors, K + 1)[0][:, 1:]
    kept = np.mean([len(set(a) & set(b)) / K for a, b in zip(neighbours, true, strict=True)])
    topics = [t for t in np.unique(topic) if t >= 0]
    map_c = np.array([xy[topic == t].mean(axis=0) for t in topics])
    vec_c = np.array([vectors[topic == t].mean(axis=0) for t in topics])
    vec_c /= np.linalg.norm(vec_c, axis=1, keepdims=True)
    upper = np.triu_indices(len(topics), 1)
    map_d = np.linalg.norm(map_c[:, None] - map_c[None], axis=2)[upper]
    return {
        "topic_agreement": agreement(neighbours, topic),
        "theme_agreement": agreement(neighbours, theme),
        "trustworthiness": float(trustworthiness(vectors, xy, n_neighbors=K, metric="cosine")),
        "knn_preserved": float(kept),
        "centroid_distance_rho": float(spearmanr(map_d, (1 - vec_c @ vec_c.T)[upper]).statistic),
    }


def measure(name: str, paths: list[str], cache_dir: Path, layout: str) -> dict:
    from taxonomy import lexical, reduce
    from taxonomy.pipeline import run

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run(
            None,
            out=out,
            **{
                "cache_dir": str(cache_dir),
                "input.paths": paths,
                "curation": None,
                "output.layout": layout,
            },
        )
        seconds = time.perf_counter() - start
        docs = pd.read_csv(Path(out) / "documents.csv", keep_default_na=False)
        sizes = {p.name: p.stat().st_size for p in Path(out).iterdir() if p.is_file()}
    codes = {
        level: pd.factorize(docs[f"{level}_id"].where(docs[f"{level}_id"] != "", None))[0]
        for level in ("topic", "theme")
    }
    xy = docs[["x", "y"]].to_numpy(np.float64)
    cfg = result.config
    tfidf = lexical.tfidf_vectors(result.corpus.texts, cfg.embed.tfidf_dims, cfg.seed)
    vectors = reduce.combine_vectors(result.embeddings, tfidf, cfg.embed.tfidf_weight)
    scores = layout_scores(xy, codes["topic"], codes["theme"], vectors)
    return {
        "corpus": name,
        "layout": layout,
        "papers": len(docs),
        "topics": int(codes["topic"].max() + 1),
        "themes": int(codes["theme"].max() + 1),
        **scores,
        "layout_s": round(result.timings.get("layout", 0.0), 2),
        "run_s": round(seconds, 1),
        "sizes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    corpora = {
        "seeds": [str(ROOT / "data/seeds")],
        "arXiv 1,000": [str(arxiv_sample(args.cache_dir))],
    }
    rows = []
    for name, paths in corpora.items():
        for layout in ("umap", "islands"):
            row = measure(name, paths, args.cache_dir, layout)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "sizes"}), flush=True)
    print()
    print(
        "| corpus | layout | topic agreement | theme agreement | trustworthiness "
        "| 10-NN kept | centroid distance ρ |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['corpus']} ({r['papers']:,} papers, {r['topics']} topics, {r['themes']} "
            f"themes) | {r['layout']} | {r['topic_agreement']:.2f} | {r['theme_agreement']:.2f} "
            f"| {r['trustworthiness']:.3f} | {r['knn_preserved']:.2f} "
            f"| {r['centroid_distance_rho']:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
