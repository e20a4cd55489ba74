"""Theme quality: our pipeline vs BERTopic's defaults on the same MiniLM embeddings.

    python bench/quality.py [--datasets seeds,20ng] [--seeds 42,7,123] [--write docs/QUALITY.md]

Datasets (read from ../shared at run time, never copied into the repo):
- seeds: the bundled corpus scored against the hand labels of about half of it
  (shared/eval/seeds_dev_labels.jsonl; the catch-all label `other` is left out);
- 20ng: the 20 Newsgroups test split (7,532 posts), headers/quotes/footers stripped as
  scikit-learn does, scored against the 20 newsgroup labels.
Every method sees the same cached MiniLM embeddings of the same texts; each is run with several
random seeds and reported as mean ± sd. The first 20ng run embeds 7.5k posts (~6-10 min on 2
cores); later runs hit the cache.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache/numba"))


def prepare_20ng(work: Path) -> tuple[Path, Path]:
    """Write the stripped test split as JSONL abstracts + a labels file keyed by text."""
    from sklearn.datasets._twenty_newsgroups import (
        strip_newsgroup_footer,
        strip_newsgroup_header,
        strip_newsgroup_quoting,
    )

    frame = pd.read_csv(SHARED / "data/20newsgroups/20newsgroups_bydate.csv.gz")
    frame = frame[frame["split"] == "test"]
    text = frame["text"].map(
        lambda s: strip_newsgroup_footer(strip_newsgroup_quoting(strip_newsgroup_header(s)))
    )
    keep = text.str.split().str.len() >= 3  # empty posts carry no topic
    corpus, labels = work / "20ng_test.jsonl", work / "20ng_labels.jsonl"
    with corpus.open("w") as c, labels.open("w") as lab:
        for body, name in zip(text[keep], frame["label_name"][keep], strict=True):
            c.write(json.dumps({"abstract": body}) + "\n")
            lab.write(json.dumps({"abstract": body, "label": name}) + "\n")
    return corpus, labels


def dataset(name: str, work: Path) -> tuple[list[str], Path, str | None]:
    if name == "seeds":
        return [str(REPO / "data/seeds")], SHARED / "eval/seeds_dev_labels.jsonl", "theme"
    corpus, labels = prepare_20ng(work)
    return [str(corpus)], labels, "label"


def frame_for(corpus, topics: np.ndarray, themes: np.ndarray | None = None) -> pd.DataFrame:  # noqa: ANN001
    themes = topics if themes is None else themes
    return pd.DataFrame(
        {
            "id": [p.id for p in corpus.papers],
            "arxiv_id": [p.arxiv_id or "" for p in corpus.papers],
            "abstract": [p.abstract for p in corpus.papers],
            "topic_id": ["" if t < 0 else f"t{t}" for t in topics],
            "theme_id": ["" if t < 0 else f"T{t}" for t in themes],
        }
    )


def score(frame: pd.DataFrame, labels: pd.DataFrame) -> dict:
    from taxonomy.evaluate import evaluate_run

    return evaluate_run(frame, labels, ignore_labels=("other",))["levels"]


def run_ours(paths: list[str], seed: int, cache: Path) -> tuple[pd.DataFrame, float, object]:
    from taxonomy.config import load_config
    from taxonomy.pipeline import run

    cfg = load_config(
        None,
        {
            "input.paths": paths,
            "seed": seed,
            "cache_dir": str(cache),
            "output.map": False,
            "input.id_column": "arxiv_id",
        },
    )
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run(cfg, out=out)
        seconds = time.perf_counter() - start - result.timings.get("embed", 0.0)
        from taxonomy.evaluate import read_documents

        return read_documents(Path(out) / "documents.csv"), seconds, result


def run_bertopic(corpus, embeddings: np.ndarray, seed: int) -> tuple[pd.DataFrame, float]:  # noqa: ANN001
    """BERTopic() as documented, with only UMAP's random_state fixed (its default is unseeded)."""
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
    )
    start = time.perf_counter()
    topics, _ = BERTopic(umap_model=umap_model).fit_transform(corpus.texts, embeddings)
    seconds = time.perf_counter() - start
    return frame_for(corpus, np.asarray(topics)), seconds


def summarise(rows: list[dict]) -> dict[str, str]:
    out = {}
    for key in rows[0]:
        values = np.array([r[key] for r in rows], dtype=float)
        out[key] = (
            f"{values.mean():.3f} ± {values.std():.3f}"
            if key not in {"clusters"}
            else (f"{values.mean():.1f} ({values.min():.0f}–{values.max():.0f})")
        )
    return out


def metrics(level: dict, seconds: float) -> dict:
    return {
        "nmi": level["nmi"],
        "ari": level["ari"],
        "harmonic_purity": level["harmonic_purity"],
        "unassigned": 1 - level["coverage_all"],
        "clusters": level["n_clusters"],
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="seeds,20ng")
    parser.add_argument("--seeds", default="42,7,123,2024")
    parser.add_argument("--cache", default=str(REPO / ".cache"))
    parser.add_argument("--write", default=None, help="markdown file to write the table to")
    args = parser.parse_args()

    from taxonomy.embed import embed_texts
    from taxonomy.evaluate import load_labels

    seeds = [int(s) for s in args.seeds.split(",")]
    cache = Path(args.cache)
    lines = [
        f"Measured {dt.date.today()} on {platform.node()} ({os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}), seeds {seeds}.",
        "",
        "| dataset | method | level | NMI | ARI | harmonic purity | unassigned | clusters "
        "| s (fit) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            paths, labels_path, field = dataset(name, Path(tmp))
            labels = load_labels(labels_path, field)
            ours_topic, ours_theme, bert = [], [], []
            for seed in seeds:
                docs, seconds, result = run_ours(paths, seed, cache)
                levels = score(docs, labels)
                ours_topic.append(metrics(levels["topic"], seconds))
                ours_theme.append(metrics(levels["theme"], seconds))
                embeddings, _ = embed_texts(result.corpus.texts, cache_dir=cache / "embeddings")
                frame, seconds = run_bertopic(result.corpus, embeddings, seed)
                bert.append(metrics(score(frame, labels)["topic"], seconds))
                print(name, seed, "ours", ours_topic[-1], "bertopic", bert[-1], flush=True)
            for method, level, rows in (
                ("BERTopic defaults", "topic", bert),
                ("taxonomy (ours)", "topic", ours_topic),
                ("taxonomy (ours)", "theme", ours_theme),
            ):
                s = summarise(rows)
                lines.append(
                    f"| {name} | {method} | {level} | {s['nmi']} | {s['ari']} | "
                    f"{s['harmonic_purity']} | {s['unassigned']} | {s['clusters']} "
                    f"| {s['seconds']} |"
                )
    table = "\n".join(lines)
    print(table)
    if args.write:
        Path(args.write).write_text(table + "\n")


if __name__ == "__main__":
    main()
