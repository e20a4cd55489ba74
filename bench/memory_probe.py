"""Where a large run's memory peaks: the summed resident memory of a run and its background
process, sampled every 0.2 s, printed at the end of each stage.

    python bench/memory_probe.py 1000000     # after bench/scale.py has prepared that size

Runs `taxonomy.pipeline.run` on bench/scale.py's prepared stand-in corpus of that size (its
cache reset to the stand-in vectors, as `bench/scale.py` does) in a child process, with the
stage progress on; each stage's line carries the peak so far as [tree MB, main MB, background
MB, seconds in]. The final line is the peak of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

SAMPLE_S = 0.2


def _rss_mb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> None:
    import scale

    n = int(sys.argv[1])
    work = REPO / ".cache/bench/scale" / f"n{n}"
    if not (work / "vectors.npy").is_file():
        raise SystemExit(f"prepare it first: python bench/scale.py --sizes {n}")
    scale.reset_cache(work / "cache")
    shutil.rmtree(work / "out", ignore_errors=True)
    settings = {
        "input.paths": [str(work / "papers.jsonl")],
        "input.id_column": "id",
        "curation": None,
        "cache_dir": str(work / "cache"),
    }
    code = (
        "from taxonomy.pipeline import run\n"
        f"run(None, out={str(work / 'out')!r}, progress=True, **{settings!r})\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false")
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache/numba"))
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    peak = [0, 0, 0, 0.0]

    def sample() -> None:
        while proc.poll() is None:
            main_mb = _rss_mb(proc.pid)
            helper_mb = sum(_rss_mb(child) for child in _children(proc.pid))
            if main_mb + helper_mb > peak[0]:
                peak[:] = [main_mb + helper_mb, main_mb, helper_mb, round(time.time() - start, 1)]
            time.sleep(SAMPLE_S)

    threading.Thread(target=sample, daemon=True).start()
    assert proc.stderr is not None
    for line in proc.stderr:
        if "…" in line:
            print(f"{time.time() - start:7.1f} s  {line.strip()}  peak so far {peak}", flush=True)
    proc.wait()
    print(f"peak: {peak[0]} MB ({peak[1]} main + {peak[2]} background) at {peak[3]} s")
    if proc.returncode:
        raise SystemExit(proc.returncode)


if __name__ == "__main__":
    main()
