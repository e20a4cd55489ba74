"""The one place where raw field values from any reader become a `Paper`.

Every reader produces plain strings (or None) for abstract, title, id and date; cleaning them
here keeps the formats consistent: whitespace collapsed, arXiv ids normalised, year-month
taken from the arXiv id or else from a date.
"""

from __future__ import annotations

import re

from taxonomy.models import Paper, strip_arxiv_version, year_month_from_arxiv_id

# New-style (2303.11366, optional version) and old-style (hep-th/9901001) arXiv ids, possibly
# wrapped as 'arXiv:ID' or in an arxiv.org/abs|pdf URL.
_ARXIV_ID = re.compile(
    r"(?<![\w.])(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)(?![\w.])"
)
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/(?P<id>[^\s?#}]+?)(?:\.pdf)?(?=$|[\s?#}])", re.I)
# Characters that never belong in an abstract: C0/C1 controls (tab and newline are whitespace
# and collapse anyway) and lone surrogates, which JSON escapes can produce but UTF-8 cannot
# encode (they would crash every writer downstream).
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# No arXiv id (or URL to one) is longer; longer values are not searched for one.
MAX_ID_CHARS = 200
_DATE = re.compile(r"^\s*(?P<year>(?:19|20)\d{2})(?:[-/.](?P<month>\d{1,2})(?!\d))?")


def clean(value: str | None) -> str | None:
    """Collapse whitespace; empty strings become None so 'missing' has one spelling."""
    if value is None:
        return None
    # Same result as models.normalize_text (str.split and the regex \s agree on every code
    # point), about five times faster, which matters at ~100k abstracts; ASCII text (the
    # usual case) has its control characters replaced bytewise, ~10x faster than the regex.
    if value.isascii():
        value = value.encode("ascii").translate(_ASCII_SPACED).decode("ascii")
    else:
        value = _UNPRINTABLE.sub(" ", value)
    text = " ".join(value.split())
    return text or None


# ASCII bytes with the ones _UNPRINTABLE matches turned into spaces (a bytes.translate table).
_ASCII_SPACED = bytes(32 if c < 128 and _UNPRINTABLE.match(chr(c)) else c for c in range(256))


def parse_arxiv_id(value: str | None) -> str | None:
    """'arXiv:2303.11366v2', 'https://arxiv.org/abs/2303.11366' -> '2303.11366'.

    Values that do not look like an arXiv id give None: the id becomes a link and a
    year-month, so a DOI or an internal number in the id column must not pass for one.
    """
    if not value or len(value) > MAX_ID_CHARS:
        return None
    value = value.strip()
    url = _ARXIV_URL.search(value)
    if url:
        value = url["id"]
    match = _ARXIV_ID.search(value.removeprefix("arXiv:").removeprefix("arxiv:"))
    return strip_arxiv_version(match["id"]) if match else None


def year_month_from_date(value: str | None) -> str | None:
    """'2025-03-18' / '2025-03' / '2025/3' -> '2025-03'; a bare year gives None."""
    if not value:
        return None
    match = _DATE.match(value[:MAX_ID_CHARS])
    if not match or not match["month"] or not 1 <= int(match["month"]) <= 12:
        return None
    return f"{match['year']}-{int(match['month']):02d}"


def make_paper(
    *,
    abstract: str | None,
    source: str,
    line: int | None,
    title: str | None = None,
    arxiv_id: str | None = None,
    date: str | None = None,
) -> Paper | None:
    """A Paper from raw field values, or None when there is no abstract text.

    The arXiv id decides the year-month (it is the submission month); `date` is the fallback
    for records without one.
    """
    text = clean(abstract)
    if text is None:
        return None
    pid = parse_arxiv_id(arxiv_id)
    return Paper(
        abstract=text,
        source=source,
        title=clean(title),
        arxiv_id=pid,
        year_month=year_month_from_arxiv_id(pid) or year_month_from_date(date),
        line=line,
    )
