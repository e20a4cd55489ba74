"""The top terms of each topic: how many of its papers mention each of its keywords."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taxonomy.export.report.figures import (
    Divs,
    Fig,
    Section,
    layout,
    palette,
    plotly_text,
    short_label,
    trace,
)
from taxonomy.models import Corpus, TaxonomyNode

#: Keywords shown per topic in the "top terms" figure.
TOP_TERMS = 10


def _keyword_coverage(corpus: Corpus, topic: TaxonomyNode) -> list[float]:
    """Fraction of the topic's papers whose title or abstract contains each keyword."""
    words = [w.lower() for w in topic.keywords[:TOP_TERMS]]
    members = topic.members
    if not members:
        return [0.0] * len(words)
    hits = [0] * len(words)
    for i in members:
        paper = corpus.papers[i]
        text = f"{paper.title or ''} {paper.abstract}".lower()
        for k, word in enumerate(words):
            if word in text:
                hits[k] += 1
    return [h / len(members) for h in hits]


def _terms_figure(corpus: Corpus, themes: Sequence[TaxonomyNode]) -> Any:
    topics = [(theme, topic) for theme in themes for topic in theme.children]
    colors = palette(len(themes))
    theme_color = {t.id: colors[k] for k, t in enumerate(themes)}
    fig = Fig()
    buttons = []
    for k, (theme, topic) in enumerate(topics):
        words = topic.keywords[:TOP_TERMS]
        cover = _keyword_coverage(corpus, topic)
        fig.add_trace(
            trace(
                "bar",
                x=[round(100 * c, 1) for c in cover][::-1],
                y=[plotly_text(w) for w in words][::-1],
                orientation="h",
                visible=k == 0,
                marker={"color": theme_color[theme.id]},
                name=plotly_text(short_label(topic.label)),
                hovertemplate="%{y}: in %{x:.1f}% of the topic's papers<extra></extra>",
            )
        )
        title = plotly_text(f"{topic.label} ({topic.size:,} papers) \u2014 {theme.label}")
        visible = [j == k for j in range(len(topics))]
        buttons.append(
            {
                "label": plotly_text(
                    f"{short_label(theme.label, 24)} \u203a {short_label(topic.label, 40)}"
                ),
                "method": "update",
                "args": [{"visible": visible}, {"title.text": title}],
            }
        )
    first = topics[0] if topics else None
    title = (
        plotly_text(f"{first[1].label} ({first[1].size:,} papers) \u2014 {first[0].label}")
        if first
        else ""
    )
    layout(fig, 440, showlegend=False)
    fig.update_layout(
        # Title at the top of the figure, the menu under it (just above the bars).
        title={
            "text": title,
            "x": 0.0,
            "xanchor": "left",
            "xref": "paper",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 8},
            "font": {"size": 14},
        },
        margin={"l": 10, "r": 10, "t": 96, "b": 10},
        updatemenus=[
            {
                "buttons": buttons,
                "direction": "down",
                "x": 0.0,
                "xanchor": "left",
                "y": 1.0,
                "yanchor": "bottom",
                "pad": {"b": 10},
                "showactive": True,
                "active": 0,
            }
        ],
    )
    fig.update_xaxes(title_text="% of the topic's papers that mention the term", rangemode="tozero")
    fig.update_yaxes(automargin=True)
    return fig


def terms_section(corpus: Corpus, themes: Sequence[TaxonomyNode], divs: Divs) -> Section:
    return (
        "terms",
        "Top terms per topic",
        '<p class="note">The keywords of each topic (pick one in the menu); bars show '
        "how many of the topic's papers mention the term.</p>"
        + divs(_terms_figure(corpus, themes), "fig-terms"),
    )
