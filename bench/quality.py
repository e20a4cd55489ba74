"""Quality on labelled corpora: ours (topic and theme level) vs BERTopic and KMeans on the same
cached MiniLM embeddings, plus a check of every label we produce.

    python bench/quality.py [--datasets seeds,arxiv-a,arxiv-b,arxiv-c,20ng-2k]
                            [--seeds 42,7,123] [--write docs/QUALITY.md]
                            [--set cluster.selection=eom ...]   # try a setting of ours

Datasets are built from ../shared at run time by bench/corpora.py (three arXiv samples of
11-12 primary categories x up to 200 papers, 100 posts per newsgroup, and the seeds with the
hand labels of about half of them); run `python bench/corpora.py --embed` first to fill the
embedding cache (about 5,500 texts). For every dataset and random seed:
- ours: `taxonomy.pipeline.fit` with the defaults (stage results such as UMAP cached in
  `--cache`), scored at the topic and the theme level; "themes before" is the previous theme
  rule (size-weighted k-means of topic centroids, count by the papers' silhouette, kept in
  bench/legacy_themes.py) applied to the very same topics;
- BERTopic as documented, UMAP seeded, followed by `reduce_outliers(strategy="embeddings")`
  and `update_topics` (no outliers left), and BERTopic defaults with its outliers;
- KMeans told the true number of classes, on the unit MiniLM embeddings.
Unassigned papers count as one extra cluster for every method. Per-run results are cached in
`--cache`/bench/results, ours keyed by a hash of taxonomy/ and the `--set` settings (delete to
recompute).

The label check (`taxonomy.naming.label_problems`, the one the tests use) counts, over all
runs, topic labels and theme names that are a single word of tests/generic_words.py, repeat a
word, or are not written as the corpus most often writes them (each half of "A & b"
separately; theme names from a reference scheme are exempt from that last check).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache/numba"))
NOTES_MARKER = "<!-- notes: kept when bench/quality.py rewrites this file -->"

from corpora import DATASETS, dataset  # noqa: E402

from taxonomy.naming import label_problems  # noqa: E402
from tests.generic_words import GENERIC_WORDS  # noqa: E402


def _agreement(gold: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    mask = gold != ""
    p = np.where(pred[mask] >= 0, pred[mask], -1)
    return (
        float(normalized_mutual_info_score(gold[mask], p)),
        float(adjusted_rand_score(gold[mask], p)),
    )


def _row(gold: np.ndarray, pred: np.ndarray, seconds: float = float("nan")) -> dict:
    nmi, ari = _agreement(gold, pred)
    assigned = pred[pred >= 0]
    sizes = np.bincount(assigned) if len(assigned) else np.zeros(1)
    return {
        "nmi": nmi,
        "ari": ari,
        "clusters": int((sizes > 0).sum()),
        "unassigned": float((pred < 0).mean()),
        "largest": float(sizes.max() / len(pred)),
        "seconds": seconds,
    }


def run_ours(name: str, seed: int, cache: Path, overrides: dict | None = None) -> dict:
    from legacy_themes import legacy_group_topics

    from taxonomy import hierarchy, pipeline
    from taxonomy.config import load_config
    from taxonomy.ingest import read_corpus
    from taxonomy.tree import THEME, TOPIC, group_centroids

    paths, labels_path, field = dataset(name, cache)
    corpus = read_corpus([Path(p) for p in paths])
    captured: dict = {}
    original = hierarchy.fit_themes

    def capture(topic_of, vectors, settings, seed_, topic_names=None, **options):
        captured.update(topic_of=np.asarray(topic_of), vectors=np.asarray(vectors))
        start = time.perf_counter()
        fitted = original(topic_of, vectors, settings, seed_, topic_names, **options)
        captured["theme_seconds"] = time.perf_counter() - start
        return fitted

    hierarchy.fit_themes = capture
    try:
        settings = {"seed": seed, "cache_dir": str(cache), "curation": None, "output.map": False}
        cfg = load_config(None, settings | (overrides or {}))
        start = time.perf_counter()
        result = pipeline.fit(corpus, config=cfg)
        seconds = time.perf_counter() - start
    finally:
        hierarchy.fit_themes = original
    from theme_fits import gold_labels

    gold = gold_labels(corpus, labels_path, field)
    tax = result.taxonomy
    topic_of = np.asarray(tax.topic_of)
    themes = np.asarray(tax.layer(THEME))
    n_topics = int(captured["topic_of"].max()) + 1
    cap = captured["topic_of"]
    centroids = group_centroids(captured["vectors"], cap, n_topics)
    sizes = np.bincount(cap[cap >= 0], minlength=n_topics)
    old = legacy_group_topics(centroids, sizes, papers=captured["vectors"], topic_of=cap, seed=seed)
    old_themes = np.where(cap >= 0, old[np.maximum(cap, 0)], -1)
    topic_labels = [tax.labels[i] for i in tax.ids[TOPIC]]
    theme_labels = [tax.labels[i] for i in tax.ids[THEME]]
    from_schemes = [tax.labels[i] for i in tax.ids[THEME] if tax.named_by.get(i) != "corpus"]
    texts = corpus.texts
    return {
        "papers": len(texts),
        "classes": int(len(set(gold[gold != ""]))),
        "topic": _row(gold, topic_of, seconds),
        "theme": _row(gold, themes, captured["theme_seconds"]),
        "theme_before": _row(gold, old_themes),
        "theme_labels": theme_labels,
        "topic_labels": topic_labels,
        "problems": {
            "topic": label_problems(topic_labels, texts, GENERIC_WORDS),
            # a reference scheme's area names are not the corpus's words: no casing check
            "theme": label_problems(theme_labels, texts, GENERIC_WORDS, exempt=from_schemes),
        },
        "_gold": gold.tolist(),
        "_themes": themes.tolist(),
    }


def run_others(name: str, seed: int, cache: Path) -> dict:
    from bertopic import BERTopic
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer
    from theme_fits import gold_labels
    from umap import UMAP

    from taxonomy.embed import embed_texts
    from taxonomy.ingest import read_corpus

    paths, labels_path, field = dataset(name, cache)
    corpus = read_corpus([Path(p) for p in paths])
    texts = corpus.texts
    embeddings, new = embed_texts(texts, cache_dir=cache / "embeddings")
    if new:
        print(f"  ({new} texts embedded)", flush=True)
    gold = gold_labels(corpus, labels_path, field)
    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
    )
    start = time.perf_counter()
    model = BERTopic(umap_model=umap_model)
    topics, _ = model.fit_transform(texts, embeddings)
    bert_seconds = time.perf_counter() - start
    out = {"bertopic": _row(gold, np.asarray(topics), bert_seconds)}
    start = time.perf_counter()
    if (np.asarray(topics) == -1).any():
        reduced = model.reduce_outliers(texts, topics, strategy="embeddings", embeddings=embeddings)
    else:
        reduced = topics
    model.update_topics(texts, topics=reduced, vectorizer_model=CountVectorizer())
    out["bertopic_reduced"] = _row(
        gold, np.asarray(reduced), bert_seconds + time.perf_counter() - start
    )
    k = int(len(set(gold[gold != ""])))
    start = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embeddings)
    out["kmeans"] = _row(gold, km, time.perf_counter() - start)
    return out


def cached(path: Path, compute, *args) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    value = compute(*args)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return value


def summarise(rows: list[dict]) -> dict[str, str]:
    out = {}
    for key in ("nmi", "ari", "clusters", "unassigned", "largest", "seconds"):
        values = np.array([r[key] for r in rows], dtype=float)
        if key == "clusters":
            out[key] = f"{values.mean():.1f} ({values.min():.0f}–{values.max():.0f})"
        elif key == "seconds":
            out[key] = "" if np.isnan(values).all() else f"{np.nanmean(values):.0f}"
        elif key == "largest":
            out[key] = f"{values.max():.0%}"
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


def code_version() -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((REPO / "taxonomy").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"


METHODS = (
    ("BERTopic defaults", "topic", "bertopic"),
    ("BERTopic + reduce_outliers", "topic", "bertopic_reduced"),
    ("KMeans (true k)", "—", "kmeans"),
    ("taxonomy (ours)", "topic", "topic"),
    ("taxonomy, themes before", "theme", "theme_before"),
    ("taxonomy (ours)", "theme", "theme"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="42,7,123")
    parser.add_argument("--cache", default=str(REPO / ".cache"))
    parser.add_argument("--write", default=None, help="markdown file to write the report to")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of ours to try (e.g. cluster.selection=eom); repeatable",
    )
    args = parser.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    cache = Path(args.cache)
    # Our results depend on the code of the stages; the other methods' only on the data.
    variant = "".join(f"+{k}={v}" for k, v in sorted(overrides.items()))
    results = cache / "bench/results" / (code_version() + variant)
    others_dir = cache / "bench/results/others"
    started, revision = dt.datetime.now(dt.UTC), commit()
    table = [
        "| dataset | papers | classes | method | level | NMI | ARI | clusters | unassigned "
        "| largest | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    problems: dict[str, dict[str, list[str]]] = {}
    names_lines: list[str] = []
    seeds = [int(s) for s in args.seeds.split(",")]
    for name in args.datasets.split(","):
        ours, others = [], []
        for seed in seeds:
            ours.append(
                cached(results / f"{name}-{seed}-ours.json", run_ours, name, seed, cache, overrides)
            )
            others.append(
                cached(others_dir / f"{name}-{seed}-others.json", run_others, name, seed, cache)
            )
            print(name, seed, "ours", ours[-1]["topic"], ours[-1]["theme"], flush=True)
            print(name, seed, "others", others[-1], flush=True)
            for level in ("topic", "theme"):
                for kind, labels in ours[-1]["problems"][level].items():
                    problems.setdefault(level, {}).setdefault(kind, []).extend(labels)
        first = ours[0]
        names_lines.append(f"- **{name}** (seed {seeds[0]}): " + "; ".join(first["theme_labels"]))
        for method, level, key in METHODS:
            rows = [o[key] for o in ours] if key in ours[0] else [o[key] for o in others]
            s = summarise(rows)
            table.append(
                f"| {name} | {first['papers']} | {first['classes']} | {method} | {level} | "
                f"{s['nmi']} | {s['ari']} | {s['clusters']} | {s['unassigned']} | "
                f"{s['largest']} | {s['seconds']} |"
            )
    check = [
        "| level | single generic word | repeats a word | not written so in the corpus |",
        "|---|---|---|---|",
    ]
    for level in ("topic", "theme"):
        p = problems.get(level, {})
        check.append(
            f"| {level} | "
            + " | ".join(
                f"{len(p.get(k, []))} "
                + (f"({', '.join(sorted(set(p[k]))[:8])})" if p.get(k) else "")
                for k in ("generic", "repeats", "casing")
            )
            + " |"
        )
    report = "\n".join(
        [
            "# Quality: taxonomy vs BERTopic and KMeans on the same embeddings",
            "",
            f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()} (shared with other jobs),",
            f"commit {revision}, with `python bench/quality.py {' '.join(sys.argv[1:])}`",
            "(after `python bench/corpora.py --embed`). Random seeds "
            f"{args.seeds}: mean ± sd over seeds; clusters: mean (min–max); largest: the",
            "largest cluster's share of all papers, worst seed. Unassigned papers count as one",
            "extra cluster. 's': wall seconds of the fit (ours: pipeline.fit with UMAP results",
            "cached from earlier runs, so not a fit time; theme rows: the theme stage alone).",
            "'themes before' is the previous theme rule on the very same topics.",
            "",
            *table,
            "",
            "## Label check (all runs above)",
            "",
            *check,
            "",
            "## Theme names (first seed)",
            "",
            *names_lines,
            "",
        ]
    )
    print(report)
    if args.write:
        target = Path(args.write)
        old = target.read_text(encoding="utf-8") if target.is_file() else ""
        notes = old[old.index(NOTES_MARKER) :] if NOTES_MARKER in old else NOTES_MARKER + "\n"
        target.write_text(report + "\n" + notes, encoding="utf-8")


if __name__ == "__main__":
    main()
