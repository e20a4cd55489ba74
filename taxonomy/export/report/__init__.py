"""Trends over time and a self-contained plotly report of the taxonomy (`report.html`).

`trends_frame` counts papers per theme/topic per month (from `Paper.year_month`); `trends_csv`
writes it; `rising_topics` compares each topic's share of the last months with its share
before (`trends.py`). `report_html` renders one offline HTML page (`page.py`, from
`templates/report.html`): plotly.js is inlined once and every figure carries only aggregates
(counts, shares, keyword frequencies, topic similarities), never per-paper data, so the page
stays a few MB even for 100k papers. Each section builds its own figures: sizes and hierarchy
(`tree_figures.py`), themes over time and rising/fading topics (`over_time.py`), top terms
(`terms.py`), topic similarity (`similarity.py`), on the plain-dict figures of `figures.py`.

All text that reaches the page (labels, keywords, the title) is escaped: plotly renders a few
HTML-like tags in its text, so labels are passed to plotly with `<`, `>` and `&` as entities,
and the HTML around the figures is built with `html.escape`.
"""

from taxonomy.export.report.page import report_html
from taxonomy.export.report.trends import (
    RISING_COLUMNS,
    TREND_COLUMNS,
    rising_topics,
    trends_csv,
    trends_frame,
)

__all__ = [
    "TREND_COLUMNS",
    "RISING_COLUMNS",
    "trends_frame",
    "trends_csv",
    "rising_topics",
    "report_html",
]
