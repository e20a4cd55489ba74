"""A small, tolerant BibTeX reader: entries with an `abstract` field become Papers.

Text outside entries is ignored (BibTeX treats it as comment); `@comment`, `@preamble`
and `@string` blocks are skipped (string macros are not expanded: a bare word is kept
as written). Field values may be `{brace-balanced}`, `"quoted"`, bare words or numbers,
joined with `#`. Structural damage -- an entry whose braces never close -- is an error
naming the line where the entry starts, since everything after it would be misread.
"""

from __future__ import annotations

import re
from pathlib import Path

from taxonomy.errors import TaxonomyError
from taxonomy.ingest.records import make_paper, parse_arxiv_id
from taxonomy.ingest.textio import line_finder
from taxonomy.models import Paper

_ENTRY_START = re.compile(r"@\s*(?P<type>[A-Za-z]+)\s*(?P<open>[{(])")
_FIELD_NAME = re.compile(r"\s*(?P<name>[A-Za-z][\w:.+-]*)\s*=\s*")
_BARE = re.compile(r"[^\s,#{}()\"]+")
_SKIPPED_TYPES = frozenset({"comment", "preamble", "string"})
_ARXIV_IN_TEXT = re.compile(r"arxiv[:.]\s*(?P<id>\S+)", re.I)  # 'arXiv:2303.11366', DOI form
_LATEX_COMMAND = re.compile(r"\\(?:emph|textit|textbf|textrm|texttt|textsc|mathrm|mbox)\s*(?=\{)")
# An escaped character stays (as itself), a named symbol becomes its character (as
# taxonomy.export.bib writes them); a bare brace is only grouping and goes.
_LATEX_BRACE = re.compile(
    r"\\(?P<name>textbackslash|textasciitilde|textasciicircum|textbraceleft|textbraceright)(?:\{\}|(?![A-Za-z]))"
    r"|\\(?P<char>[&%$#_{}])|[{}]"
)
_SYMBOLS = {
    "textbackslash": "\\",
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textbraceleft": "{",
    "textbraceright": "}",
}
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}


class _Malformed(Exception):
    """Raised inside the parser; turned into a TaxonomyError with the entry's line."""


def parse_bibtex(text: str, path: Path) -> list[Paper]:
    papers = []
    pos = 0
    line_of = line_finder(text)
    while match := _ENTRY_START.search(text, pos):
        line = line_of(match.start())
        close = "}" if match["open"] == "{" else ")"
        try:
            if match["type"].lower() in _SKIPPED_TYPES:
                pos = _skip_balanced(text, match.end() - 1, close)
                continue
            fields, pos = _parse_entry(text, match.end(), close)
        except _Malformed as err:
            raise TaxonomyError(
                f"malformed BibTeX @{match['type']} entry: {err}", path=path, line=line
            ) from err
        paper = make_paper(
            abstract=_strip_latex(fields.get("abstract")),
            title=_strip_latex(fields.get("title")),
            arxiv_id=_arxiv_id(fields),
            date=_date(fields),
            source=path.name,
            line=line,
        )
        if paper is not None:
            papers.append(paper)
    return papers


def _parse_entry(text: str, pos: int, close: str) -> tuple[dict[str, str], int]:
    """Fields of the entry whose body starts at `pos`; returns them and the end position."""
    end = text.find(close, pos)
    # Look for the key's comma only up to the first closer: searching the whole rest of the
    # text for every entry would be quadratic in a file of many field-less entries.
    comma = text.find(",", pos, len(text) if end == -1 else end)
    if comma == -1:  # an entry with a key but no fields
        if end == -1:
            raise _Malformed("no closing brace")
        return {}, end + 1
    pos = comma + 1  # skip the citation key
    fields: dict[str, str] = {}
    while True:
        pos = _skip_space(text, pos)
        if text.startswith(close, pos):
            return fields, pos + 1
        if pos >= len(text):
            raise _Malformed("no closing brace")
        name = _FIELD_NAME.match(text, pos)
        if not name:
            raise _Malformed(f"expected a field name, got {text[pos : pos + 30]!r}")
        value, pos = _parse_value(text, name.end())
        fields[name["name"].lower()] = value
        pos = _skip_space(text, pos)
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith(close, pos):
            raise _Malformed(f"expected ',' after field {name['name']!r}")


def _parse_value(text: str, pos: int) -> tuple[str, int]:
    """One value, possibly several pieces joined with '#'."""
    pieces = []
    while True:
        pos = _skip_space(text, pos)
        char = text[pos : pos + 1]
        if char == "{":
            end = _skip_balanced(text, pos, "}")
            pieces.append(text[pos + 1 : end - 1])
        elif char == '"':
            end = _skip_quoted(text, pos)
            pieces.append(text[pos + 1 : end - 1])
        elif bare := _BARE.match(text, pos):
            end = bare.end()
            pieces.append(bare.group())
        else:
            raise _Malformed(f"expected a value, got {text[pos : pos + 30]!r}")
        pos = _skip_space(text, end)
        if not text.startswith("#", pos):
            return "".join(pieces), pos
        pos += 1


def _skip_balanced(text: str, pos: int, close: str) -> int:
    """Position after the `close` matching the opener at `pos`, braces nesting inside.

    Like BibTeX itself, every brace counts, escaped or not.
    """
    depth = 0
    for index in range(pos + 1, len(text)):
        char = text[index]
        if char == close and depth == 0:
            return index + 1
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
    raise _Malformed("no closing brace")


def _skip_quoted(text: str, pos: int) -> int:
    """Position after the '"' closing the quoted value at `pos`; braces may nest inside."""
    depth = 0
    for index in range(pos + 1, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 0 and text[index - 1] != "\\":
            return index + 1
    raise _Malformed("no closing quote")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _strip_latex(value: str | None) -> str | None:
    """'{BERT}: Pre-training of \\emph{Deep}' -> 'BERT: Pre-training of Deep'."""
    if value is None:
        return None
    value = _LATEX_COMMAND.sub("", value)
    return _LATEX_BRACE.sub(lambda m: _SYMBOLS.get(m["name"] or "", m["char"] or ""), value)


def _arxiv_id(fields: dict[str, str]) -> str | None:
    for name in ("eprint", "arxiv", "arxivid", "arxiv_id"):
        if found := parse_arxiv_id(fields.get(name)):
            return found
    for name in ("journal", "note", "howpublished", "doi", "volume"):
        if (match := _ARXIV_IN_TEXT.search(fields.get(name, ""))) and (
            found := parse_arxiv_id(match["id"].rstrip(".,;}"))
        ):
            return found
    url = fields.get("url", "")
    return parse_arxiv_id(url) if "arxiv.org/" in url.lower() else None


def _date(fields: dict[str, str]) -> str | None:
    """'2023' + 'mar' / '3' / 'March' -> '2023-03'; None without a usable month."""
    year, month = fields.get("year", "").strip(), fields.get("month", "").strip().lower()
    number = _MONTHS.get(month[:3]) if month[:3].isalpha() else None
    if number is None and month.isdigit():
        number = int(month)
    if not year.isdigit() or number is None:
        return None
    return f"{year}-{number:02d}"
