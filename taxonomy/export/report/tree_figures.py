"""The themes and topics as tree figures: sizes (a treemap) and the hierarchy (an icicle)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taxonomy.export.report.figures import Divs, Fig, Section, layout, palette, plotly_text, trace
from taxonomy.models import TaxonomyNode


def _hierarchy_arrays(themes: Sequence[TaxonomyNode], root: str | None):
    ids, labels, parents, values, hover = [], [], [], [], []
    total = sum(t.size for t in themes)
    if root is not None:
        ids.append("__all__")
        labels.append(plotly_text(root))
        parents.append("")
        values.append(total)
        hover.append(f"{len(themes)} themes")
    for theme in themes:
        ids.append(f"theme:{theme.id}")
        labels.append(plotly_text(theme.label))
        parents.append("__all__" if root is not None else "")
        values.append(theme.size)
        hover.append(plotly_text(", ".join(theme.keywords[:8])))
        for topic in theme.children:
            ids.append(f"topic:{topic.id}")
            labels.append(plotly_text(topic.label))
            parents.append(f"theme:{theme.id}")
            values.append(topic.size)
            hover.append(plotly_text(", ".join(topic.keywords[:8])))
    return ids, labels, parents, values, hover


def _tree_trace(themes: Sequence[TaxonomyNode], kind: str, **style: Any) -> Any:
    """The themes and topics as one plotly tree trace (treemap or icicle) in theme colours."""
    ids, labels, parents, values, hover = _hierarchy_arrays(themes, "Papers in topics")
    colors = palette(len(themes))
    theme_color = {f"theme:{t.id}": colors[k] for k, t in enumerate(themes)}
    theme_color["__all__"] = "#eeeeee"
    marker_colors = [
        theme_color.get(i, theme_color.get(p, "#ccc")) for i, p in zip(ids, parents, strict=True)
    ]
    return Fig(
        trace(
            kind,
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="total",
            customdata=hover,
            marker={"colors": marker_colors},
            hovertemplate="<b>%{label}</b><br>%{value:,} papers (%{percentRoot:.1%})"
            "<br>%{customdata}<extra></extra>",
            **style,
        )
    )


def _sizes_figure(themes: Sequence[TaxonomyNode]) -> Any:
    fig = _tree_trace(
        themes,
        "treemap",
        texttemplate="<b>%{label}</b><br>%{value:,} papers",
        tiling={"pad": 2},
        pathbar={"visible": True},
    )
    return layout(fig, 560)


def _hierarchy_figure(themes: Sequence[TaxonomyNode]) -> Any:
    fig = _tree_trace(
        themes,
        "icicle",
        # Label, size and keywords on each tile (as far as the tile has room).
        texttemplate="<b>%{label}</b> (%{value:,})<br>%{customdata}",
        tiling={"orientation": "h"},
    )
    height = max(420, min(1400, 16 * sum(len(t.children) for t in themes) + 80))
    return layout(fig, height)


def sizes_section(themes: Sequence[TaxonomyNode], divs: Divs) -> Section:
    return (
        "sizes",
        "Themes and topics by size",
        '<p class="note">Area is the number of papers; click a theme to zoom into its '
        "topics.</p>" + divs(_sizes_figure(themes), "fig-sizes"),
    )


def hierarchy_section(themes: Sequence[TaxonomyNode], divs: Divs) -> Section:
    return (
        "hierarchy",
        "Hierarchy",
        '<p class="note">Themes \u2192 topics with their keywords; click a theme to '
        "zoom into it, click it again to zoom out.</p>"
        + divs(_hierarchy_figure(themes), "fig-hierarchy"),
    )
