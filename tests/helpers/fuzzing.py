"""Shared pieces of the fuzz tests: hypothesis settings, scratch folders, text fragments."""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from taxonomy.errors import TaxonomyError

MB = 1_000_000


def fuzz(cases: int) -> settings:
    """Hypothesis settings running exactly `cases` derandomised examples, no deadline."""
    return settings(
        max_examples=cases,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FRAGMENTS = [
    "Abstract:",
    "Title: ",
    "abstract",
    "title",
    "arxiv_id",
    "id",
    " | ",
    "|",
    "2303.11366v1",
    "hep-th/9901001",
    "stringlengths 9 1.2k",
    "\n",
    "\r\n",
    "\r",
    ",",
    "\t",
    '"',
    "'",
    "{",
    "}",
    "[",
    "]",
    ":",
    "@article{k,",
    "@comment{",
    "@string{",
    "abstract = ",
    "title = ",
    " # ",
    "=",
    "\\",
    '"\\u0000"',
    '"\\ud800"',
    "null",
    "1e999",
    "NaN",
    "é",
    "\u2028",
    "\x85",
    "\ufeff",
    "\x0c",
    " ",
    "Subscribe",
    "Get trending papers in your email inbox!",
    "Mar 3, 2024",
    "https://arxiv.org/abs/2401.00001",
    "We study sparse attention for long context models. " * 5,
    "x" * 250,
]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"]


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is one folder for all examples)."""
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    if name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def glued(fragments: list[str]) -> st.SearchStrategy[str]:
    """Text glued together from `fragments` and short random strings."""
    return st.lists(st.sampled_from(fragments) | st.text(max_size=8), max_size=30).map("".join)


def loader_outcome(load, path: Path):
    """load(path), or the one-line TaxonomyError naming `path` it raised."""
    try:
        return load(path)
    except TaxonomyError as err:
        assert "\n" not in str(err) and str(path) in str(err), str(err)
        return err
