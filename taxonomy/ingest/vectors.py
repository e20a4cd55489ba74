"""The user's own embeddings: a vector column in the input, or a `.npy` / `.parquet` file.

Every source gives one vector per paper; they are checked (one length throughout, finite,
not all zero, one per paper) and scaled to unit length, since every stage compares papers by
cosine. Problems are one TaxonomyError naming the file and the field (`input.embeddings`,
`input.vector_column`), exit code 2 on the command line.

- `input.vector_column` alone: the column of the input files (Parquet list column, or a JSON
  list of numbers in JSONL/JSON/CSV cells) holding each record's vector.
- `input.embeddings: x.npy`: a [records, dim] array, one row per record read, in input order
  (files in the order `input.paths` lists them, folders sorted).
- `input.embeddings: x.parquet`: an `id` column (the papers' ids as documents.csv writes
  them: the arXiv id, else `h` + 12 hex digits of the abstract hash) and a vector column
  (`input.vector_column`, else the first of `embedding`, `vector`, `embeddings`); rows are
  matched by id, extra rows are ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.errors import TaxonomyError
from taxonomy.models import Corpus, Paper

VECTOR_COLUMNS = ("embedding", "vector", "embeddings")
FILE_FIELD = "input.embeddings"
COLUMN_FIELD = "input.vector_column"


def parse_vector(value: Any, where: str, path: Path, line: int | None) -> np.ndarray:
    """One vector from a cell: a list/array of numbers, or its JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise TaxonomyError(
                f"{where}: not a JSON list of numbers: {value[:40]!r}", path=path, line=line
            ) from None
    if value is None:
        raise TaxonomyError(f"{where}: no vector in this record", path=path, line=line)
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TaxonomyError(f"{where}: not a list of numbers", path=path, line=line) from None
    if vector.ndim != 1 or not len(vector):
        raise TaxonomyError(
            f"{where}: expected a flat list of numbers, got shape {vector.shape}",
            path=path,
            line=line,
        )
    return vector


class VectorSink:
    """Collects the vector of each record the readers keep, keyed by the record's text hash
    (the first record of an abstract wins, as in deduplication), checking one length."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.by_key: dict[str, np.ndarray] = {}
        self.rows: list[np.ndarray] = []  # every kept record's vector, in reading order
        self.dim: int | None = None
        self.first: str = ""

    def add(self, paper: Paper, value: Any, path: Path, line: int | None) -> None:
        where = f"{COLUMN_FIELD} {self.column!r}"
        vector = parse_vector(value, where, path, line)
        if self.dim is None:
            self.dim, self.first = len(vector), f"{path.name}" + (f":{line}" if line else "")
        elif len(vector) != self.dim:
            raise TaxonomyError(
                f"{where}: {len(vector)} numbers, expected {self.dim} (as at {self.first})",
                path=path,
                line=line,
            )
        self.by_key.setdefault(paper.key, vector)
        self.rows.append(vector)


def unit_rows(vectors: np.ndarray, path: Path | str, field: str) -> np.ndarray:
    """float32 unit-length rows (already unit ones are kept exactly as given); non-finite or
    all-zero rows are an error naming the row."""
    given = np.asarray(vectors)
    if given.ndim != 2 or given.shape[1] == 0 or given.dtype.kind not in "fiu":
        raise TaxonomyError(
            f"{field}: expected a [papers, dimensions] array of numbers, got shape {given.shape}",
            path=path,
        )
    wide = given.astype(np.float64)
    finite = np.isfinite(wide).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise TaxonomyError(f"{field}: row {row} holds NaN or infinite values", path=path)
    norms = np.linalg.norm(wide, axis=1)
    if (norms == 0).any():
        row = int(np.flatnonzero(norms == 0)[0])
        raise TaxonomyError(f"{field}: row {row} is all zeros", path=path)
    if np.allclose(norms, 1.0, rtol=0, atol=1e-5):
        return given.astype(np.float32)
    return (wide / norms[:, None]).astype(np.float32)


def read_npy(path: Path, n_records: int, records: list[Paper]) -> dict[str, np.ndarray]:
    """{text hash: vector} from a .npy aligned with the records read, in order."""
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise TaxonomyError(f"{FILE_FIELD}: cannot read .npy: {err}", path=path) from None
    if array.ndim != 2 or array.dtype.kind not in "fiu":
        raise TaxonomyError(
            f"{FILE_FIELD}: expected a 2-D array of numbers, got {array.dtype} {array.shape}",
            path=path,
        )
    if len(array) != n_records:
        raise TaxonomyError(
            f"{FILE_FIELD}: {len(array)} rows, but {n_records} records were read "
            "(one row per record read, in input order)",
            path=path,
        )
    by_key: dict[str, np.ndarray] = {}
    for paper, row in zip(records, array, strict=True):
        by_key.setdefault(paper.key, np.asarray(row, np.float64))
    return by_key


def read_parquet(path: Path, column: str | None) -> tuple[dict[str, np.ndarray], str]:
    """({paper id: vector}, vector column) from a .parquet with `id` and a vector column."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises many types; all mean "not readable parquet"
        raise TaxonomyError(f"{FILE_FIELD}: cannot read Parquet file: {err}", path=path) from None
    names = [str(n) for n in table.column_names]
    wanted = [column] if column else list(VECTOR_COLUMNS)
    found = next((name for name in wanted if name in names), None)
    if found is None:
        field = COLUMN_FIELD if column else f"{FILE_FIELD}: vector column"
        raise TaxonomyError(
            f"{field}: no {' / '.join(map(repr, wanted))} column; columns are: {', '.join(names)}",
            path=path,
        )
    if "id" not in names:
        raise TaxonomyError(
            f"{FILE_FIELD}: no 'id' column (the papers' ids); columns are: {', '.join(names)}",
            path=path,
        )
    ids = [None if v is None else str(v) for v in table.column("id").to_pylist()]
    values = table.column(found).to_pylist()
    by_id: dict[str, np.ndarray] = {}
    dim = None
    for row, (pid, value) in enumerate(zip(ids, values, strict=True)):
        where = f"{FILE_FIELD} column {found!r} row {row}"
        vector = parse_vector(value, where, path, None)
        if dim is None:
            dim = len(vector)
        elif len(vector) != dim:
            raise TaxonomyError(f"{where}: {len(vector)} numbers, expected {dim}", path=path)
        if pid is not None:
            by_id.setdefault(pid, vector)
    return by_id, found


def aligned(corpus: Corpus, by_key: dict[str, np.ndarray], path: Path | str, field: str):
    """[n, dim] unit vectors for the corpus's papers from {text hash or paper id: vector}."""
    rows, missing = [], []
    for paper in corpus.papers:
        vector = by_key.get(paper.key)
        if vector is None:
            vector = by_key.get(paper.id)
        if vector is None:
            missing.append(paper.id)
        else:
            rows.append(vector)
    if missing:
        raise TaxonomyError(
            f"{field}: no vector for {len(missing)} of {len(corpus)} papers "
            f"(first: id {missing[0]!r})",
            path=path,
        )
    dims = {len(v) for v in rows}
    if len(dims) > 1:
        raise TaxonomyError(f"{field}: vectors of different lengths {sorted(dims)}", path=path)
    return unit_rows(np.stack(rows) if rows else np.zeros((0, 1)), path, field)
