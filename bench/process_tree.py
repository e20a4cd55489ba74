"""Run a command and measure it as a whole: wall time and the peak of the summed resident memory
of the process and every process it starts (a fit above `taxonomy.background.MIN_PAPERS`
papers runs part of its work in a second process; `getrusage` reports one process's peak, not
the sum).

Resident sizes are sampled from /proc every SAMPLE_S seconds (a peak shorter than that can be
missed); the reported peak is never below the command's own peak as `wait4` reports it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

SAMPLE_S = 0.02


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except (OSError, ValueError):
                continue
    return found


def run_measured(cmd: list[str], **popen: object) -> dict:
    """{stdout, stderr, returncode, wall_s, peak_rss_mb (tree), own_peak_rss_mb}."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(_rss_kb(p) for p in _descendants(proc.pid)))
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda n=name, s=stream: out.__setitem__(n, s.read()))
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    own = usage.ru_maxrss / 1024
    return {
        **out,
        "returncode": os.waitstatus_to_exitcode(status),
        "wall_s": wall,
        "peak_rss_mb": max(peak[0] / 1024, own),
        "own_peak_rss_mb": own,
    }
