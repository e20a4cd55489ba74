"""Deterministic stand-in for the sentence model, for fast pipeline tests.

Each text becomes a hashed bag of its words (blake2b, not Python's `hash`, so vectors do not
depend on PYTHONHASHSEED): texts sharing words are similar, as with a real model, and no
model is loaded. `install()` patches it into `taxonomy.embed`; subprocess tests run
`python tests/helpers/fake_embed.py <taxonomy CLI args>`.

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
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384


def fake_embed_texts(texts: Sequence[str], **_: Any) -> tuple[np.ndarray, int]:
    out = np.zeros((len(texts), DIM), np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            out[i, int.from_bytes(digest, "little") % DIM] += 1.0
        if not out[i].any():
            out[i, 0] = 1.0
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out, len(texts)


def install() -> None:
    import taxonomy.embed

    taxonomy.embed.embed_texts = fake_embed_texts


def pause_file_steps() -> None:
    import taxonomy.atomic as atomic

    def paused(kind: str, real):  # noqa: ANN001, ANN202
        def step(path, *args):  # noqa: ANN001, ANN202
            print(f"STEP {kind} {path}", flush=True)
            sys.stdin.readline()
            return real(path, *args)

        return step

    atomic._write_file = paused("write", atomic._write_file)
    atomic._rename = paused("rename", atomic._rename)
    atomic.write_atomic = paused("atomic", atomic.write_atomic)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    install()
    if os.environ.get("STEP_HANDSHAKE"):
        pause_file_steps()
    from taxonomy.cli import app

    app()
