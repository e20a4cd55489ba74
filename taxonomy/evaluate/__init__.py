"""Evaluate a run: agreement with gold labels, or label-free topic coherence and diversity.

`evaluate_run` scores a run's documents.csv against gold labels (see `labels.py` for the
file format) at the topic and the theme level; `coherence_report` needs no labels; both
return JSON-ready dicts (no NaN: undefined numbers are None) that `format_report` renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from taxonomy.evaluate.labels import (
    LabelJoin,
    join_labels,
    load_labels,
    read_documents,
    read_topic_keywords,
)
from taxonomy.evaluate.metrics import (
    ari,
    harmonic_purity,
    inverse_purity,
    nmi,
    npmi_coherence,
    purity,
    topic_diversity,
)
from taxonomy.keyphrases import tokenize  # same words the labels are built from

__all__ = [
    "LEVELS",
    "UNASSIGNED",
    "coherence_report",
    "evaluate_run",
    "format_label_check",
    "format_report",
    "label_check",
    "join_labels",
    "load_labels",
    "read_documents",
    "read_topic_keywords",
    "tokenize",
]

LEVELS = ("topic", "theme")
LABEL_CHECK_MIN = 8  # gold classes at least this large get a label check
LABEL_CHECK_ALSO = 2  # further topics listed per class (those holding 2+ of its papers)
UNASSIGNED = "<unassigned>"  # the cluster that unassigned papers are scored as


# Same rule as taxonomy.keyphrases.tokenize: lower-case words, hyphens split words.
def _column(frame: pd.DataFrame, name: str) -> list[str]:
    if name not in frame:
        return [""] * len(frame)
    return ["" if pd.isna(v) else str(v).strip() for v in frame[name]]


def evaluate_run(
    documents: pd.DataFrame,
    labels: pd.DataFrame | None,
    ignore_labels: Iterable[str] = ("other",),
) -> dict[str, Any]:
    """Compare a run's clusters with gold labels at the topic and theme level.

    `documents` is documents.csv as a frame (`read_documents`); `labels` is a `load_labels`
    frame, or None when `documents` already has a `label` column ('' = unlabelled).
    Only labelled papers are scored, minus those whose label is in `ignore_labels`
    (case-insensitive; e.g. "other" = none of these).

    Unassigned papers (empty topic_id / theme_id) are kept and scored as one extra cluster,
    `UNASSIGNED`, in NMI, ARI and the purities, so leaving papers out is not free; `coverage`
    (share of the scored papers that are assigned) is reported separately, and so is
    `coverage_all` (over every paper of the run). `n_clusters` counts the run's clusters at
    that level (unassigned not included).
    """
    join: LabelJoin | None = None
    if labels is not None:
        join = join_labels(documents, labels)
        documents = join.documents
    elif "label" not in documents:
        raise ValueError("no labels: pass a labels frame or documents with a 'label' column")
    ignored = {str(v).strip().casefold() for v in ignore_labels}
    gold = _column(documents, "label")
    scored = [i for i, g in enumerate(gold) if g and g.casefold() not in ignored]
    n_ignored = sum(1 for g in gold if g and g.casefold() in ignored)
    true = [gold[i] for i in scored]

    result: dict[str, Any] = {
        "n_documents": len(documents),
        "n_labelled": len(scored),
        "n_ignored": n_ignored,
        "ignore_labels": sorted(ignored),
        "n_classes": len(set(true)),
        "levels": {},
    }
    if join is not None:
        result["labels"] = {
            "n_records": join.n_labels,
            "n_matched": join.n_matched,
            "n_unmatched": join.n_unmatched,
            "unmatched_lines": join.unmatched_lines,
            "n_duplicates": len(join.duplicate_lines),
            "duplicate_lines": join.duplicate_lines,
        }
    for level in LEVELS:
        ids = _column(documents, f"{level}_id")
        pred = [ids[i] or UNASSIGNED for i in scored]
        n_all = len(ids)
        level_result: dict[str, Any] = {
            "n_clusters": len({v for v in ids if v}),
            "n_labelled": len(scored),
            "coverage": _share(sum(p != UNASSIGNED for p in pred), len(pred)),
            "coverage_all": _share(sum(1 for v in ids if v), n_all),
        }
        for name, metric in (
            ("nmi", nmi),
            ("ari", ari),
            ("purity", purity),
            ("inverse_purity", inverse_purity),
            ("harmonic_purity", harmonic_purity),
        ):
            level_result[name] = metric(true, pred) if scored else None
        result["levels"][level] = level_result
    if "topic_label" in documents:
        result["label_check"] = label_check(
            true, [_column(documents, c) for c in ("topic_id", "topic_label")], scored
        )
    return result


def label_check(
    true: Sequence[str],
    topic_columns: Sequence[Sequence[str]],
    scored: Sequence[int],
    min_papers: int = LABEL_CHECK_MIN,
) -> list[dict[str, Any]]:
    """For each gold class of at least `min_papers` scored papers: the topic holding most of them,
    and (`also`) the labels of the next topics holding at least two of them, with counts.

    `topic_columns` is (topic ids, topic labels) over all documents; `scored[i]` is the
    document of `true[i]`. Ties go to the topic id first in sorted order; unassigned papers
    never count as a topic. A reader then judges whether a label names the class.
    """
    ids, names = topic_columns
    by_class: dict[str, list[int]] = {}
    for gold, doc in zip(true, scored, strict=True):
        by_class.setdefault(gold, []).append(doc)
    rows = []
    for gold in sorted(by_class, key=lambda c: (-len(by_class[c]), c)):
        docs = by_class[gold]
        if len(docs) < min_papers:
            continue
        counts: dict[str, int] = {}
        for doc in docs:
            if ids[doc]:
                counts[ids[doc]] = counts.get(ids[doc], 0) + 1
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        topic = ranked[0] if ranked else ""
        label_of = {ids[d]: names[d] for d in docs if ids[d]}
        label = label_of.get(topic, "")
        also = [
            (label_of[t], counts[t]) for t in ranked[1 : LABEL_CHECK_ALSO + 1] if counts[t] >= 2
        ]
        rows.append(
            {
                "class": gold,
                "papers": len(docs),
                "topic_id": topic,
                "topic_label": label,
                "in_topic": counts.get(topic, 0),
                "share": counts.get(topic, 0) / len(docs),
                "also": also,
            }
        )
    return rows


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def coherence_report(
    documents: pd.DataFrame,
    keywords_by_topic: Mapping[str, Sequence[str]],
    top_n: int = 10,
) -> dict[str, Any]:
    """NPMI coherence of each topic's top `top_n` keywords over the run's own papers.

    Each paper's text is title + abstract, tokenized by `tokenize`. Keywords go through the
    same tokenizer; an n-gram keyword counts as present in (and co-occurring with another
    keyword in) a paper when all of its words are in that paper, wherever they appear.
    Diversity is the share of unique keywords among all topics' top `top_n`.
    """
    titles, abstracts = _column(documents, "title"), _column(documents, "abstract")
    docs = [set(tokenize(f"{t} {a}")) for t, a in zip(titles, abstracts, strict=True)]
    topic_ids = list(keywords_by_topic)
    top_words = [
        [" ".join(tokenize(k)) for k in keywords_by_topic[t] if tokenize(k)][:top_n]
        for t in topic_ids
    ]
    scores = npmi_coherence(top_words, docs, top_n=top_n) if docs else [np.nan] * len(top_words)
    per_topic = {t: (None if np.isnan(s) else s) for t, s in zip(topic_ids, scores, strict=True)}
    defined = [s for s in per_topic.values() if s is not None]
    has_words = any(top_words)
    return {
        "n_documents": len(docs),
        "n_topics": len(topic_ids),
        "top_n": top_n,
        "npmi": per_topic,
        "top_words": dict(zip(topic_ids, top_words, strict=True)),
        "mean_npmi": float(np.mean(defined)) if defined else None,
        "diversity": topic_diversity(top_words, top_n=top_n) if has_words else None,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_report(result: Mapping[str, Any]) -> Table:
    """A rich Table for either result; print it with `rich.console.Console().print`."""
    if "levels" in result:
        return _labelled_table(result)
    return _coherence_table(result)


def _labelled_table(result: Mapping[str, Any]) -> Table:
    rows = [
        ("NMI", "nmi"),
        ("ARI", "ari"),
        ("Purity", "purity"),
        ("Inverse purity", "inverse_purity"),
        ("Harmonic purity", "harmonic_purity"),
        ("Coverage (labelled)", "coverage"),
        ("Coverage (all papers)", "coverage_all"),
        ("Clusters", "n_clusters"),
    ]
    caption = [
        f"{result['n_labelled']} labelled papers scored, {result['n_classes']} gold labels",
        f"{result['n_ignored']} ignored ({', '.join(result['ignore_labels']) or 'none'})",
    ]
    if "labels" in result:
        caption.append(f"{result['labels']['n_unmatched']} label records matched no paper")
        if result["labels"]["n_duplicates"]:
            caption.append(f"{result['labels']['n_duplicates']} duplicate labels skipped")
    caption.append(f"unassigned papers scored as one cluster, {UNASSIGNED}")
    table = Table(title="Agreement with gold labels", caption="\n".join(caption))
    table.add_column("Metric")
    for level in result["levels"]:
        table.add_column(level.capitalize(), justify="right")
    for name, key in rows:
        table.add_row(name, *(_fmt(lv[key]) for lv in result["levels"].values()))
    return table


def format_label_check(result: Mapping[str, Any]) -> Table | None:
    """The label check of `evaluate_run` as a table (None when the run has no topic labels)."""
    rows = result.get("label_check")
    if not rows:
        return None
    table = Table(
        title="Label check: the topic holding most of each gold class",
        caption=f"gold classes with at least {LABEL_CHECK_MIN} scored papers",
    )
    for name in ("Gold class", "Papers", "Topic label", "Papers in topic", "Also in"):
        table.add_column(name, justify="right" if name.startswith("Papers") else "left")
    for row in rows:
        also = ", ".join(f"{label} ({n})" for label, n in row.get("also", []))
        table.add_row(
            row["class"], str(row["papers"]), row["topic_label"], str(row["in_topic"]), also
        )
    return table


def _coherence_table(result: Mapping[str, Any]) -> Table:
    caption = f"top {result['top_n']} keywords per topic, over {result['n_documents']} papers"
    table = Table(title="Topic coherence (NPMI)", caption=caption)
    table.add_column("Topic")
    table.add_column("NPMI", justify="right")
    table.add_column("Top keywords")
    for topic, score in result["npmi"].items():
        words = ", ".join(result.get("top_words", {}).get(topic, [])[:5])
        table.add_row(str(topic), _fmt(score), words)
    table.add_section()
    table.add_row("Mean NPMI", _fmt(result["mean_npmi"]), "")
    table.add_row("Diversity", _fmt(result["diversity"]), "share of unique top keywords")
    return table
