"""Column-oriented input: CSV, TSV, JSON Lines, JSON (a list of objects) and Parquet.

Every reader yields `(line, row)` pairs -- `row` maps column names to strings or None --
and `rows_to_papers` maps the configured columns onto Papers, so column lookup, the
missing-column error and value cleaning live in one place.

CSV/TSV use the standard `csv` module rather than pandas: it reads every value as a
string and reports the physical line where each row starts, even when a quoted abstract
spans several lines. Parquet goes through pandas/pyarrow.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxonomy.errors import TaxonomyError, printable
from taxonomy.ingest.records import make_paper
from taxonomy.ingest.textio import DEFAULT_LIMITS, ReadLimits, line_finder
from taxonomy.ingest.vectors import VectorSink
from taxonomy.models import Paper

log = logging.getLogger(__name__)

Row = Mapping[str, str | None]

# Columns that may hold a publication date; the first present one is used.
DATE_COLUMNS = ("year_month", "date", "published", "publication_date")
# Where to look for arXiv ids when the configured id column is absent (e.g. the arXiv
# listing exports call it 'id'); values that are not arXiv ids are ignored anyway.
ID_COLUMNS = ("arxiv_id", "id", "arxiv", "eprint")

_TOO_DEEP = "JSON nested too deeply to be a record"

# Abstracts are long; the csv module's default 128 KiB field limit is not the place to stop.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Columns:
    title: str = "title"
    abstract: str = "abstract"
    id: str | None = "arxiv_id"
    vector: str | None = None  # input.vector_column: each record's own embedding


def rows_to_papers(
    rows: Iterable[tuple[int | None, Row]],
    columns: Columns,
    path: Path,
    vectors: VectorSink | None = None,
) -> list[Paper]:
    """Papers from rows; rows with an empty abstract are skipped. With `vectors`, each kept
    paper's vector (the `columns.vector` column) goes there."""
    rows = list(rows)
    if not rows:  # a header alone, or blank rows: the caller reports "no abstracts"
        return []
    present = list(dict.fromkeys(name for _, row in rows for name in row))
    abstract = _resolve(columns.abstract, present)
    if abstract is None:
        raise TaxonomyError(
            f"no {columns.abstract!r} column; columns are: {', '.join(present) or '(none)'} "
            "(set input.abstract_column)",
            path=path,
        )
    title = _resolve(columns.title, present)
    id_column = None
    if columns.id:  # None switches ids off altogether
        candidates = [_resolve(name, present) for name in (columns.id, *ID_COLUMNS)]
        id_column = next((column for column in candidates if column), None)
    vector_column = None
    if vectors is not None:
        vector_column = _resolve(vectors.column, present)
        if vector_column is None:
            raise TaxonomyError(
                f"input.vector_column: no {vectors.column!r} column; columns are: "
                f"{', '.join(present)}",
                path=path,
            )
    dates = [_resolve(name, present) for name in DATE_COLUMNS]
    date = next((column for column in dates if column), None)
    papers = []
    lacking = [line for line, row in rows if abstract not in row]
    if lacking:
        # Short CSV rows (fewer fields than the header) and records without the field.
        first = f", first at line {lacking[0]}" if lacking[0] is not None else ""
        log.warning(
            printable(
                f"{path}: skipped {len(lacking)} row(s) without a {abstract!r} field "
                f"(fewer fields than the header, or no such key){first}"
            )
        )
    for line, row in rows:
        paper = make_paper(
            abstract=row.get(abstract),
            title=row.get(title) if title else None,
            arxiv_id=row.get(id_column) if id_column else None,
            date=row.get(date) if date else None,
            source=path.name,
            line=line,
        )
        if paper is not None:
            papers.append(paper)
            if vectors is not None:
                vectors.add(paper, row.get(vector_column), path, line)
    return papers


def _resolve(name: str, present: list[str]) -> str | None:
    """The column called `name`, or its only case-insensitive match ('Abstract')."""
    if name in present:
        return name
    matches = [column for column in present if column.strip().lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None


def csv_rows(text: str, path: Path, delimiter: str) -> Iterator[tuple[int, Row]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(cells) > len(header):
                    raise TaxonomyError(
                        f"row has {len(cells)} fields but the header has {len(header)} "
                        "(unquoted delimiter in a value?)",
                        path=path,
                        line=start,
                    )
                yield start, dict(zip(header, cells, strict=False))
            start = reader.line_num + 1
    except csv.Error as err:
        raise TaxonomyError(f"malformed CSV: {err}", path=path, line=reader.line_num) from err


def jsonl_rows(text: str, path: Path) -> Iterator[tuple[int, Row]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise TaxonomyError(f"malformed JSON line: {err.msg}", path=path, line=number) from err
        except RecursionError:
            raise TaxonomyError(_TOO_DEEP, path=path, line=number) from None
        yield number, _object_row(value, path, number)


def json_rows(text: str, path: Path) -> Iterator[tuple[int, Row]]:
    """Elements of a top-level JSON list, each with the line where it starts.

    The list is walked with `raw_decode` instead of one `json.loads` so that every record
    (and every error) comes with its line number.
    """
    decoder = json.JSONDecoder()
    line_of = line_finder(text)
    pos = _skip_space(text, 0)
    try:
        if text[pos : pos + 1] != "[":
            raise TaxonomyError("expected a JSON list of objects", path=path, line=line_of(pos))
        pos = _skip_space(text, pos + 1)
        while text[pos : pos + 1] != "]":
            try:
                value, end = decoder.raw_decode(text, pos)
            except RecursionError:
                raise TaxonomyError(_TOO_DEEP, path=path, line=line_of(pos)) from None
            yield line_of(pos), _object_row(value, path, line_of(pos))
            pos = _skip_space(text, end)
            if text[pos : pos + 1] == ",":
                pos = _skip_space(text, pos + 1)
            elif text[pos : pos + 1] != "]":
                raise json.JSONDecodeError("expected ',' or ']'", text, pos)
    except json.JSONDecodeError as err:
        raise TaxonomyError(f"malformed JSON: {err.msg}", path=path, line=err.lineno) from err
    if text[_skip_space(text, pos + 1) :]:
        raise TaxonomyError("extra data after the JSON list", path=path, line=line_of(pos))


def parquet_rows(
    path: Path, columns: Columns | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[tuple[None, Row]]:
    """Rows of a Parquet file; the title and abstract columns must hold text."""
    import pyarrow.parquet as pq  # heavy; only parquet input needs it

    try:
        meta = pq.ParquetFile(path).metadata
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    except Exception as err:  # pyarrow raises many types; all mean "not readable parquet"
        raise TaxonomyError(f"cannot read Parquet file: {err}", path=path) from err
    if size > limits.max_bytes:
        raise TaxonomyError(
            f"larger than {limits.max_bytes:,} bytes decompressed ({size:,}); "
            "raise input.max_bytes to read it",
            path=path,
        )
    if meta.num_rows > limits.max_lines:
        raise TaxonomyError(
            f"more than {limits.max_lines:,} rows ({meta.num_rows:,}); "
            "raise input.max_lines to read it",
            path=path,
        )
    try:
        table = pq.read_table(path)
    except Exception as err:  # as above
        raise TaxonomyError(f"cannot read Parquet file: {err}", path=path) from err
    _check_text_columns(table.schema, columns or Columns(), path)
    try:
        frame = table.to_pandas()
    except Exception as err:  # e.g. timestamps out of range for pandas
        raise TaxonomyError(f"cannot read Parquet file: {err}", path=path) from err
    names = [str(c) for c in frame.columns]
    # The vector column's arrays pass through as they are (rows_to_papers reads them).
    vector = _resolve(columns.vector, names) if columns and columns.vector else None
    # object dtype + None for every missing value (NaN, pd.NA, NaT) so _scalar sees one form.
    frame = frame.astype(object).where(frame.notna(), None)
    for values in frame.itertuples(index=False, name=None):
        # Parquet has no lines; row numbers would be misread as lines, so none are given.
        yield (
            None,
            {c: v if c == vector else _scalar(v) for c, v in zip(names, values, strict=True)},
        )


def _check_text_columns(schema: Any, columns: Columns, path: Path) -> None:
    """The title and abstract columns hold strings (or only nulls), not numbers, lists, bytes."""
    import pyarrow as pa

    names = [str(name) for name in schema.names]
    for setting, wanted in (("abstract_column", columns.abstract), ("title_column", columns.title)):
        name = _resolve(wanted, names)
        if name is None:
            continue  # a missing abstract column is reported with the column list later
        kind = schema.field(names.index(name)).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
        if not (text or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(kind))):
            raise TaxonomyError(
                f"column {name!r} (input.{setting}) holds {kind}, not text",
                path=path,
            )


def _object_row(value: Any, path: Path, line: int) -> Row:
    if not isinstance(value, dict):
        raise TaxonomyError(
            f"expected a JSON object, got {type(value).__name__}", path=path, line=line
        )
    return {str(k): _scalar(v) for k, v in value.items()}


def _scalar(value: Any) -> str | None:
    """Values as strings; missing ones (null, NaN) as None; nested JSON kept as JSON text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos
