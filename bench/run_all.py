"""Speed and memory benchmarks; writes docs/BENCHMARKS.md.   `make bench`

    python bench/run_all.py [--sizes 10000,25000,50000,74723] [--skip-seeds] [--skip-arxiv]

Every measured run is its own Python process (`--worker`); its peak RSS is the peak of the
summed resident memory of that process and any it starts (bench/process_tree.py: a refit of
1,000 papers or more runs part of its work in a background process):
- seeds, cold: a fresh cache folder (embeddings, stage results and numba's compiled code);
- seeds, warm: the same command again (everything cached);
- seeds, from cached embeddings: stage results cleared, embeddings and compiled code kept;
- BERTopic's default pipeline (`BERTopic().fit_transform(texts, embeddings)`) on the same
  embeddings, in the same benchmark run;
- arXiv CS (../shared/data/arxiv_cs_daily_2025_2026) at several sizes, end to end from cached
  embeddings (a seeded random subset per size; the largest is the whole file).
The arXiv embeddings must be in .cache/bench/embeddings (MiniLM on this CPU takes ~65 min for
75k; bench/gpu_embed.py computes them on a GPU, see docs/BENCHMARKS.md). Sizes whose
embeddings are missing are skipped with a note rather than embedded for an hour.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from process_tree import run_measured

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ARXIV = SHARED / "data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz"
BENCH_CACHE = REPO / ".cache/bench"
NUMBA_WARM = REPO / ".cache/numba"
MODEL = "all-MiniLM-L6-v2"
MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")
STAGES = [
    "ingest",
    "embed",
    "lexical",
    "reduce",
    "cluster",
    "assign",
    "curate",
    "label",
    "hierarchy",
]


# ---------------------------------------------------------------- worker (one measured run)
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker_pipeline(spec: dict) -> dict:
    start = time.perf_counter()
    from taxonomy.pipeline import run

    imported = time.perf_counter() - start
    result = run(None, out=spec["out"], **spec["overrides"])
    return {
        "wall_s": time.perf_counter() - start,
        "import_s": imported,
        **run_summary(result),
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_summary(result) -> dict:
    """What a benchmark row reports of a finished `pipeline.run`."""
    html = result.files.get("map")
    return {
        "timings": result.timings,
        "papers": len(result.corpus),
        "topics": len(result.topics),
        "themes": len(result.themes),
        "unassigned": result.unassigned,
        "newly_embedded": result.newly_embedded,
        "html_mb": Path(html).stat().st_size / 2**20 if html else None,
    }


def worker_bertopic(spec: dict) -> dict:
    start = time.perf_counter()
    from bertopic import BERTopic

    from taxonomy.embed import embed_texts
    from taxonomy.ingest import read_corpus

    imported = time.perf_counter() - start
    texts = read_corpus([Path(p) for p in spec["paths"]]).texts
    embeddings, newly = embed_texts(texts, cache_dir=Path(spec["cache_dir"]) / "embeddings")
    assert newly == 0, "BERTopic is timed on cached embeddings only"
    fit_start = time.perf_counter()
    topics, _ = BERTopic().fit_transform(texts, embeddings)
    return {
        "wall_s": time.perf_counter() - start,
        "import_s": imported,
        "fit_s": time.perf_counter() - fit_start,
        "topics": len(set(topics) - {-1}),
        "unassigned": int(sum(t == -1 for t in topics)),
        "peak_rss_mb": _peak_rss_mb(),
    }


# ---------------------------------------------------------------- driver
def measure(kind: str, spec: dict, numba_dir: Path) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_dir), PYTHONPATH=str(REPO))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    cmd = [sys.executable, __file__, "--worker", kind, json.dumps(spec)]
    run = run_measured(cmd, env=env, cwd=REPO)
    if run["returncode"] != 0:
        raise SystemExit(f"benchmark run failed ({kind}):\n{run['stderr'][-4000:]}")
    out = json.loads(run["stdout"].strip().splitlines()[-1])
    out["process_s"] = run["wall_s"]  # interpreter start + imports + run
    out["peak_rss_mb"] = run["peak_rss_mb"]  # with the background process, summed
    return out


def seeds_runs(work: Path) -> dict:
    cache = work / "seeds-cache"
    base = {"cache_dir": str(cache), "input.paths": [str(REPO / "data/seeds")]}
    spec = {"out": str(work / "seeds-out"), "overrides": base}
    cold = measure("pipeline", spec, cache / "numba")
    warm = measure("pipeline", spec, cache / "numba")
    shutil.rmtree(cache / "stages", ignore_errors=True)
    from_embeddings = measure("pipeline", spec, cache / "numba")
    bert_spec = {"paths": base["input.paths"], "cache_dir": str(cache)}
    bertopic = measure("bertopic", bert_spec, cache / "numba")
    return {"cold": cold, "warm": warm, "from_embeddings": from_embeddings, "bertopic": bertopic}


def arxiv_subset(n: int, work: Path) -> Path:
    """A seeded random n-paper subset of the arXiv file (the whole file when n >= its size)."""
    with gzip.open(ARXIV, "rt", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    if n >= len(lines):
        return ARXIV
    random.Random(0).shuffle(lines)
    path = work / f"arxiv-{n}.jsonl"
    path.write_text("".join(lines[:n]), encoding="utf-8")
    return path


def uncached_texts(path: Path) -> list[str]:
    """The subset's texts whose embeddings are not in the bench cache."""
    from taxonomy.embed import open_store
    from taxonomy.ingest import read_corpus
    from taxonomy.models import text_key

    texts = read_corpus([path], id_column="id").texts
    store = open_store(BENCH_CACHE / "embeddings", MODEL, 256, 384)
    _, found = store.lookup([text_key(t) for t in texts])
    return [t for t, hit in zip(texts, found, strict=True) if not hit]


def arxiv_runs(sizes: list[int], work: Path) -> dict:
    results = {}
    for n in sizes:
        path = arxiv_subset(n, work)
        missing = uncached_texts(path)
        if len(missing) > 0.01 * n:
            print(f"arXiv {n}: {len(missing)} embeddings not cached; skipped", file=sys.stderr)
            continue
        if missing:  # a subset keeps the other copy of a few near-duplicates: embed those
            from taxonomy.embed import embed_texts

            embed_texts(missing, cache_dir=BENCH_CACHE / "embeddings")
        cache = work / f"arxiv-cache-{n}"
        cache.mkdir()
        # Embeddings come from the shared bench cache; stage results start empty.
        (cache / "embeddings").symlink_to(BENCH_CACHE / "embeddings", target_is_directory=True)
        overrides = {"cache_dir": str(cache), "input.paths": [str(path)], "input.id_column": "id"}
        spec = {"out": str(work / f"arxiv-out-{n}"), "overrides": overrides}
        print(f"arXiv {n} ...", file=sys.stderr, flush=True)
        results[n] = measure("pipeline", spec, NUMBA_WARM)
        print(json.dumps(results[n]), file=sys.stderr, flush=True)
    return results


def standin_runs(sizes: list[int]) -> list[dict]:
    """Ours vs BERTopic on the same stand-in vectors (bench/scale.py), one process each."""
    sys.path.insert(0, str(REPO / "bench"))
    import scale

    work = BENCH_CACHE / "scale"
    rows = []
    for n in sizes:
        data, cache, npy = scale.prepare(n, work)
        if not rows:  # compile pynndescent's numba code for BERTopic, unmeasured
            scale.warm_bertopic(data, npy, work)
        scale.reset_cache(cache)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        overrides = {
            "cache_dir": str(cache),
            "input.paths": [str(data)],
            "input.id_column": "id",
            "curation": None,
        }
        ours = scale.measure("ours", {"out": str(work / f"n{n}" / "out"), "overrides": overrides})
        bert = scale.measure("bertopic", {"data": str(data), "vectors": str(npy)})
        rows.append({"n": n, "ours": ours, "bertopic": bert, "load": load})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def standin_report(rows: list[dict]) -> list[str]:
    lines = [
        "### Ours vs BERTopic on the same stand-in vectors (bench/scale.py)",
        "",
        "TF-IDF → SVD(384) L2-normalised vectors of arXiv subsets written into the embedding "
        "store; BERTopic gets the same array (`fit_transform(docs, embeddings=V)`, English stop "
        "words). Wall = the whole process (interpreter, imports, run); peak RSS of the process.",
        "",
        "| papers | load at start | ours wall s | ours peak MB | BERTopic wall s | BERTopic "
        "fit_transform s | BERTopic peak MB | ours / BERTopic wall | ours wall / BERTopic "
        "fit_transform | our stages (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        o, b = r["ours"], r["bertopic"]
        stages = ", ".join(f"{k} {v:.0f}" for k, v in o["timings"].items())
        lines.append(
            f"| {r['n']} | {r['load']} | {o['process_s']:.0f} | {o['peak_rss_mb']:.0f} | "
            f"{b['process_s']:.0f} | {b['fit_s']:.0f} | {b['peak_rss_mb']:.0f} | "
            f"{o['process_s'] / b['process_s']:.2f} | {o['process_s'] / b['fit_s']:.2f} | "
            f"{stages} |"
        )
    return [*lines, ""]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    python = platform.python_version()
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, no GPU, Python {python}"


def _row(name: str, r: dict) -> str:
    t = r["timings"]
    cells = " | ".join(f"{t[s]:.1f}" if s in t else "–" for s in STAGES)
    return (
        f"| {name} | {r['papers']} | {r['topics']} | {cells} | {t.get('export', 0):.1f} | "
        f"{sum(t.values()):.1f} | {r['process_s']:.1f} | {r['peak_rss_mb']:.0f} | "
        f"{r['html_mb']:.1f} |"
    )


def report(
    seeds: dict | None, arxiv: dict, loads: list[str], standin: list[dict] | None = None
) -> str:
    head = (
        "| run | papers | topics | "
        + " | ".join(STAGES)
        + " | export | pipeline s | process s | peak RSS MB | HTML MB |\n|"
        + "---|" * (len(STAGES) + 8)
    )
    lines = [
        "## Results of `make bench`",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"Load average (1/5/15 min) at start → end of each bench run: {'; '.join(loads)} — "
        "the 2 cores were "
        "shared with other jobs, so wall times are pessimistic; compare rows within one run.",
        "Command: `make bench` (`python bench/run_all.py`). Seconds per stage from the pipeline's "
        "own timers; `process s` adds interpreter start and imports; peak RSS from "
        "the run's process and its background process, summed (bench/process_tree.py).",
        "",
    ]
    if seeds:
        lines += ["### Seeds (461 papers)", "", head]
        for name in ("cold", "warm", "from_embeddings"):
            lines.append(_row(name.replace("_", " "), seeds[name]))
        bert, ours = seeds["bertopic"], seeds["from_embeddings"]
        ours_s = sum(ours["timings"].values())
        lines += [
            "",
            f"BERTopic's default pipeline on the same cached embeddings: fit {bert['fit_s']:.1f} s "
            f"({bert['topics']} topics, {bert['unassigned']} unassigned), process "
            f"{bert['process_s']:.1f} s, peak RSS {bert['peak_rss_mb']:.0f} MB. Ours from the "
            f"same cached embeddings: {ours_s:.1f} s pipeline, {ours['process_s']:.1f} s process "
            f"→ ratio ours/BERTopic = {ours_s / bert['fit_s']:.2f} (pipeline vs fit), "
            f"{ours['process_s'] / bert['process_s']:.2f} (whole processes). "
            f"Warm re-run: {seeds['warm']['process_s']:.1f} s end to end.",
            "",
        ]
    if standin:
        lines += standin_report(standin)
    if arxiv:
        lines += ["### arXiv CS abstracts, from cached embeddings", "", head]
        for n, r in arxiv.items():
            lines.append(_row(f"arXiv {n}", r))
    return "\n".join(lines) + "\n"


def write_report(path: Path, text: str) -> None:
    """Replace the generated block between MARKERS (hand-written notes around it stay)."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if MARKERS[0] in old and MARKERS[1] in old:
        head, rest = old.split(MARKERS[0], 1)
        text = f"{head}{MARKERS[0]}\n{text}{MARKERS[1]}{rest.split(MARKERS[1], 1)[1]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.path.insert(0, str(REPO))
        func = {"pipeline": worker_pipeline, "bertopic": worker_bertopic}[sys.argv[2]]
        print(json.dumps(func(json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,25000,50000,74728")
    parser.add_argument("--skip-seeds", action="store_true")
    parser.add_argument("--skip-arxiv", action="store_true")
    parser.add_argument(
        "--standin", default="20000,40000", help="sizes of the stand-in comparison ('' skips)"
    )
    parser.add_argument("--merge", action="store_true", help="keep other results in --json")
    parser.add_argument("--write", default=str(REPO / "docs/BENCHMARKS.md"))
    parser.add_argument("--json", default=str(REPO / "docs/benchmarks.json"))
    parser.add_argument("--report-only", action="store_true", help="rewrite --write from --json")
    args = parser.parse_args()
    if args.report_only:
        raw = json.loads(Path(args.json).read_text(encoding="utf-8"))
        arxiv = {int(k): v for k, v in raw.get("arxiv", {}).items()}
        text = report(raw.get("seeds"), arxiv, raw["loads"], raw.get("standin"))
        write_report(Path(args.write), text)
        return
    sys.path.insert(0, str(REPO))
    load_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="taxonomy-bench-") as tmp:
        work = Path(tmp)
        seeds = None if args.skip_seeds else seeds_runs(work)
        sizes = [int(s) for s in args.sizes.split(",") if s]
        arxiv = {} if args.skip_arxiv else arxiv_runs(sizes, work)
        standin = standin_runs([int(s) for s in args.standin.split(",") if s])
    load_end = " ".join(f"{x:.1f}" for x in os.getloadavg())
    sizes_run = ",".join(str(n) for n in arxiv) or "none"
    loads = [f"{load_start} → {load_end} (seeds: {'no' if seeds is None else 'yes'}, {sizes_run})"]
    if args.merge and Path(args.json).is_file():  # keep earlier results not re-measured
        old = json.loads(Path(args.json).read_text(encoding="utf-8"))
        seeds = seeds or old.get("seeds")
        arxiv = {**{int(k): v for k, v in old.get("arxiv", {}).items()}, **arxiv}
        arxiv = dict(sorted(arxiv.items()))
        loads = old.get("loads", []) + loads
        standin = standin or old.get("standin")
    text = report(seeds, arxiv, loads, standin)
    print(text)
    write_report(Path(args.write), text)
    raw = {
        "seeds": seeds,
        "arxiv": arxiv,
        "standin": standin,
        "machine": machine(),
        "loads": loads,
    }
    Path(args.json).write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
