"""Topic similarity: the cosine of the topics' centroid vectors, as a heatmap by theme."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from taxonomy.export.report.figures import (
    Divs,
    Fig,
    Section,
    layout,
    plotly_text,
    short_label,
    trace,
)
from taxonomy.models import TaxonomyNode

# Light (low) to dark (high); plotly.js's own "Blues" runs the other way.
_BLUES = [
    [0.0, "#f7fbff"],
    [0.25, "#c6dbef"],
    [0.5, "#6baed6"],
    [0.75, "#2171b5"],
    [1.0, "#08306b"],
]


def _similarity_figure(
    themes: Sequence[TaxonomyNode], topic_vectors: Mapping[str, Any]
) -> Any | None:
    topics = [
        (theme, topic) for theme in themes for topic in theme.children if topic.id in topic_vectors
    ]
    if len(topics) < 2:
        return None
    vectors = np.asarray([np.asarray(topic_vectors[t.id], dtype=np.float64) for _, t in topics])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    sim = np.clip(unit @ unit.T, -1.0, 1.0).round(3)
    off = sim[~np.eye(len(sim), dtype=bool)]
    if off.min() == off.max():
        off = np.array([off.min() - 0.01, off.max()])
    # Hover reads the axis labels (no per-cell text: 200 topics would add ~5 MB).
    names = [plotly_text(f"{short_label(t.label, 28)} [{t.id}]") for _, t in topics]
    fig = Fig(
        trace(
            "heatmap",
            z=sim.tolist(),
            x=names,
            y=names,
            colorscale=_BLUES,
            # Colours span the off-diagonal values (the diagonal is 1 and would flatten them).
            zmin=float(off.min()),
            zmax=float(off.max()),
            hovertemplate="%{y}<br>%{x}<br>cosine %{z:.3f}<extra></extra>",
            colorbar={"title": {"text": "cosine"}, "thickness": 12},
        )
    )
    # Theme blocks: the topics are ordered by theme, so a theme is a square on the diagonal.
    start = 0
    for theme in themes:
        n = sum(1 for th, _ in topics if th is theme)
        if n:
            fig.add_shape(
                type="rect",
                x0=start - 0.5,
                x1=start + n - 0.5,
                y0=start - 0.5,
                y1=start + n - 0.5,
                line={"color": "#333", "width": 1},
            )
        start += n
    side = max(420, min(1100, 16 * len(topics) + 220))
    layout(fig, side)
    fig.update_xaxes(tickangle=-60, tickfont={"size": 10}, showgrid=False)
    fig.update_yaxes(autorange="reversed", tickfont={"size": 10}, showgrid=False)
    return fig


def similarity_section(
    themes: Sequence[TaxonomyNode], topic_vectors: Mapping[str, Any], divs: Divs
) -> Section | None:
    """The heatmap's section; None when fewer than two topics have a vector."""
    sim = _similarity_figure(themes, topic_vectors)
    if sim is None:
        return None
    return (
        "similarity",
        "Topic similarity",
        '<p class="note">Cosine similarity of the topics\' centroid vectors, topics '
        "grouped by theme (boxes).</p>" + divs(sim, "fig-similarity"),
    )
