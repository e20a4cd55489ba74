"""Which files to read, and which reader each one gets.

Known extensions choose the reader; `.txt` and extension-less files are recognised by
their content (see `seeds`). A `.gz` suffix is looked through: `papers.csv.gz` is CSV.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatch
from pathlib import Path

from taxonomy.errors import TaxonomyError
from taxonomy.ingest import tabular
from taxonomy.ingest.bibtex import parse_bibtex
from taxonomy.ingest.dumps import parse_text
from taxonomy.ingest.tabular import Columns
from taxonomy.ingest.textio import DEFAULT_LIMITS, ReadLimits, read_text
from taxonomy.ingest.vectors import VectorSink
from taxonomy.models import Paper

TEXT_FORMATS = frozenset({"", ".txt"})
SUPPORTED = TEXT_FORMATS | {".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".bib"}


def file_format(path: Path) -> str:
    """The format suffix: '.csv' for 'a.csv' and 'a.csv.gz'; '' for no extension."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    return Path(name).suffix


def is_supported(path: Path) -> bool:
    # Parquet is compressed internally and read by pyarrow straight from disk, so no .gz.
    gzipped = path.name.lower().endswith(".gz")
    return file_format(path) in SUPPORTED and not (gzipped and file_format(path) == ".parquet")


def collect_files(paths: Iterable[Path], exclude: tuple[str, ...]) -> list[Path]:
    """Files to read, in order: each argument in turn, folders expanded in sorted order.

    Inside folders hidden entries and unsupported extensions are skipped; a file named
    directly must exist and be supported. Files in `exclude` (names or glob patterns)
    are left out either way; a file reached twice is read once.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = (
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and is_supported(p)
            )
            files.extend(found)
        elif path.is_file():
            if not is_supported(path):
                raise TaxonomyError(
                    f"unsupported file type {file_format(path)!r}; "
                    "use .txt, .csv, .tsv, .jsonl, .json, .parquet or .bib (.gz allowed for text)",
                    path=path,
                )
            files.append(path)
        else:
            raise TaxonomyError("no such file or folder", path=path)
    unique: dict[Path, Path] = {}  # resolved path -> path as given; keeps first position
    for file in files:
        if not any(fnmatch(file.name, pattern) for pattern in exclude):
            unique.setdefault(file.resolve(), file)
    return list(unique.values())


def read_file(
    path: Path,
    columns: Columns,
    limits: ReadLimits = DEFAULT_LIMITS,
    vectors: VectorSink | None = None,
) -> list[Paper]:
    """All records of one file, in file order; errors name the file. With `vectors`, each
    record's vector (input.vector_column) is collected there."""
    fmt = file_format(path)
    if fmt == ".parquet":
        rows = tabular.parquet_rows(path, columns, limits)
        return tabular.rows_to_papers(rows, columns, path, vectors)
    if vectors is not None and fmt not in _TABULAR:
        raise TaxonomyError(
            "input.vector_column: this file has no columns (use Parquet, JSONL, JSON or CSV)",
            path=path,
        )
    text = read_text(path, limits)
    if not text.strip():
        raise TaxonomyError("file is empty", path=path)
    if fmt in _TABULAR:
        return tabular.rows_to_papers(_TABULAR[fmt](text, path), columns, path, vectors)
    if fmt == ".bib":
        return parse_bibtex(text, path)
    return parse_text(text, path)


_TABULAR: dict[str, Callable[[str, Path], Iterable]] = {
    ".csv": lambda text, path: tabular.csv_rows(text, path, ","),
    ".tsv": lambda text, path: tabular.csv_rows(text, path, "\t"),
    ".jsonl": tabular.jsonl_rows,
    ".ndjson": tabular.jsonl_rows,
    ".json": tabular.json_rows,
}
