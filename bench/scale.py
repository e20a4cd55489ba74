"""Speed at scale with stand-in vectors: ours vs BERTopic in the same run, and 250k-1M papers.

    python bench/scale.py --sizes 20000,40000 --bertopic     # the comparison (issue 17)
    python bench/scale.py --sizes 250000,1000000             # scale, ours only

No text is embedded (MiniLM on this CPU takes ~65 min for 75k). Per size, the papers are
- up to 74,728: a seeded random subset of the arXiv CS file (../shared/data/...);
- above: the arXiv papers plus synthetic ones, each the first half of one arXiv abstract joined
  to the second half of another (and the same for titles): real vocabulary, unique texts;
and their stand-in vectors are TF-IDF -> TruncatedSVD(384) (fitted on 20,000 of them),
L2-normalised, written into the project's embedding store under the texts' keys with the
store's own writer, exactly where `taxonomy run` looks them up. BERTopic gets the very same
array (`BERTopic(vectorizer_model=CountVectorizer(stop_words="english")).fit_transform(docs,
embeddings=V)`, otherwise its defaults).

Every measured run is its own process (`bench/run_all.py --worker`): wall time from process
start to exit and peak RSS (`getrusage` of the child) are the process's own. The label stage
embeds its candidate phrases with the real MiniLM (as a run does; they are cached for the
next run), so ours pays the model load and those phrases in every fresh cache.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from process_tree import run_measured

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ARXIV = REPO.parent / "shared/data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz"
if not ARXIV.is_file():
    ARXIV = Path("/work/shared/data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz")
MODEL, TOKENS, DIM = "all-MiniLM-L6-v2", 256, 384


def arxiv_records() -> list[dict]:
    with gzip.open(ARXIV, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _mix(a: str, b: str, run: int) -> str:
    """Runs of `run` words taken in turn from the first half of a and the second half of b:
    real vocabulary, the usual length, and an opening and a closing no other text has (ingest
    compares texts sharing those as near-duplicates)."""
    wa, wb = _halves(a)[0].split(), _halves(b)[1].split()  # an abstract's usual length
    size = min(len(wa), len(wb))  # so the text opens and closes with a run of each
    wa, wb = wa[:size], wb[:size]
    out: list[str] = []
    for start in range(0, max(len(wa), len(wb)), run):
        out += wa[start : start + run] + wb[start : start + run]
    return " ".join(out)


def _halves(text: str) -> tuple[str, str]:
    words = text.split()
    cut = len(words) // 2
    return " ".join(words[:cut]), " ".join(words[cut:])


def papers(n: int, seed: int = 0) -> list[dict]:
    """n records {id, title, abstract}: an arXiv subset, or all of it plus synthetic ones."""
    records = arxiv_records()
    rng = random.Random(seed)
    rng.shuffle(records)
    if n <= len(records):
        return [{k: r[k] for k in ("id", "title", "abstract")} for r in records[:n]]
    out = [{k: r[k] for k in ("id", "title", "abstract")} for r in records]
    m = len(records)
    gen = np.random.default_rng(seed)
    while len(out) < n:
        k = min(n - len(out), 100_000)
        a, b = gen.integers(0, m, k), gen.integers(0, m, k)
        for i, j in zip(a.tolist(), b.tolist(), strict=True):
            ra, rb = records[i], records[j]
            head, _ = _halves(ra["abstract"])
            _, tail = _halves(rb["abstract"])
            th, _ = _halves(ra["title"])
            _, tt = _halves(rb["title"])
            out.append(
                {"id": f"syn-{len(out)}", "title": f"{th} {tt}", "abstract": f"{head} {tail}"}
            )
    return out


def write_input(records: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for r in records:
            handle.write(json.dumps(r, ensure_ascii=False) + "\n")


def standin_vectors(texts: list[str], seed: int = 0) -> np.ndarray:
    """TF-IDF -> SVD(384), L2-normalised; fitted on 20,000 texts, the rest projected."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(seed)
    fit = rng.choice(len(texts), min(20_000, len(texts)), replace=False)
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2, max_features=50_000)
    svd = TruncatedSVD(DIM, random_state=seed)
    svd.fit(tfidf.fit_transform([texts[i] for i in fit]))
    out = np.empty((len(texts), DIM), np.float32)
    for start in range(0, len(texts), 50_000):
        block = svd.transform(tfidf.transform(texts[start : start + 50_000]))
        out[start : start + 50_000] = normalize(block)
    return out


def grown(n: int, work: Path) -> tuple[list[dict], np.ndarray]:
    """n records and stand-in vectors from the BASE-paper set: its papers, then synthetic ones
    (runs of words of paper a and paper b in turn, a != b, each pair once) whose vector is the
    normalised sum of a's and b's: no TF-IDF over a million texts."""
    from taxonomy.ingest import read_corpus

    data, _, npy = prepare(BASE, work)
    base = read_corpus([data], id_column="id").papers
    vectors = np.load(npy)
    assert len(base) == len(vectors)
    records = [{"id": p.id, "title": p.title, "abstract": p.abstract} for p in base]
    m, gen, seen = len(base), np.random.default_rng(1), set()
    pairs = []
    while len(records) + len(pairs) < n:
        a, b = gen.integers(0, m, 2).tolist()
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            pairs.append((a, b))
    for a, b in pairs:
        ra, rb = records[a], records[b]
        records.append(
            {
                "id": f"syn-{len(records)}",
                "title": _mix(ra["title"], rb["title"], 3),
                "abstract": _mix(ra["abstract"], rb["abstract"], 6),
            }
        )
    pa, pb = np.array(pairs, np.int64).reshape(-1, 2).T
    extra = vectors[pa] + vectors[pb]
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return records, np.vstack([vectors, extra.astype(np.float32)])


BASE = 40_000  # larger corpora grow from this prepared set


def prepare(n: int, work: Path) -> tuple[Path, Path, Path]:
    """(input JSONL, cache dir holding the stand-in vectors, vectors .npy for BERTopic)."""
    from taxonomy.ingest import read_corpus

    folder = work / f"n{n}"
    data, cache, npy = folder / "papers.jsonl", folder / "cache", folder / "vectors.npy"
    if npy.is_file():
        return data, cache, npy
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if n > BASE:
        records, vectors = grown(n, work)
        write_input(records, data)
        texts = read_corpus([data], id_column="id").texts
        assert len(texts) == len(vectors), "synthetic texts must all be distinct"
    else:
        write_input(papers(n), data)
        texts = read_corpus([data], id_column="id").texts  # as the run reads them
        vectors = standin_vectors(texts)
    np.save(npy, vectors)
    write_standins(folder, texts, vectors)
    print(f"prepared {len(texts)} papers in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return data, cache, npy


def write_standins(
    folder: Path, texts: list[str] | None = None, vectors: np.ndarray | None = None
) -> None:
    """The stand-in vectors written into the folder's embedding store under their texts'
    keys (by default the folder's papers.jsonl and vectors.npy), and the list of its shards
    (shards.json: what `reset_cache` keeps)."""
    from taxonomy.embed import open_store
    from taxonomy.ingest import read_corpus
    from taxonomy.models import text_key

    if texts is None:
        texts = read_corpus([folder / "papers.jsonl"], id_column="id").texts
    if vectors is None:
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    store = open_store(folder / "cache" / "embeddings", MODEL, TOKENS, DIM)
    with store.writer(100_000) as writer:
        for start in range(0, len(texts), 100_000):
            chunk = texts[start : start + 100_000]
            writer.add([text_key(t) for t in chunk], vectors[start : start + 100_000])
    (folder / "shards.json").write_text(json.dumps(sorted(p.name for p in store.path.iterdir())))


# ---------------------------------------------------------------- workers (own processes)
def reset_cache(cache: Path) -> None:
    """Only the stand-in vectors: stage results and label phrases embedded by an earlier run
    are removed, so every run starts from the same cache."""
    import shutil

    kept = set(json.loads((cache.parent / "shards.json").read_text()))
    store = cache / "embeddings" / f"{MODEL}-{TOKENS}"
    if not kept <= {path.name for path in store.iterdir()}:
        # the store merged them with later runs' phrase shards (automatic compaction of
        # small shards): written again, or every run would embed the corpus with MiniLM
        shutil.rmtree(cache / "embeddings")
        write_standins(cache.parent)
        kept = set(json.loads((cache.parent / "shards.json").read_text()))
    for path in store.iterdir():
        if path.name not in kept:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(cache / "stages", ignore_errors=True)


def worker_ours(spec: dict) -> dict:
    start = time.perf_counter()
    from run_all import run_summary

    from taxonomy.pipeline import run

    result = run(None, out=spec["out"], **spec["overrides"])
    return {**run_summary(result), "inside_s": time.perf_counter() - start}


def worker_bertopic(spec: dict) -> dict:
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer

    from taxonomy.ingest import read_corpus

    texts = read_corpus([Path(spec["data"])], id_column="id").texts
    vectors = np.load(spec["vectors"])
    fit_start = time.perf_counter()
    model = BERTopic(vectorizer_model=CountVectorizer(stop_words="english"))
    topics, _ = model.fit_transform(texts, embeddings=vectors)
    return {
        "fit_s": time.perf_counter() - fit_start,
        "topics": len(set(topics) - {-1}),
        "unassigned": int(sum(t == -1 for t in topics)),
    }


def measure(kind: str, spec: dict) -> dict:
    """Run a worker in a fresh process: its wall time and the peak RSS of it and its children."""
    env = dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false")
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache/numba"))
    cmd = [sys.executable, __file__, "--worker", kind, json.dumps(spec)]
    run = run_measured(cmd, env=env, cwd=REPO)
    if run["returncode"] != 0:
        raise SystemExit(f"{kind} run failed ({run['returncode']}):\n{run['stderr'][-4000:]}")
    out = json.loads(run["stdout"].strip().splitlines()[-1])
    out["process_s"] = run["wall_s"]
    # the process and the background process it starts, summed (bench/process_tree.py)
    out["peak_rss_mb"] = run["peak_rss_mb"]
    out["main_peak_rss_mb"] = run["own_peak_rss_mb"]
    return out


def warm_bertopic(data: Path, npy: Path, work: Path) -> None:
    """One unmeasured BERTopic fit on 2,000 papers: numba's compiled code is then cached."""
    from taxonomy.ingest import read_corpus

    texts = read_corpus([data], id_column="id").texts[:2000]
    warm = work / "warm.npy"
    np.save(warm, np.load(npy)[: len(texts)])
    head = work / "warm.jsonl"
    write_input([{"id": str(i), "title": "", "abstract": t} for i, t in enumerate(texts)], head)
    measure("bertopic", {"data": str(head), "vectors": str(warm)})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        func = {"ours": worker_ours, "bertopic": worker_bertopic}[sys.argv[2]]
        print(json.dumps(func(json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,40000")
    parser.add_argument("--bertopic", action="store_true", help="also run BERTopic")
    parser.add_argument("--work", default=str(REPO / ".cache/bench/scale"))
    parser.add_argument("--json", default=None, help="append results to this JSON file")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(args.work)
    results = []
    if args.bertopic:  # compile pynndescent's numba code into the cache, unmeasured
        data, _, npy = prepare(int(args.sizes.split(",")[0]), work)
        warm_bertopic(data, npy, work)
    for n in [int(s) for s in args.sizes.split(",") if s]:
        data, cache, npy = prepare(n, work)
        for rep in range(args.repeat):
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            reset_cache(cache)
            # a fresh fit: an earlier run's outputs would make this run an update of them
            shutil.rmtree(work / f"n{n}" / "out", ignore_errors=True)
            overrides = {
                "cache_dir": str(cache),
                "input.paths": [str(data)],
                "input.id_column": "id",
                "curation": None,
            }
            row = {"n": n, "rep": rep, "load_start": load}
            row["ours"] = measure(
                "ours", {"out": str(work / f"n{n}" / "out"), "overrides": overrides}
            )
            print(json.dumps(row["ours"]), file=sys.stderr, flush=True)
            if args.bertopic:
                row["bertopic"] = measure("bertopic", {"data": str(data), "vectors": str(npy)})
                print(json.dumps(row["bertopic"]), file=sys.stderr, flush=True)
            row["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
            results.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text()) if path.is_file() else []
        path.write_text(json.dumps(old + results, indent=1))


if __name__ == "__main__":
    main()
