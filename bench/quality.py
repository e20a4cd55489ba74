"""Theme quality: our pipeline vs BERTopic's defaults on the same cached MiniLM embeddings.

    python bench/quality.py [--datasets seeds,20ng] [--seeds 42,7,123] [--seeds-large 42,7]
                            [--write docs/QUALITY.md]

Datasets (prepared from ../shared at run time by taxonomy.evaluate.datasets, never copied
into the repo):
- seeds: the bundled corpus scored against the hand labels of about half of it
  (shared/eval/seeds_dev_labels.jsonl; the catch-all label `other` is left out);
- 20ng: the 20 Newsgroups test split, headers/quotes/footers stripped as scikit-learn does,
  scored against the 20 newsgroups;
- arxiv: a seeded sample of 20,000 arXiv CS abstracts scored against their primary category
  (coarse and imbalanced: cs.CV, cs.CL and cs.AI are 90 %); not in the default list.
Both methods see the same embeddings from the pipeline's cache (the first 20ng run embeds 7.4k
posts, ~6-10 min on 2 cores). Each method runs once per random seed (`--seeds` for the seeds,
`--seeds-large` for the larger corpora) and is reported as mean ± sd. Unassigned papers
(BERTopic's outlier topic -1, our unassigned) are scored as one extra cluster for both.
The label check lists, for each gold class with at least 8 papers, the label of our topic
holding most of its papers (first seed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache/numba"))
NOTES_MARKER = "<!-- notes: kept when bench/quality.py rewrites this file -->"


def dataset(name: str, cache: Path) -> tuple[list[str], Path, str]:
    """(input paths, labels file, label field) for a dataset name."""
    from taxonomy.evaluate import datasets

    if name == "seeds":
        return [str(REPO / "data/seeds")], SHARED / "eval/seeds_dev_labels.jsonl", "theme"
    if name == "20ng":
        corpus, labels = datasets.write_20newsgroups(SHARED, cache / "eval")
    elif name == "arxiv":
        corpus, labels = datasets.write_arxiv_sample(SHARED, cache / "eval", 20_000)
    else:
        raise SystemExit(f"unknown dataset {name!r}")
    return [str(corpus)], labels, "label"


def frame_for(corpus, topics: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [p.id for p in corpus.papers],
            "arxiv_id": [p.arxiv_id or "" for p in corpus.papers],
            "abstract": [p.abstract for p in corpus.papers],
            "topic_id": ["" if t < 0 else f"t{t}" for t in topics],
            "theme_id": ["" if t < 0 else f"t{t}" for t in topics],
        }
    )


def run_ours(paths: list[str], seed: int, cache: Path) -> tuple[pd.DataFrame, float, object]:
    """Run the default pipeline; seconds exclude embedding (both methods share the cache)."""
    from taxonomy.config import load_config
    from taxonomy.evaluate import read_documents
    from taxonomy.pipeline import run

    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as fresh:
        # Embeddings and compiled code are shared; stage results (UMAP...) are computed anew
        # so the time is a real fit time.
        for shared in ("embeddings", "numba"):
            (cache / shared).mkdir(parents=True, exist_ok=True)
            (Path(fresh) / shared).symlink_to((cache / shared).resolve())
        overrides = {"input.paths": paths, "seed": seed, "cache_dir": fresh, "output.map": False}
        start = time.perf_counter()
        result = run(load_config(None, overrides), out=out)
        seconds = time.perf_counter() - start - result.timings.get("embed", 0.0)
        return read_documents(Path(out) / "documents.csv"), seconds, result


def run_bertopic(corpus, embeddings: np.ndarray, seed: int) -> tuple[pd.DataFrame, float]:
    """BERTopic() as documented, with only UMAP's random_state fixed (its default is unseeded)."""
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
    )
    start = time.perf_counter()
    topics, _ = BERTopic(umap_model=umap_model).fit_transform(corpus.texts, embeddings)
    return frame_for(corpus, np.asarray(topics)), time.perf_counter() - start


def metrics(level: dict, seconds: float) -> dict:
    return {
        "nmi": level["nmi"],
        "ari": level["ari"],
        "harmonic_purity": level["harmonic_purity"],
        "unassigned": 1 - level["coverage_all"],
        "clusters": level["n_clusters"],
        "seconds": seconds,
    }


def summarise(rows: list[dict]) -> dict[str, str]:
    out = {}
    for key in rows[0]:
        values = np.array([r[key] for r in rows], dtype=float)
        if key == "clusters":
            out[key] = f"{values.mean():.1f} ({values.min():.0f}–{values.max():.0f})"
        elif key == "seconds":
            out[key] = f"{values.mean():.0f}"
        else:
            out[key] = f"{values.mean():.3f} ± {values.std():.3f}"
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="seeds,20ng")
    parser.add_argument("--seeds", default="42,7,123")
    parser.add_argument("--seeds-large", default="42,7", help="seeds for 20ng and arxiv")
    parser.add_argument("--cache", default=str(REPO / ".cache"))
    parser.add_argument("--write", default=None, help="markdown file to write the report to")
    args = parser.parse_args()

    from taxonomy.embed import embed_texts
    from taxonomy.evaluate import evaluate_run, load_labels

    cache = Path(args.cache)
    started, revision = dt.datetime.now(dt.UTC), commit()
    table = [
        "| dataset | papers | method | level | NMI | ARI | harmonic purity | unassigned "
        "| clusters | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    checks: list[str] = []
    for name in args.datasets.split(","):
        paths, labels_path, field = dataset(name, cache)
        labels = load_labels(labels_path, field)
        ours_topic, ours_theme, bert = [], [], []
        seeds = args.seeds if name == "seeds" else args.seeds_large
        for i, seed in enumerate(int(s) for s in seeds.split(",")):
            docs, seconds, result = run_ours(paths, seed, cache)
            n = len(result.corpus)
            scored = evaluate_run(docs, labels, ignore_labels=("other",))
            ours_topic.append(metrics(scored["levels"]["topic"], seconds))
            ours_theme.append(metrics(scored["levels"]["theme"], seconds))
            if i == 0:
                checks += label_check_lines(name, scored.get("label_check", []))
            embeddings, _ = embed_texts(result.corpus.texts, cache_dir=cache / "embeddings")
            frame, bert_seconds = run_bertopic(result.corpus, embeddings, seed)
            bert_levels = evaluate_run(frame, labels, ignore_labels=("other",))["levels"]
            bert.append(metrics(bert_levels["topic"], bert_seconds))
            print(name, seed, "ours", ours_topic[-1], "bertopic", bert[-1], flush=True)
        for method, level, rows in (
            ("BERTopic defaults", "topic", bert),
            ("taxonomy (ours)", "topic", ours_topic),
            ("taxonomy (ours)", "theme", ours_theme),
        ):
            s = summarise(rows)
            table.append(
                f"| {name} | {n} | {method} | {level} | {s['nmi']} | {s['ari']} | "
                f"{s['harmonic_purity']} | {s['unassigned']} | {s['clusters']} | {s['seconds']} |"
            )
    report = "\n".join(
        [
            "# Quality: taxonomy vs BERTopic defaults",
            "",
            f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, commit {revision}, with",
            f"`python bench/quality.py {' '.join(sys.argv[1:])}`.",
            f"Random seeds: {args.seeds} for the seeds, {args.seeds_large} for larger corpora;",
            "mean ± sd over seeds; clusters: mean (min–max). Unassigned papers are scored as one",
            "extra cluster for both methods. 'fit s': wall time without embedding (shared cache).",
            "",
            *table,
            "",
            *checks,
        ]
    )
    print(report)
    if args.write:
        target = Path(args.write)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Hand-written notes below the marker survive a re-run.
        old = target.read_text(encoding="utf-8") if target.is_file() else ""
        notes = old[old.index(NOTES_MARKER) :] if NOTES_MARKER in old else NOTES_MARKER + "\n"
        target.write_text(report + "\n\n" + notes, encoding="utf-8")


def label_check_lines(name: str, rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = [
        f"## Label check ({name}, first seed)",
        "",
        "For each gold class with at least 8 labelled papers, the label of our topic holding",
        "most of its papers, and the next topics holding at least two of them.",
        "",
        "| gold class | papers | topic label | papers in that topic | also in |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['class']} | {r['papers']} | {r['topic_label']} | {r['in_topic']} | "
        + ", ".join(f"{label} ({n})" for label, n in r.get("also", []))
        + " |"
        for r in rows
    ]
    return [*lines, ""]


if __name__ == "__main__":
    main()
