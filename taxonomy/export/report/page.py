"""The report page: its sections in order, a summary line and the page around them.

The HTML around the figures (`templates/report.html`) gets its text through `html.escape`;
each section (`tree_figures`, `over_time`, `terms`, `similarity`) builds its own figures.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from taxonomy.export.report.figures import Divs, Section
from taxonomy.export.report.over_time import time_sections
from taxonomy.export.report.similarity import similarity_section
from taxonomy.export.report.terms import terms_section
from taxonomy.export.report.tree_figures import hierarchy_section, sizes_section
from taxonomy.export.report.trends import trends_frame, valid_month
from taxonomy.models import Corpus, TaxonomyNode

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "report.html"
# The page loads nothing: scripts and styles are inline, plotly draws heatmaps via data: URLs.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
_TOKEN_RE = re.compile(r"/\*@(CSP|TITLE|SUMMARY|NAV|BODY)@\*/")


def report_html(
    corpus: Corpus,
    themes: Sequence[TaxonomyNode],
    *,
    title: str,
    topic_vectors: Mapping[str, Any] | None = None,
    recent_months: int = 3,
    trends: pd.DataFrame | None = None,
) -> str:
    """The whole report page as text (offline: plotly.js inlined once, no network access).

    `topic_vectors`: topic id -> vector (e.g. the centroid of its papers' embeddings) for the
    topic similarity heatmap; the heatmap is left out when None. `trends`: the frame from
    `trends_frame(corpus, themes)` when the caller has it already (it is computed otherwise).
    """
    frame = trends if trends is not None else trends_frame(corpus, themes)
    divs = Divs()  # in page order: the first figure carries plotly.js
    sections: list[Section] = []
    if themes:
        sections.append(sizes_section(themes, divs))
    sections += time_sections(frame, themes, recent_months, divs)
    if any(theme.children for theme in themes):
        sections.append(terms_section(corpus, themes, divs))
    if topic_vectors is not None:
        similarity = similarity_section(themes, topic_vectors, divs)
        if similarity is not None:
            sections.append(similarity)
    if themes:
        sections.append(hierarchy_section(themes, divs))
    return _page(title, _summary(corpus, themes), sections)


def _summary(corpus: Corpus, themes: Sequence[TaxonomyNode]) -> str:
    n_papers = len(corpus)
    unassigned = n_papers - sum(t.size for t in themes)
    n_topics = sum(len(t.children) for t in themes)
    dated = sum(1 for p in corpus.papers if valid_month(p.year_month))
    return (
        f"{n_papers:,} papers \u00b7 {len(themes)} themes \u00b7 {n_topics} topics"
        f" \u00b7 {unassigned:,} unassigned \u00b7 {dated:,} with a month"
    )


@functools.cache
def _template() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


def _page(title: str, summary: str, sections: list[Section]) -> str:
    e = html.escape
    values = {
        "CSP": CSP,
        "TITLE": e(title),
        "SUMMARY": e(summary),
        "NAV": " ".join(f'<a href="#{a}">{e(h)}</a>' for a, h, _ in sections),
        "BODY": "\n".join(
            f'<section id="{a}"><h2>{e(h)}</h2>{content}</section>' for a, h, content in sections
        ),
    }
    # One pass, so text inserted for one token is never scanned for another.
    return _TOKEN_RE.sub(lambda m: values[m.group(1)], _template())
