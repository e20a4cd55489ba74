"""Ingest stage: read abstracts from files and folders into a deduplicated `Corpus`.

Supported input (see the modules for details):
- `.txt` / no extension, recognised by content: `Abstract:` lines, `ID | abstract |` table
  dumps, and title/abstract listing pages (`seeds`);
- `.csv`, `.tsv`, `.jsonl`, `.json` (a list of objects), `.parquet` with configurable
  title/abstract/id columns (`tabular`);
- `.bib` entries with an `abstract` field (`bibtex`);
- the user's own embeddings: a vector column in the input, or a `.npy`/`.parquet` file
  (`vectors`; `read_input` returns them with the corpus).
Text formats may be gzipped (`.csv.gz`). Text may be UTF-8, UTF-16/32 (with or without a
BOM) or an 8-bit export (cp1252 / latin-1); binary files are an error (`textio`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.errors import TaxonomyError
from taxonomy.ingest import vectors
from taxonomy.ingest.detect import collect_files, file_format, read_file
from taxonomy.ingest.tabular import Columns
from taxonomy.ingest.textio import DEFAULT_LIMITS, ReadLimits
from taxonomy.models import Corpus, Paper, year_month_from_arxiv_id

__all__ = ["read_corpus", "read_input", "GivenVectors", "deduplicate", "ReadLimits"]


@dataclass(frozen=True)
class GivenVectors:
    """The user's own vectors, by text hash (or paper id), with where they came from."""

    by_key: dict[str, np.ndarray]
    path: str  # the file (or files) to name in errors
    field: str  # input.embeddings or input.vector_column

    def for_corpus(self, corpus: Corpus) -> np.ndarray:
        """[n, dim] unit vectors, one per paper of `corpus` (in its order)."""
        return vectors.aligned(corpus, self.by_key, self.path, self.field)


def read_input(
    paths: list[Path],
    *,
    embeddings: str | Path | None = None,
    vector_column: str | None = None,
    **options: Any,
) -> tuple[Corpus, GivenVectors | None]:
    """`read_corpus`, plus the user's own vectors when `embeddings` (a .npy or .parquet file,
    input.embeddings) or `vector_column` (a column of the input, input.vector_column) is set;
    see `taxonomy.ingest.vectors`."""
    if embeddings is None and vector_column is None:
        return read_corpus(paths, **options), None
    sink = vectors.VectorSink(vector_column) if vector_column and embeddings is None else None
    records: list[Paper] = []
    corpus = read_corpus(paths, records=records, sink=sink, **options)
    if sink is not None:
        shown = ", ".join(str(p) for p in paths)
        return corpus, GivenVectors(sink.by_key, shown, vectors.COLUMN_FIELD)
    path = Path(embeddings)  # type: ignore[arg-type]
    if not path.is_file():
        raise TaxonomyError(f"{vectors.FILE_FIELD}: no such file", path=path)
    if file_format(path) == ".npy":
        by_key = vectors.read_npy(path, len(records), records)
        return corpus, GivenVectors(by_key, str(path), vectors.FILE_FIELD)
    if file_format(path) == ".parquet":
        by_id, column = vectors.read_parquet(path, vector_column)
        return corpus, GivenVectors(by_id, str(path), f"{vectors.FILE_FIELD} column {column!r}")
    raise TaxonomyError(f"{vectors.FILE_FIELD}: expected a .npy or .parquet file", path=path)


def read_corpus(
    paths: list[Path],
    *,
    title_column: str = "title",
    abstract_column: str = "abstract",
    id_column: str | None = "arxiv_id",
    exclude_sources: tuple[str, ...] = (),
    limits: ReadLimits = DEFAULT_LIMITS,
    records: list[Paper] | None = None,
    sink: vectors.VectorSink | None = None,
) -> Corpus:
    """Read every supported file under `paths` and deduplicate the records by abstract.

    Raises TaxonomyError (naming the file and line) for unreadable or malformed input, a
    file without records, a file past `limits` (size, lines, compression ratio: the config's
    `input.max_bytes`/`max_lines`/`max_ratio`, `ReadLimits.from_config(cfg.input)`), and an
    input that yields no abstracts at all. `records` (a list) receives every record read,
    before deduplication; `sink` collects each record's vector (`read_input`).
    """
    column = sink.column if sink is not None else None
    columns = Columns(title=title_column, abstract=abstract_column, id=id_column, vector=column)
    records = [] if records is None else records
    for path in collect_files([Path(p) for p in paths], tuple(exclude_sources)):
        papers = read_file(path, columns, limits, sink)
        if not papers:
            # Most often a wrong column name or a format we misread: silence would hide it.
            raise TaxonomyError("no abstracts found in this file", path=path)
        records.extend(papers)
    if not records:
        where = ", ".join(str(p) for p in paths) or "(no input paths)"
        raise TaxonomyError(f"no abstracts found in {where}")
    return Corpus(papers=deduplicate(records), n_records=len(records))


# Two scrapes of one abstract can differ in quotes, dashes, spacing or a stray markup token
# ("sim4.4" vs "4.4"); beyond exact-text matches, records whose letters and digits are at
# least this similar, and which share their opening or closing words, are one paper.
NEAR_DUPLICATE_RATIO = 0.97
_ANCHOR = 80  # characters of the canonical text used to find near-duplicate candidates


def _canonical(text: str) -> str:
    """The text's letters and digits, lower-cased (NFKC)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    if folded.isascii():  # the usual case: one C-level byte deletion instead of a char loop
        return folded.encode("ascii").translate(None, _NOT_ALNUM_ASCII).decode("ascii")
    return "".join(ch for ch in folded if ch.isalnum())


_NOT_ALNUM_ASCII = bytes(c for c in range(128) if not chr(c).isdigit() and not "a" <= chr(c) <= "z")


def _near_duplicate_of(
    record: Paper, canon: str, anchors: dict[str, list[str]], by_key: dict[str, Paper]
) -> str | None:
    for anchor in (canon[:_ANCHOR], canon[-_ANCHOR:]):
        for key in anchors.get(anchor, []):
            other = by_key[key]
            if record.arxiv_id and other.arxiv_id and record.arxiv_id != other.arxiv_id:
                continue  # two different arXiv papers, however similar
            # recomputed, not kept: candidates are few, every paper's canonical text is ~1 GB
            # at 1M papers
            matcher = SequenceMatcher(None, canon, _canonical(other.abstract), autojunk=False)
            # length and letter-count bounds first: ratio() is quadratic, and templated
            # abstracts share openings with many others (the bounds never exceed ratio())
            if (
                matcher.real_quick_ratio() >= NEAR_DUPLICATE_RATIO
                and matcher.quick_ratio() >= NEAR_DUPLICATE_RATIO
                and matcher.ratio() >= NEAR_DUPLICATE_RATIO
            ):
                return key
    return None


def deduplicate(records: Iterable[Paper]) -> list[Paper]:
    """Unique abstracts in first-seen order; later copies only fill in missing fields.

    Paper ids must be unique, so an arXiv id already held by a different abstract is
    dropped from the later record (it then falls back to its hash id).
    """
    by_key: dict[str, Paper] = {}
    owner: dict[str, str] = {}  # arXiv id -> key of the abstract that holds it
    anchors: dict[str, list[str]] = {}  # opening/closing canonical text -> keys

    def free_id(arxiv_id: str | None, key: str) -> str | None:
        if arxiv_id is None or owner.setdefault(arxiv_id, key) != key:
            return None
        return arxiv_id

    for record in records:
        key = record.key
        if key not in by_key:
            canon = _canonical(record.abstract)
            key = _near_duplicate_of(record, canon, anchors, by_key) or key
        first = by_key.get(key)
        if first is None:
            arxiv_id = free_id(record.arxiv_id, key)
            # the record itself when unchanged: it keeps its computed `key`
            by_key[key] = record if arxiv_id == record.arxiv_id else replace(record, arxiv_id=None)
            for anchor in {canon[:_ANCHOR], canon[-_ANCHOR:]}:
                anchors.setdefault(anchor, []).append(key)
            continue
        arxiv_id = first.arxiv_id or free_id(record.arxiv_id, key)
        merged = replace(
            first,
            title=first.title or record.title,
            arxiv_id=arxiv_id,
            year_month=first.year_month or year_month_from_arxiv_id(arxiv_id) or record.year_month,
        )
        by_key[key] = first if merged == first else merged
    return list(by_key.values())


def read_frame(
    frame: Any,
    *,
    title_column: str = "title",
    abstract_column: str = "abstract",
    id_column: str | None = "arxiv_id",
    vector_column: str | None = None,
) -> tuple[Corpus, np.ndarray | None]:
    """A pandas DataFrame as papers, one per row and in row order (not deduplicated, so
    results line up with the frame); values are cleaned as from a file. A row without an
    abstract is an error naming it. `vector_column`: the column of per-row vectors."""
    from taxonomy.ingest.tabular import _scalar, rows_to_papers

    source = Path("<DataFrame>")
    names = [str(c) for c in frame.columns]
    vector = vector_column if vector_column in names else None
    if vector_column and vector is None:
        raise TaxonomyError(
            f"input.vector_column: no {vector_column!r} column; columns are: {', '.join(names)}",
            path=source,
        )
    rows = [
        (
            i,
            {
                c: v if c == vector else _scalar(_plain(v))
                for c, v in zip(names, values, strict=True)
            },
        )
        for i, values in enumerate(frame.itertuples(index=False, name=None))
    ]
    columns = Columns(title=title_column, abstract=abstract_column, id=id_column)
    sink = vectors.VectorSink(vector) if vector else None
    papers = rows_to_papers(rows, columns, source, sink)
    if len(papers) != len(rows):
        kept = {p.line for p in papers}
        first = next(i for i, _ in rows if i not in kept)
        raise TaxonomyError(
            f"{len(rows) - len(papers)} row(s) without an abstract (first: row {first}, "
            f"column {abstract_column!r}); drop them first",
            path=source,
        )
    papers = [replace(p, line=None) for p in papers]
    corpus = Corpus(papers, len(papers))
    if sink is None:
        return corpus, None
    return corpus, vectors.unit_rows(np.stack(sink.rows), source, vectors.COLUMN_FIELD)


def _plain(value: Any) -> Any:
    """pandas/numpy missing values as None, numpy scalars as Python ones."""
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value) is True:
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value
