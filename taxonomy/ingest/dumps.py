"""Plain-text dumps, recognised by content (the formats of the bundled `data/seeds/`).

1. `Abstract:` lines -- one record per `Abstract:<text>` line; following lines without the
   prefix continue the abstract, and an optional `Title:` line names the next record.
2. Table dumps -- an export of a two-column (arXiv id, abstract) table: a few header lines
   (`stringlengths 9`, `| abstract`), then rows `ID | abstract text |`. An abstract may span
   several physical lines and one physical line may hold the end of one row and the start
   of the next (`... end. | 2303.07295v1 | next ...`), so rows are found by their id cells,
   not by line breaks.
3. Listing pages -- text copied from a paper-listing web page: a title line followed by its
   abstract line, mixed with page chrome (subscribe banners, dates, blank lines) that is
   dropped. A file holding just one abstract per line reads as a listing without titles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from taxonomy.errors import TaxonomyError
from taxonomy.ingest.records import make_paper
from taxonomy.ingest.textio import line_finder
from taxonomy.models import Paper

_ABSTRACT_PREFIX = re.compile(r"^\s*abstract\s*:\s*", re.I)
_TITLE_PREFIX = re.compile(r"^\s*title\s*:\s*", re.I)

# A table row starts at a line start or right after the previous row's closing '|'.
_ID = r"(?:\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
_ROW_START = re.compile(rf"(?:^|\|)[ \t]*(?P<id>{_ID})[ \t]*\|", re.M)
# Header lines of the table export: column statistics and column names.
_TABLE_HEADER = re.compile(r"^\s*(?:stringlengths\s+\d+(?:\s+\d+)?|(?=.*\|)[\w\s|:-]+)$")

# Page chrome of the listing pages; compared after stripping whitespace.
_CHROME = frozenset(
    {
        "Get trending papers in your email inbox once a day!",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "new",
        "byAK and the research community",
    }
)
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DATE_LINE = re.compile(rf"^(?:{_MONTHS})[a-z]*\.? \d{{1,2}}(?:, \d{{4}})?$")
# The page renders the "Subscribe" button right before the first title with no separator.
_GLUED_SUBSCRIBE = re.compile(r"^Subscribe(?=[A-Z0-9\"'(])")
# Shortest line taken for an abstract on a listing page; titles are shorter (the seeds'
# longest title has 174 characters, their shortest abstract 520).
MIN_ABSTRACT_CHARS = 200

FORMAT_HINT = (
    "expected 'Abstract:' lines, an 'ARXIV_ID | abstract |' table, "
    "or title lines each followed by an abstract line"
)


def detect_text_format(text: str) -> str | None:
    """'abstract-lines', 'table', 'listing', or None when nothing fits."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return None
    if _ABSTRACT_PREFIX.match(lines[0]) or (
        _TITLE_PREFIX.match(lines[0]) and any(_ABSTRACT_PREFIX.match(s) for s in lines[:3])
    ):
        return "abstract-lines"
    first_row = next((s for s in lines if not _TABLE_HEADER.match(s)), "")
    if _ROW_START.match(first_row):
        return "table"
    if any(len(s.strip()) >= MIN_ABSTRACT_CHARS for s in lines):
        return "listing"
    return None


def parse_text(text: str, path: Path) -> list[Paper]:
    kind = detect_text_format(text)
    if kind is None:
        raise TaxonomyError(f"unrecognised text format: {FORMAT_HINT}", path=path)
    parse = {"abstract-lines": _abstract_lines, "table": _table, "listing": _listing}[kind]
    return [paper for paper in parse(text, path) if paper is not None]


def _abstract_lines(text: str, path: Path) -> Iterator[Paper | None]:
    title: str | None = None  # from a 'Title:' line; belongs to the next abstract
    parts: list[str] = []  # lines of the abstract being collected
    start = 0  # line number where that abstract starts

    def flush() -> Paper | None:
        return make_paper(abstract=" ".join(parts), title=title, source=path.name, line=start)

    for number, line in enumerate(text.split("\n"), start=1):
        if _TITLE_PREFIX.match(line):
            if parts:
                yield flush()
                parts = []
            title = _TITLE_PREFIX.sub("", line)
        elif _ABSTRACT_PREFIX.match(line):
            if parts:
                yield flush()
                title = None
            parts, start = [_ABSTRACT_PREFIX.sub("", line)], number
        elif parts:
            parts.append(line)  # a wrapped abstract continues on the next line
        elif line.strip():
            raise TaxonomyError(
                f"expected an 'Abstract:' line, got {line[:60]!r}", path=path, line=number
            )
    if parts:
        yield flush()


def _table(text: str, path: Path) -> Iterator[Paper | None]:
    rows = list(_ROW_START.finditer(text))
    line_of = line_finder(text)
    for header_line, line in enumerate(text[: rows[0].start()].split("\n"), start=1):
        if line.strip() and not _TABLE_HEADER.match(line):
            raise TaxonomyError(
                f"unexpected text before the first table row: {line[:60]!r}",
                path=path,
                line=header_line,
            )
    for row, following in zip(rows, [*rows[1:], None], strict=True):
        end = following.start() if following else len(text)
        # The next row's match swallows this row's closing '|'; the last row keeps its own.
        cell = text[row.end() : end].strip().removesuffix("|")
        # A row glued onto the previous one starts mid-line: report the line it starts on.
        yield make_paper(
            abstract=cell, arxiv_id=row["id"], source=path.name, line=line_of(row.start("id"))
        )


def _listing(text: str, path: Path) -> Iterator[Paper | None]:
    title: str | None = None
    title_line = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line in _CHROME or _DATE_LINE.match(line):
            continue
        if len(line) >= MIN_ABSTRACT_CHARS:
            start = title_line if title else number  # the record starts at its title
            yield make_paper(abstract=line, title=title, source=path.name, line=start)
            title = None
        else:
            # A short line is the next title; one not followed by an abstract was chrome
            # we do not know by name, and the next short line replaces it.
            title, title_line = _GLUED_SUBSCRIBE.sub("", line), number
