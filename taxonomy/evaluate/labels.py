"""Gold labels: read a labels file and join it to a run's documents.csv.

A labels file is JSONL (one object per line) or CSV (a header row). Each record carries a
label (field `theme`, else `label`, unless named explicitly) and at least one key. Keys are
tried in this order until one matches a document: `id` (the paper id in documents.csv),
`arxiv_id` (version suffix ignored), `abstract` (compared with whitespace collapsed).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from taxonomy.errors import TaxonomyError, yaml_errors
from taxonomy.export.csv_safe import unescape_frame
from taxonomy.models import normalize_text, strip_arxiv_version

DEFAULT_LABEL_FIELDS = ("theme", "label")
DOCUMENT_COLUMNS = ("id", "abstract", "arxiv_id", "topic_id", "theme_id")
LABEL_COLUMNS = ["line", "id", "arxiv_id", "abstract", "label", "also_acceptable"]


def _text(value: Any) -> str:
    """'' for missing values (None, NaN), else the stripped string."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def read_documents(path: Path | str) -> pd.DataFrame:
    """Read a run's documents.csv with every column as text (arXiv ids keep trailing zeros)."""
    path = Path(path)
    if not path.is_file():
        raise TaxonomyError("documents file not found (run `taxonomy run` first)", path=path)
    try:
        frame = unescape_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise TaxonomyError(f"cannot read documents CSV: {err}", path=path) from err
    missing = [c for c in DOCUMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise TaxonomyError(f"missing column(s): {', '.join(missing)}", path=path)
    return frame


def _jsonl_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise TaxonomyError(f"invalid JSON: {err.msg}", path=path, line=number) from err
        except RecursionError:
            raise TaxonomyError("invalid JSON: nested too deeply", path=path, line=number) from None
        if not isinstance(obj, dict):
            raise TaxonomyError("expected a JSON object", path=path, line=number)
        records.append((number, obj))
    return records


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    if not reader.fieldnames:
        raise TaxonomyError("CSV labels file has no header row", path=path)
    records = []
    start = 2  # line where the next record begins (after the header)
    try:
        for row in reader:
            if None in row:
                raise TaxonomyError("more fields than the header names", path=path, line=start)
            records.append((start, dict(row)))
            start = reader.line_num + 1
    except csv.Error as err:
        raise TaxonomyError(f"invalid CSV: {err}", path=path, line=reader.line_num) from err
    return records


def load_labels(path: Path | str, label_field: str | None = None) -> pd.DataFrame:
    """Read a labels file into a frame with columns `LABEL_COLUMNS` (missing keys are '').

    `.csv` files are read as CSV, anything else as JSONL. `label_field` names the label;
    by default the first of `theme`, `label` present in the file is used.
    """
    path = Path(path)
    if not path.is_file():
        raise TaxonomyError("labels file not found", path=path)
    from taxonomy.ingest.textio import read_text  # the input's encoding policy

    text = read_text(path)
    is_csv = path.suffix.lower() == ".csv"
    records = (_csv_records if is_csv else _jsonl_records)(path, text)
    if not records:
        raise TaxonomyError("labels file holds no records", path=path)
    if label_field is None:
        present = {k for _, rec in records for k in rec}
        label_field = next((f for f in DEFAULT_LABEL_FIELDS if f in present), None)
        if label_field is None:
            raise TaxonomyError(
                f"no label field: expected one of {', '.join(DEFAULT_LABEL_FIELDS)}"
                " (or name it explicitly)",
                path=path,
            )
    rows = []
    for number, rec in records:
        label = _text(rec.get(label_field))
        if not label:
            raise TaxonomyError(
                f"missing value for label field {label_field!r}", path=path, line=number
            )
        row = {
            "line": number,
            "id": _text(rec.get("id")),
            "arxiv_id": strip_arxiv_version(_text(rec.get("arxiv_id"))),
            "abstract": normalize_text(_text(rec.get("abstract"))),
            "label": label,
            "also_acceptable": _also_acceptable(rec.get("also_acceptable")),
        }
        if not (row["id"] or row["arxiv_id"] or row["abstract"]):
            raise TaxonomyError(
                "record has no id, arxiv_id or abstract to match on", path=path, line=number
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


def _also_acceptable(value: Any) -> list[str]:
    """Alternative labels: a JSON list, or a CSV cell separated by ';' or '|'."""
    if isinstance(value, list):
        return [_text(v) for v in value if _text(v)]
    text = _text(value)
    return [v.strip() for v in text.replace("|", ";").split(";") if v.strip()]


@dataclass
class LabelJoin:
    """Documents with a `label` column ('' where unlabelled) and how the join went."""

    documents: pd.DataFrame
    n_labels: int
    n_matched: int
    unmatched_lines: list[int] = field(default_factory=list)  # label records matching nothing
    duplicate_lines: list[int] = field(default_factory=list)  # a 2nd label for a document

    @property
    def n_unmatched(self) -> int:
        return len(self.unmatched_lines)


def join_labels(documents: pd.DataFrame, labels: pd.DataFrame) -> LabelJoin:
    """Attach each label record to the document it names; the first label for a paper wins."""
    by_id: dict[str, int] = {}
    by_arxiv: dict[str, int] = {}
    by_abstract: dict[str, int] = {}
    arxiv_column = documents["arxiv_id"] if "arxiv_id" in documents else [""] * len(documents)
    for pos, (doc_id, arxiv_id, abstract) in enumerate(
        zip(documents["id"], arxiv_column, documents["abstract"], strict=True)
    ):
        by_id.setdefault(_text(doc_id), pos)
        if _text(arxiv_id):
            by_arxiv.setdefault(strip_arxiv_version(_text(arxiv_id)), pos)
        by_abstract.setdefault(normalize_text(_text(abstract)), pos)

    assigned: list[str] = [""] * len(documents)
    alternatives: list[list[str]] = [[] for _ in range(len(documents))]
    unmatched: list[int] = []
    duplicates: list[int] = []
    for rec in labels.itertuples(index=False):
        pos = None
        for key, index in ((rec.id, by_id), (rec.arxiv_id, by_arxiv), (rec.abstract, by_abstract)):
            if key and key in index:
                pos = index[key]
                break
        if pos is None:
            unmatched.append(int(rec.line))
        elif assigned[pos]:
            duplicates.append(int(rec.line))
        else:
            assigned[pos] = rec.label
            alternatives[pos] = list(rec.also_acceptable)
    joined = documents.copy()
    joined["label"] = assigned
    joined["also_acceptable"] = alternatives
    n_matched = len(labels) - len(unmatched) - len(duplicates)
    return LabelJoin(joined, len(labels), n_matched, unmatched, duplicates)


def read_topic_keywords(path: Path | str) -> dict[str, list[str]]:
    """Topic id -> keywords, from a run's taxonomy.yaml (themes -> children -> keywords)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise TaxonomyError("taxonomy file not found (run `taxonomy run` first)", path=path)
    with yaml_errors(path):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    themes = doc.get("themes") if isinstance(doc, dict) else None
    if not isinstance(themes, list):
        raise TaxonomyError("expected a 'themes' list", path=path)
    out: dict[str, list[str]] = {}
    for theme in themes:
        for topic in (theme or {}).get("children") or []:
            if isinstance(topic, dict) and "id" in topic:
                out[str(topic["id"])] = [str(k) for k in topic.get("keywords") or []]
    return out
