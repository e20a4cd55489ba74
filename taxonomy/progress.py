"""Progress of a run: each stage timed and shown (a spinner or bar on a terminal, plain
timestamped lines elsewhere), and large embedding jobs announced before they start."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from taxonomy.embed import Embedder, Progress


class Stages:
    """Times each stage and shows it: on a terminal a spinner, or a bar where the work is
    countable; elsewhere (a log file, CI) one timestamped line per stage (`12:03:04 reduce …
    12.3 s`) and a line per tenth of countable work; nothing when `show` is False."""

    def __init__(self, show: bool, *, verbose: bool = False, terminal: bool | None = None) -> None:
        self.timings: dict[str, float] = {}
        self.show = show
        self.verbose = verbose  # plain lines also when each stage starts
        self.terminal = sys.stderr.isatty() if terminal is None else terminal

    def note(self, text: str) -> None:
        """A message between the stages (e.g. how much is about to be embedded)."""
        if self.show:
            self._line(text)

    def _line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    @contextmanager
    def __call__(self, name: str, total: int = 0) -> Iterator[Progress | None]:
        start = time.perf_counter()
        if not self.show:
            yield None
        elif not self.terminal:
            if self.verbose:
                self._line(f"{name} …" + (f" 0/{total}" if total else ""))
            yield self._ticks(name, total) if total else None
            self._line(f"{name} … {time.perf_counter() - start:.1f} s")
        elif total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            with Progress(name, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
                task = bar.add_task(name, total=total)
                yield lambda k: bar.advance(task, k)
        else:
            from rich.console import Console

            with Console(stderr=True).status(f"[bold]{name}[/]…"):
                yield None
        # a stage entered twice (placing a large corpus: topics, then positions) adds up
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def _ticks(self, name: str, total: int) -> Progress:
        done, shown = 0, 0

        def tick(k: int) -> None:
            nonlocal done, shown
            done += k
            if done * 10 // total > shown * 10 // total and done < total:
                shown = done
                self._line(f"{name} {done}/{total}")

        return tick


# Embedding more texts than this (not in the cache) is announced before it starts.
ANNOUNCE_EMBEDDING = 200


class Announced:
    """An Embedder that says how many texts it is about to embed when they are many (the
    embed stage calls `chunk(n_missing)` once before encoding)."""

    def __init__(self, inner: Embedder, say: Any, what: str) -> None:
        self.inner, self.say, self.what = inner, say, what
        self.model_name, self.max_tokens, self.dim = inner.model_name, inner.max_tokens, inner.dim

    def chunk(self, n_missing: int) -> int:
        if n_missing > ANNOUNCE_EMBEDDING:
            self.say(
                f"{self.what}: embedding {n_missing} texts not in the cache with {self.model_name}"
            )
        return self.inner.chunk(n_missing)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode(texts)

    def encode_later(self, texts: list[str]) -> Callable[[], np.ndarray]:
        """The inner embedder's `encode_later` where it has one (it may start now), else a
        function that encodes when called."""
        later = getattr(self.inner, "encode_later", None)
        return later(texts) if later is not None else lambda: self.inner.encode(texts)
