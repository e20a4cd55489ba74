"""How much the seeds' topics and themes depend on the random seed, one run vs the 5-run vote.

For each base seed s it clusters the seeds corpus once (UMAP seed s) and by majority vote over
UMAP seeds s..s+4 (what `cluster.runs: auto` does up to 5,000 papers), with the default
vectors, and reports: agreement between results of different base seeds (pairwise ARI, higher
= less seed-dependent), agreement with the hand labels (NMI/ARI, `other` left out), and the
theme level (size-weighted k-means, count by the papers' silhouette) with its largest theme.

    PYTHONPATH=. .venv/bin/python bench/seed_stability.py [--seeds 42,7,123,1000,2000,3000]
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy import cluster, embed, hierarchy, lexical, reduce
from taxonomy.config import load_config
from taxonomy.evaluate.labels import join_labels, load_labels
from taxonomy.evaluate.metrics import ari, nmi
from taxonomy.ingest import read_corpus

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO.parent / "shared/eval/seeds_dev_labels.jsonl"


def gold_labels(corpus) -> list[str]:
    docs = pd.DataFrame(
        {
            "id": [p.id for p in corpus.papers],
            "arxiv_id": [p.arxiv_id or "" for p in corpus.papers],
            "abstract": [p.abstract for p in corpus.papers],
        }
    )
    return join_labels(docs, load_labels(LABELS, "theme")).documents["label"].tolist()


def agreement(gold: list[str], groups: np.ndarray) -> tuple[float, float]:
    keep = [i for i, g in enumerate(gold) if g and g != "other"]
    truth, pred = [gold[i] for i in keep], [int(groups[i]) for i in keep]
    return nmi(truth, pred), ari(truth, pred)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="42,7,123,1000,2000,3000")
    parser.add_argument("--runs", type=int, default=cluster.CONSENSUS_RUNS)
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache/numba"))
    cfg = load_config(REPO / "configs/default.yaml")
    corpus = read_corpus([REPO / "data/seeds"])
    texts = corpus.texts
    embeddings, _ = embed.embed_texts(texts, cache_dir=REPO / cfg.cache_dir / "embeddings")
    tfidf = lexical.tfidf_vectors(texts, cfg.embed.tfidf_dims, cfg.seed)
    vectors = reduce.combine_vectors(embeddings, tfidf, cfg.embed.tfidf_weight)
    gold = gold_labels(corpus)
    rc = cfg.reduce
    options = dict(n_components=rc.n_components, n_neighbors=rc.n_neighbors, min_dist=rc.min_dist)
    results: dict[str, list[np.ndarray]] = {"one run": [], f"{args.runs}-run vote": []}
    rows = []
    for base in [int(s) for s in args.seeds.split(",")]:
        reduced = reduce.reduce_vectors(vectors, seed=base, n_spaces=args.runs, **options)
        spaces = [reduced.cluster_space, *reduced.extra_spaces]
        for name, extra in (("one run", []), (f"{args.runs}-run vote", spaces[1:])):
            topics = cluster.cluster_vectors(spaces[0], vectors, extra_spaces=extra)
            results[name].append(topics)
            k = int(topics.max()) + 1
            sizes = np.bincount(topics[topics >= 0], minlength=k)
            centroids = cluster.topic_centroids(vectors, topics)
            theme_of_topic = hierarchy.group_topics(
                centroids, sizes, papers=vectors, topic_of=topics, seed=base
            )
            themes = np.where(topics >= 0, theme_of_topic[np.maximum(topics, 0)], -1)
            t_nmi, t_ari = agreement(gold, topics)
            h_nmi, h_ari = agreement(gold, themes)
            largest = np.bincount(themes[themes >= 0]).max() / len(themes)
            rows.append(
                f"| {base} | {name} | {k} | {t_nmi:.3f} | {t_ari:.3f} | {theme_of_topic.max() + 1}"
                f" | {h_nmi:.3f} | {h_ari:.3f} | {largest:.0%} |"
            )
            print(rows[-1], flush=True)
    print(
        "\n| base seed | method | topics | topic NMI | topic ARI | themes | theme NMI |"
        " theme ARI | largest theme |\n|---|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(rows))
    for name, runs in results.items():
        pairs = [ari(a.tolist(), b.tolist()) for a, b in itertools.combinations(runs, 2)]
        print(
            f"{name}: topics of different base seeds agree at ARI {np.mean(pairs):.3f} "
            f"(min {np.min(pairs):.3f}, {len(pairs)} pairs)"
        )


if __name__ == "__main__":
    main()
