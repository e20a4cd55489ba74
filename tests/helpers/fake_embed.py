"""Deterministic stand-in for the sentence model, for fast pipeline tests.

Each text becomes a hashed bag of its words (blake2b, not Python's `hash`, so vectors do not
depend on PYTHONHASHSEED): texts sharing words are similar, as with a real model, and no
model is loaded. `FakeEmbedder` implements `taxonomy.embed.Embedder`; the `fake_embedder`
fixture (tests/conftest.py) makes every run in a test use it, and subprocess tests run
`python -m tests.helpers.fake_embed <taxonomy CLI args>` from the repository root.

With STEP_HANDSHAKE=1 in the environment, every file step of the output swap
(`taxonomy.atomic`: staging write, rename, atomic write) first prints `STEP <kind> <path>` on
stdout and waits for a line on stdin, so a test can SIGKILL the run at a chosen step.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Sequence

import numpy as np

DIM = 384


class FakeEmbedder:
    """Hashed bag of words; cached under its own model name, so never mixed with MiniLM."""

    model_name = "fake-bag-of-words"
    max_tokens = 256
    dim = DIM

    def __init__(self) -> None:
        self.calls = 0  # texts encoded (a test can check what the cache saved)

    def chunk(self, n_missing: int) -> int:
        return max(n_missing, 1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), DIM), np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                out[i, int.from_bytes(digest, "little") % DIM] += 1.0
            if not out[i].any():
                out[i, 0] = 1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def install() -> None:
    """Every later run in this process embeds with `FakeEmbedder`."""
    from taxonomy import engines

    engines.use_embedder(FakeEmbedder())


def pause_file_steps() -> None:
    import taxonomy.atomic as atomic

    def paused(kind: str, real):
        def step(path, *args):
            print(f"STEP {kind} {path}", flush=True)
            sys.stdin.readline()
            return real(path, *args)

        return step

    atomic._write_file = paused("write", atomic._write_file)
    atomic._rename = paused("rename", atomic._rename)
    atomic.write_atomic = paused("atomic", atomic.write_atomic)


if __name__ == "__main__":
    install()
    if os.environ.get("STEP_HANDSHAKE"):
        pause_file_steps()
    from taxonomy.cli import app

    app()
