"""Labelled benchmark corpora built from ../shared at run time (never copied into the repo).

    python bench/corpora.py [--embed]      # write them (and embed into .cache/embeddings)

- arxiv-a/b/c: three arXiv CS samples of 11-12 primary categories × up to 200 papers, each
  with its own categories and sampling seed. Every category's papers are first drawn into a
  fixed pool of POOL papers (pool seed 0); a sample draws its 200 from that pool with its own
  seed, so the three samples differ but together need about 3,500 embeddings.
- 20ng-2k: 100 posts per newsgroup of the 20 Newsgroups test split (headers, quotes and
  footers stripped as scikit-learn does), so its embeddings fit the CPU budget.
- seeds: the bundled corpus with the hand labels of about half of it.
Each returns (input paths, labels file, label field).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

PER_CATEGORY = 200
POOL = 300
ARXIV_SAMPLES: dict[str, tuple[int, tuple[str, ...]]] = {
    # name: (sampling seed, primary categories)
    "arxiv-a": (
        1,
        "cs.CV cs.CL cs.AI cs.IT cs.LG cs.GR cs.GT eess.IV cs.CE cs.RO cs.HC cs.IR".split(),
    ),
    "arxiv-b": (
        2,
        "cs.CV cs.CL cs.IT cs.GT cs.RO cs.CE cs.GR eess.IV cs.SD cs.CR cs.HC".split(),
    ),
    "arxiv-c": (
        3,
        "cs.CL cs.AI cs.LG cs.IT cs.GR cs.GT cs.CE cs.IR cs.SD eess.SY cs.CY cs.SE".split(),
    ),
}
NEWSGROUPS_PER_GROUP = 100
DATASETS = ("seeds", *ARXIV_SAMPLES, "20ng-2k")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    tmp.replace(path)


def arxiv_sample(name: str, out_dir: Path) -> tuple[Path, Path]:
    corpus, labels = out_dir / f"{name}.jsonl", out_dir / f"{name}_labels.jsonl"
    if corpus.is_file() and labels.is_file():
        return corpus, labels
    seed, categories = ARXIV_SAMPLES[name]
    frame = pd.read_json(
        SHARED / "data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz", lines=True
    )
    picked = []
    for category in categories:
        rows = frame[frame["primary_category"] == category].sort_values("id")
        pool = rows.iloc[np.random.default_rng(0).permutation(len(rows))[:POOL]]
        take = np.random.default_rng(seed).permutation(len(pool))[:PER_CATEGORY]
        picked.append(pool.iloc[np.sort(take)])
    rows = pd.concat(picked).sort_values("id")
    _write_jsonl(
        corpus,
        [{"arxiv_id": r.id, "title": r.title, "abstract": r.abstract} for r in rows.itertuples()],
    )
    _write_jsonl(
        labels, [{"arxiv_id": r.id, "label": r.primary_category} for r in rows.itertuples()]
    )
    return corpus, labels


def newsgroups_sample(out_dir: Path) -> tuple[Path, Path]:
    from taxonomy.evaluate.datasets import NEWSGROUPS_FILE, newsgroups_rows

    corpus, labels = out_dir / "20ng-2k.jsonl", out_dir / "20ng-2k_labels.jsonl"
    if corpus.is_file() and labels.is_file():
        return corpus, labels
    rows = newsgroups_rows(pd.read_csv(SHARED / NEWSGROUPS_FILE), "test")
    by_group: dict[str, list[str]] = {}
    for body, label in rows:
        by_group.setdefault(label, []).append(body)
    chosen = []
    rng = np.random.default_rng(0)
    for label in sorted(by_group):
        bodies = by_group[label]
        for i in np.sort(rng.permutation(len(bodies))[:NEWSGROUPS_PER_GROUP]):
            chosen.append((bodies[i], label))
    _write_jsonl(corpus, [{"abstract": b} for b, _ in chosen])
    _write_jsonl(labels, [{"abstract": b, "label": lab} for b, lab in chosen])
    return corpus, labels


def dataset(name: str, cache: Path) -> tuple[list[str], Path, str]:
    """(input paths, labels file, label field) for a dataset name."""
    out = cache / "bench"
    if name == "seeds":
        return [str(REPO / "data/seeds")], SHARED / "eval/seeds_dev_labels.jsonl", "theme"
    if name in ARXIV_SAMPLES:
        corpus, labels = arxiv_sample(name, out)
    elif name == "20ng-2k":
        corpus, labels = newsgroups_sample(out)
    else:
        raise SystemExit(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return [str(corpus)], labels, "label"


def corpus_texts(paths: list[str]) -> list[str]:
    from taxonomy.ingest import read_corpus

    return read_corpus([Path(p) for p in paths]).texts


def main() -> None:
    from taxonomy.embed import embed_texts

    cache = REPO / ".cache"
    for name in DATASETS:
        paths, labels, _ = dataset(name, cache)
        texts = corpus_texts(paths)
        print(name, len(texts), flush=True)
        if "--embed" in sys.argv:
            _, new = embed_texts(texts, cache_dir=cache / "embeddings")
            print("  newly embedded", new, flush=True)


if __name__ == "__main__":
    main()
