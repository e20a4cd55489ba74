"""The sharded embedding store (taxonomy/store.py) against the old single-.npz cache.

    python bench/store_bench.py [--rows 1000000] [--shard-rows 50000] [--lookups 20000]
                                [--npz-rows 75000] [--dim 384] [--dir DIR] [--compact]

1. Adds `--rows` stand-in unit vectors (random, float32) in `--shard-rows` shards: time (the
   store's part only: validation, writing, fsync) and size on disk.
2. A fresh process opens the store and looks up `--lookups` random keys, twice with the file
   pages dropped from the page cache first (posix_fadvise DONTNEED: "cold") and once as they are
   ("warm"): time of the first lookup (it builds the index), of a second one, and peak RSS
   (VmHWM; resource.getrusage's ru_maxrss survives exec and reports the parent's size in a
   child), next to the RSS of the bare interpreter with numpy loaded.
3. The old cache (`embed.save_cache` / `embed.load_cache`) at `--npz-rows`: time and size of
   one save, a fresh process loading it and picking `--lookups` vectors (time, peak RSS), and
   what adding 2,048 new vectors costs in each format (old: the whole file is loaded and
   rewritten; store: one new shard).
4. With `--compact`, a full compaction of the `--rows` store into one shard.

Prints one JSON object per measurement and a summary table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

IDENTITY = "bench-model-256"


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM), in MiB.

    resource.getrusage's ru_maxrss is not used alone: Linux carries it over an exec, so a child
    started by a big parent reports the parent's size. VmHWM belongs to the new address space.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return getrusage_mb()


def rss_parts() -> dict[str, float]:
    """Current RSS split into anonymous (private) and file-backed (mapped files) memory, MiB."""
    parts = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:")):
            parts[line.split(":")[0].lower()] = round(int(line.split()[1]) / 1024, 1)
    return parts


def getrusage_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_keys(start: int, stop: int) -> list[str]:
    return [hashlib.sha256(f"paper-{i}".encode()).hexdigest() for i in range(start, stop)]


def unit_block(rows: int, dim: int, seed: int) -> np.ndarray:
    block = np.random.default_rng(seed).standard_normal((rows, dim), dtype=np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    return block


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def drop_page_cache(path: Path) -> None:
    """Ask the kernel to forget the (clean, fsynced) pages of every file under `path`."""
    for file in path.rglob("*.npy"):
        fd = os.open(file, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def child(argv: list[str]) -> None:
    """Run in a fresh interpreter: one measurement, printed as JSON."""
    mode, folder, rows, lookups, dim = argv[0], Path(argv[1]), *map(int, argv[2:5])
    baseline = peak_rss_mb()
    picks = np.random.default_rng(123).choice(rows, lookups, replace=False)
    keys = [hashlib.sha256(f"paper-{i}".encode()).hexdigest() for i in picks]
    result: dict = {"mode": mode, "rss_baseline_mb": round(baseline, 1)}
    if mode == "store":
        from taxonomy.store import EmbeddingStore

        start = time.perf_counter()
        store = EmbeddingStore(folder, IDENTITY, dim)
        vectors, found = store.lookup(keys)
        result["first_lookup_s"] = round(time.perf_counter() - start, 3)
        assert found.all(), "missing keys"
        more = np.random.default_rng(456).choice(rows, lookups, replace=False)
        more_keys = [hashlib.sha256(f"paper-{i}".encode()).hexdigest() for i in more]
        start = time.perf_counter()
        _, found = store.lookup(more_keys)
        result["second_lookup_s"] = round(time.perf_counter() - start, 3)
        assert found.all(), "missing keys"
        result["shards"] = len(store.shard_arrays())
    else:
        from taxonomy.embed import load_cache

        start = time.perf_counter()
        cache = load_cache(folder, "bench-model", dim, 256)
        vectors = np.stack([cache[k] for k in keys])
        result["first_lookup_s"] = round(time.perf_counter() - start, 3)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3), "wrong vectors"
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result |= {f"{k}_mb": v for k, v in rss_parts().items()}  # now: private vs mapped files
    result["getrusage_maxrss_mb"] = round(getrusage_mb(), 1)  # includes the parent's, see above
    print(json.dumps(result))


def in_child(*args: object) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, __file__, "--child", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, **values: object) -> dict:
    print(json.dumps({"measure": name, **values}), flush=True)
    return values


def bench_store(args: argparse.Namespace, root: Path) -> dict:
    from taxonomy.store import EmbeddingStore

    store = EmbeddingStore(root, IDENTITY, args.dim)
    spent = generate = 0.0
    for number, start in enumerate(range(0, args.rows, args.shard_rows)):
        stop = min(start + args.shard_rows, args.rows)
        began = time.perf_counter()
        keys, block = make_keys(start, stop), unit_block(stop - start, args.dim, number)
        generate += time.perf_counter() - began
        began = time.perf_counter()
        store.add(keys, block)
        spent += time.perf_counter() - began
    results = {
        "add": report(
            "store add",
            rows=args.rows,
            shard_rows=args.shard_rows,
            add_s=round(spent, 2),
            generate_s=round(generate, 2),
            disk_mb=round(folder_bytes(store.path) / 2**20, 1),
        )
    }
    del keys, block
    for label, cold in (("cold", True), ("cold again", True), ("warm", False)):
        if cold:
            drop_page_cache(store.path)
        results[label] = report(
            f"store lookup ({label})", **in_child("store", root, args.rows, args.lookups, args.dim)
        )
    if args.compact:
        began = time.perf_counter()
        merged = store.compact()
        results["compact"] = report(
            "store compact",
            merged=merged,
            compact_s=round(time.perf_counter() - began, 2),
            disk_mb=round(folder_bytes(store.path) / 2**20, 1),
        )
    return results


def bench_npz(args: argparse.Namespace, root: Path) -> dict:
    from taxonomy.embed import load_cache, save_cache
    from taxonomy.store import EmbeddingStore

    rows = args.npz_rows
    lookups = min(args.lookups, rows)
    keys = make_keys(0, rows)
    vectors = unit_block(rows, args.dim, 0)
    path = root / "bench-model-256.npz"
    cache = dict(zip(keys, vectors, strict=True))
    began = time.perf_counter()
    save_cache(path, "bench-model", cache, 256)
    results = {
        "save": report(
            "npz save",
            rows=rows,
            save_s=round(time.perf_counter() - began, 2),
            disk_mb=round(path.stat().st_size / 2**20, 1),
        )
    }
    drop_page_cache(root)
    results["cold"] = report("npz load (cold)", **in_child("npz", path, rows, lookups, args.dim))
    results["warm"] = report("npz load (warm)", **in_child("npz", path, rows, lookups, args.dim))

    store = EmbeddingStore(root, IDENTITY, args.dim)
    store.add(keys, vectors)
    drop_page_cache(store.path)
    results["store cold"] = report(
        "store lookup at npz rows (cold)", **in_child("store", root, rows, lookups, args.dim)
    )
    results["store warm"] = report(
        "store lookup at npz rows (warm)", **in_child("store", root, rows, lookups, args.dim)
    )

    new_keys, new_vectors = make_keys(rows, rows + 2048), unit_block(2048, args.dim, 99)
    began = time.perf_counter()
    cache = load_cache(path, "bench-model", args.dim, 256)
    cache.update(zip(new_keys, new_vectors, strict=True))
    save_cache(path, "bench-model", cache, 256)
    old_add = time.perf_counter() - began

    began = time.perf_counter()
    store.add(new_keys, new_vectors)
    new_add = time.perf_counter() - began
    results["add2048"] = report(
        "add 2,048 vectors to a cache of npz rows",
        rows=rows,
        npz_rewrite_s=round(old_add, 2),
        store_shard_s=round(new_add, 3),
    )
    began = time.perf_counter()
    store.import_npz(path)
    results["import"] = report(
        "import_npz of the npz (all rows present already)",
        rows=rows,
        import_s=round(time.perf_counter() - began, 2),
    )
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shard-rows", type=int, default=50_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--npz-rows", type=int, default=75_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temp)")
    parser.add_argument("--compact", action="store_true", help="also time a full compaction")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="store-bench-", dir=args.dir))
    try:
        began = time.perf_counter()
        big = bench_store(args, scratch / "big")
        old = bench_npz(args, scratch / "npz")
        print()
        print(f"store: {args.rows:,} x {args.dim} in {args.shard_rows:,}-row shards")
        print(f"  add {big['add']['add_s']} s, {big['add']['disk_mb']} MiB on disk")
        for label in ("cold", "cold again", "warm"):
            m = big[label]
            print(
                f"  fresh process, {args.lookups:,} lookups ({label}): first "
                f"{m['first_lookup_s']} s (index build included), second "
                f"{m['second_lookup_s']} s, peak RSS {m['peak_rss_mb']} MiB (anon "
                f"{m['rssanon_mb']}, mapped files {m['rssfile_mb']}; interpreter + numpy "
                f"{m['rss_baseline_mb']})"
            )
        if "compact" in big:
            print(f"  full compaction: {big['compact']['compact_s']} s")
        print(f"old npz: {args.npz_rows:,} x {args.dim}")
        print(f"  save {old['save']['save_s']} s, {old['save']['disk_mb']} MiB")
        for label in ("cold", "warm"):
            m = old[label]
            print(
                f"  fresh process, load + pick {min(args.lookups, args.npz_rows):,} ({label}): "
                f"{m['first_lookup_s']} s, peak RSS {m['peak_rss_mb']} MiB"
            )
        for label in ("store cold", "store warm"):
            m = old[label]
            print(
                f"  same rows in the store, one shard, fresh process ({label}): first "
                f"{m['first_lookup_s']} s, peak RSS {m['peak_rss_mb']} MiB "
                f"(anon {m['rssanon_mb']}, mapped files {m['rssfile_mb']})"
            )
        m = old["add2048"]
        print(
            f"  adding 2,048 vectors: npz load+rewrite {m['npz_rewrite_s']} s, "
            f"store shard {m['store_shard_s']} s"
        )
        print(f"total {time.perf_counter() - began:.0f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
