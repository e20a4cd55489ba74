"""Papers per theme/topic per month (`trends.csv`) and the rising/fading topics.

`trends_frame` counts papers per theme/topic per month (from `Paper.year_month`); `trends_csv`
writes it; `rising_topics` compares each topic's share of the last months with its share
before.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd

from taxonomy.models import Corpus, TaxonomyNode

TREND_COLUMNS = ["level", "id", "label", "parent", "month", "papers"]
RISING_COLUMNS = [
    "id",
    "label",
    "parent",
    "parent_label",
    "recent",
    "before",
    "recent_share",
    "before_share",
    "growth",
]


def _months_between(first: str, last: str) -> list[str]:
    """Every calendar month from `first` to `last` ('YYYY-MM', inclusive)."""
    y0, m0 = (int(v) for v in first.split("-"))
    y1, m1 = (int(v) for v in last.split("-"))
    out = []
    for k in range(y0 * 12 + m0 - 1, y1 * 12 + m1):
        out.append(f"{k // 12:04d}-{k % 12 + 1:02d}")
    return out


def valid_month(value: str | None) -> str | None:
    if not value or len(value) != 7 or value[4] != "-":
        return None
    year, month = value[:4], value[5:]
    if not (year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        return None
    return value


def trends_frame(corpus: Corpus, themes: Sequence[TaxonomyNode]) -> pd.DataFrame:
    """Papers per theme and per topic per month: one row per (level, node, month).

    Months run over every calendar month from the corpus's first to its last `year_month`
    (zero counts included, so each node has the same months). Papers without a month are not
    counted; with no months at all the frame is empty (same columns). Rows are ordered by
    level (themes, then topics), the node's place in the taxonomy, then month.
    """
    months_of = [valid_month(p.year_month) for p in corpus.papers]
    present = sorted({m for m in months_of if m})
    if not present:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in TREND_COLUMNS})
    months = _months_between(present[0], present[-1])
    column = {m: k for k, m in enumerate(months)}
    paper_month = np.array([column[m] if m else -1 for m in months_of], dtype=np.int64)

    nodes: list[tuple[str, TaxonomyNode, str]] = [("theme", t, "") for t in themes]
    nodes += [("topic", c, t.id) for t in themes for c in t.children]
    if not nodes:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in TREND_COLUMNS})
    counts = np.zeros((len(nodes), len(months)), dtype=np.int64)
    for row, (_, node, _) in enumerate(nodes):
        idx = paper_month[np.asarray(node.members, dtype=np.int64)]
        counts[row] = np.bincount(idx[idx >= 0], minlength=len(months))
    per_node = len(months)
    return pd.DataFrame(
        {
            "level": np.repeat([level for level, _, _ in nodes], per_node).astype(object),
            "id": np.repeat([node.id for _, node, _ in nodes], per_node).astype(object),
            "label": np.repeat([node.label for _, node, _ in nodes], per_node).astype(object),
            "parent": np.repeat([parent for _, _, parent in nodes], per_node).astype(object),
            "month": np.tile(np.asarray(months, dtype=object), len(nodes)),
            "papers": counts.reshape(-1),
        }
    )


def _dtype(column: str) -> str:
    return "int64" if column == "papers" else "object"


def trends_csv(frame: pd.DataFrame) -> str:
    """`trends.csv` text: the trends frame as CSV with a header, '\\n' line ends."""
    buffer = io.StringIO()
    frame[TREND_COLUMNS].to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def rising_topics(frame: pd.DataFrame, recent_months: int = 3) -> pd.DataFrame:
    """Each topic's share of the last `recent_months` months against its share before.

    `recent`/`before`: the topic's papers in the last months / in all earlier months;
    `recent_share`/`before_share`: those as fractions of all topic-assigned papers in the same
    period; `growth`: ratio of the two shares with one pseudo-paper per topic (add-one
    smoothing), so a topic going from 0 to 1 paper does not read as infinite growth. Sorted
    from most rising to most fading (ties by more recent papers, then id). Empty (same
    columns) when there are no months before the recent window or no papers in either.
    """
    if recent_months < 1:
        raise ValueError("recent_months must be >= 1")
    topics = frame[frame["level"] == "topic"]
    months = sorted(set(topics["month"]))
    if len(months) <= recent_months:
        return _empty_rising()
    window = set(months[-recent_months:])
    recent_mask = topics["month"].isin(window)
    recent = topics[recent_mask].groupby("id", sort=False)["papers"].sum()
    before = topics[~recent_mask].groupby("id", sort=False)["papers"].sum()
    total_recent, total_before = int(recent.sum()), int(before.sum())
    if total_recent == 0 or total_before == 0:
        return _empty_rising()
    first = topics.drop_duplicates("id")
    theme_labels = dict(
        frame[frame["level"] == "theme"].drop_duplicates("id")[["id", "label"]].itertuples(False)
    )
    n = len(first)
    rows = []
    for node_id, label, parent in first[["id", "label", "parent"]].itertuples(index=False):
        r, b = int(recent.get(node_id, 0)), int(before.get(node_id, 0))
        smoothed = ((r + 1) / (total_recent + n)) / ((b + 1) / (total_before + n))
        rows.append(
            {
                "id": node_id,
                "label": label,
                "parent": parent,
                "parent_label": theme_labels.get(parent, ""),
                "recent": r,
                "before": b,
                "recent_share": r / total_recent,
                "before_share": b / total_before,
                "growth": smoothed,
            }
        )
    rows.sort(key=lambda row: (-row["growth"], -row["recent"], row["id"]))
    return pd.DataFrame(rows, columns=RISING_COLUMNS)


def _empty_rising() -> pd.DataFrame:
    kinds = {"recent": "int64", "before": "int64"}
    kinds |= {c: "float64" for c in ("recent_share", "before_share", "growth")}
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, "object")) for c in RISING_COLUMNS})
