"""A static, labelled figure of the map (`map.png` at 300 dpi and `map.svg`) for papers and slides.

Points are coloured by theme (the HTML map's palette, unassigned papers grey) and each theme is
labelled on its papers (`anchors.label_anchor`: its largest dense region) in bold with a white
halo. Labels never overlap: they are placed largest theme first, each at the first free spot on
rings around its anchor; a label with no free spot nearby is left off the map and listed in a
small legend instead.

The output is deterministic (same input, same bytes): matplotlib's Agg/SVG renderers are used
directly (no pyplot, no global state), the SVG ids come from a fixed hash salt and neither file
carries a date. Text is kept as text in the SVG (editable, searchable).
"""

from __future__ import annotations

import colorsys
import io
import textwrap
from collections.abc import Sequence

import numpy as np

from taxonomy.export.anchors import label_anchor
from taxonomy.models import TaxonomyNode

__all__ = ["map_figure", "theme_colors", "DPI"]

DPI = 300
FIG_INCHES = (8.0, 8.0)
#: Same first colours as the HTML map (templates/map.js), so figure and map agree.
PALETTE = [
    "#5b9cf6",
    "#f5a524",
    "#ef6461",
    "#3fc6a0",
    "#b27cf2",
    "#f2d04e",
    "#59cfe6",
    "#f283bd",
    "#93d152",
    "#e6895a",
    "#8e9cf8",
    "#c9a27e",
    "#6fe0c6",
    "#f7a8a8",
    "#a5b8d9",
    "#d7e36b",
]
GREY = "#b9bec7"
#: Above this many points the scatter is embedded as a 300-dpi image inside the SVG (text
#: stays vector); below it every point is an SVG element.
SVG_RASTER_ABOVE = 3000
LABEL_WRAP = 22
# Ring radii (points) and directions tried around a label's anchor, nearest first.
_RADII = (0, 6, 12, 18, 26, 36, 48, 62)
_DIRECTIONS = [(0, 1), (0, -1), (1, 0), (-1, 0), (0.7, 0.7), (-0.7, 0.7), (0.7, -0.7), (-0.7, -0.7)]


def theme_colors(n: int) -> list[str]:
    """`n` theme colours: the map's palette, then golden-angle hues (as the map does)."""
    out = []
    for t in range(n):
        if t < len(PALETTE):
            out.append(PALETTE[t])
            continue
        hue = (t * 137.508) % 360 / 360
        r, g, b = colorsys.hls_to_rgb(hue, 0.66 if t % 2 else 0.58, 0.68)
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out


def _darken(color: str, factor: float = 0.55) -> str:
    """A darker shade of a '#rrggbb' colour (label text that still matches its points)."""
    r, g, b = (int(color[k : k + 2], 16) for k in (1, 3, 5))
    h, l_, s = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
    r, g, b = colorsys.hls_to_rgb(h, l_ * factor, min(1.0, s * 1.1))
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _point_size(n: int) -> float:
    """Marker area (pt^2): ~12 for a few hundred papers down to 0.3 at 100k."""
    return float(np.clip(6000.0 / max(n, 1), 0.3, 12.0))


def _wrap(label: str) -> str:
    return (
        "\n".join(textwrap.wrap(label, LABEL_WRAP, break_long_words=False, break_on_hyphens=False))
        or label
    )


def _overlaps(box, placed, pad: float) -> bool:
    for other in placed:
        if (
            box.x0 - pad < other.x1
            and other.x0 < box.x1 + pad
            and box.y0 - pad < other.y1
            and other.y0 < box.y1 + pad
        ):
            return True
    return False


def map_figure(
    layout: np.ndarray, themes: Sequence[TaxonomyNode], *, title: str
) -> tuple[bytes, str]:
    """PNG bytes (300 dpi) and SVG text of the labelled map.

    `layout`: [n_papers, 2] positions in [0, 1]; `themes`: theme nodes whose `members` index
    rows of `layout` (papers in no theme are drawn grey). Labels are the theme labels.
    """
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig, _, _ = _render(layout, themes, title)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
        svg = io.StringIO()
        fig.savefig(svg, format="svg", dpi=DPI, metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


_RC = {
    "svg.hashsalt": "taxonomy-map",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "path.simplify": True,
}


def _render(layout: np.ndarray, themes: Sequence[TaxonomyNode], title: str):
    """The matplotlib Figure, the placed label boxes (pixels) and the themes left unlabelled."""
    from matplotlib import patheffects
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    xy = np.asarray(layout, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    colors = theme_colors(len(themes))
    fig = Figure(figsize=FIG_INCHES, dpi=DPI, layout=None)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.90))
    ax.set_axis_off()
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal", adjustable="box")
    fig.suptitle(title, x=0.03, y=0.975, ha="left", fontsize=14, parse_math=False)

    size = _point_size(n)
    rasterize = n > SVG_RASTER_ABOVE
    assigned = np.zeros(n, dtype=bool)
    for theme in themes:
        assigned[np.asarray(theme.members, dtype=np.int64)] = True
    if (~assigned).any():
        rest = xy[~assigned]
        ax.scatter(rest[:, 0], rest[:, 1], s=size, c=GREY, linewidths=0, rasterized=rasterize)
    # Largest theme first, so smaller themes are drawn on top and stay visible.
    for k, theme in enumerate(themes):
        if not theme.members:
            continue
        pts = xy[np.asarray(theme.members, dtype=np.int64)]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=size,
            c=colors[k],
            linewidths=0,
            alpha=0.85,
            rasterized=rasterize,
        )

    placed, skipped = _place_labels(fig, ax, xy, themes, colors, patheffects)
    if skipped:
        handles = [
            Line2D([], [], marker="o", ls="", color=colors[k], markersize=5) for k in skipped
        ]
        legend = ax.legend(
            handles,
            [themes[k].label for k in skipped],
            loc="lower right",
            fontsize=6.5,
            frameon=True,
            framealpha=0.85,
            title="Also",
            title_fontsize=6.5,
            borderaxespad=0.2,
        )
        for text in legend.get_texts():
            text.set_parse_math(False)
    return fig, placed, skipped


def _place_labels(fig, ax, xy, themes, colors, patheffects):
    """Theme labels, largest theme first, each at the nearest non-overlapping spot around its
    anchor (`anchors.label_anchor`); returns the placed boxes (pixels) and the indices of
    themes whose label found no spot."""
    ax.apply_aspect()
    renderer = fig.canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    pixels_per_point = fig.dpi / 72.0
    placed = []
    skipped = []
    order = sorted(range(len(themes)), key=lambda k: (-themes[k].size, themes[k].id))
    total = max(sum(t.size for t in themes), 1)
    for k in order:
        theme = themes[k]
        if not theme.members:
            continue
        anchor = label_anchor(xy, theme.members)
        share = theme.size / total
        fontsize = float(np.clip(8.0 + 18.0 * np.sqrt(share), 8.0, 13.0))
        text = ax.text(
            anchor[0],
            anchor[1],
            _wrap(theme.label),
            ha="center",
            va="center",
            fontsize=fontsize,
            fontweight="bold",
            color=_darken(colors[k]),
            linespacing=1.05,
            parse_math=False,
            zorder=5,
        )
        box = text.get_window_extent(renderer)
        spot = None
        for radius in _RADII:
            for dx, dy in _DIRECTIONS if radius else [(0, 0)]:
                shift_x = dx * radius * pixels_per_point
                shift_y = dy * radius * pixels_per_point
                moved = box.translated(shift_x, shift_y)
                inside = (
                    moved.x0 >= axes_box.x0
                    and moved.x1 <= axes_box.x1
                    and moved.y0 >= axes_box.y0
                    and moved.y1 <= axes_box.y1
                )
                if inside and not _overlaps(moved, placed, 2 * pixels_per_point):
                    spot = (shift_x, shift_y, moved)
                    break
            if spot:
                break
        if spot is None:
            text.remove()
            skipped.append(k)
            continue
        shift_x, shift_y, moved = spot
        if shift_x or shift_y:
            px, py = ax.transData.transform(anchor)
            text.set_position(ax.transData.inverted().transform((px + shift_x, py + shift_y)))
        # The white halo is a copy behind the label: path effects would turn the label itself
        # into outlines in the SVG, and it should stay text there.
        halo = ax.text(
            *text.get_position(),
            text.get_text(),
            ha="center",
            va="center",
            fontsize=fontsize,
            fontweight="bold",
            color="white",
            linespacing=1.05,
            parse_math=False,
            zorder=4,
        )
        halo.set_path_effects([patheffects.withStroke(linewidth=3.0, foreground="white")])
        placed.append(moved)
    return placed, sorted(skipped)
