"""Ingest stage: read abstracts from files and folders into a deduplicated `Corpus`.

Supported input (see the modules for details):
- `.txt` / no extension, recognised by content: `Abstract:` lines, `ID | abstract |` table
  dumps, and title/abstract listing pages (`seeds`);
- `.csv`, `.tsv`, `.jsonl`, `.json` (a list of objects), `.parquet` with configurable
  title/abstract/id columns (`tabular`);
- `.bib` entries with an `abstract` field (`bibtex`).
Text formats may be gzipped (`.csv.gz`). Text may be UTF-8, UTF-16/32 (with or without a
BOM) or an 8-bit export (cp1252 / latin-1); binary files are an error (`textio`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import replace
from difflib import SequenceMatcher
from pathlib import Path

from taxonomy.errors import TaxonomyError
from taxonomy.ingest.detect import collect_files, read_file
from taxonomy.ingest.tabular import Columns
from taxonomy.ingest.textio import DEFAULT_LIMITS, ReadLimits
from taxonomy.models import Corpus, Paper, year_month_from_arxiv_id

__all__ = ["read_corpus", "deduplicate", "ReadLimits"]


def read_corpus(
    paths: list[Path],
    *,
    title_column: str = "title",
    abstract_column: str = "abstract",
    id_column: str | None = "arxiv_id",
    exclude_sources: tuple[str, ...] = (),
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Corpus:
    """Read every supported file under `paths` and deduplicate the records by abstract.

    Raises TaxonomyError (naming the file and line) for unreadable or malformed input, a
    file without records, a file past `limits` (size, lines, compression ratio: the config's
    `input.max_bytes`/`max_lines`/`max_ratio`, `ReadLimits.from_config(cfg.input)`), and an
    input that yields no abstracts at all.
    """
    columns = Columns(title=title_column, abstract=abstract_column, id=id_column)
    records: list[Paper] = []
    for path in collect_files([Path(p) for p in paths], tuple(exclude_sources)):
        papers = read_file(path, columns, limits)
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
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def _near_duplicate_of(
    record: Paper,
    canon: str,
    anchors: dict[str, list[str]],
    canon_of: dict[str, str],
    by_key: dict[str, Paper],
) -> str | None:
    for anchor in (canon[:_ANCHOR], canon[-_ANCHOR:]):
        for key in anchors.get(anchor, []):
            other = by_key[key]
            if record.arxiv_id and other.arxiv_id and record.arxiv_id != other.arxiv_id:
                continue  # two different arXiv papers, however similar
            ratio = SequenceMatcher(None, canon, canon_of[key], autojunk=False).ratio()
            if ratio >= NEAR_DUPLICATE_RATIO:
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
    canon_of: dict[str, str] = {}

    def free_id(arxiv_id: str | None, key: str) -> str | None:
        if arxiv_id is None or owner.setdefault(arxiv_id, key) != key:
            return None
        return arxiv_id

    for record in records:
        key = record.key
        if key not in by_key:
            canon = _canonical(record.abstract)
            key = _near_duplicate_of(record, canon, anchors, canon_of, by_key) or key
        first = by_key.get(key)
        if first is None:
            by_key[key] = replace(record, arxiv_id=free_id(record.arxiv_id, key))
            canon_of[key] = canon
            for anchor in {canon[:_ANCHOR], canon[-_ANCHOR:]}:
                anchors.setdefault(anchor, []).append(key)
            continue
        arxiv_id = first.arxiv_id or free_id(record.arxiv_id, key)
        by_key[key] = replace(
            first,
            title=first.title or record.title,
            arxiv_id=arxiv_id,
            year_month=first.year_month or year_month_from_arxiv_id(arxiv_id) or record.year_month,
        )
    return list(by_key.values())
