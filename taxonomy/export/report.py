"""Trends over time and a self-contained plotly report of the taxonomy (`report.html`).

`trends_frame` counts papers per theme/topic per month (from `Paper.year_month`); `trends_csv`
writes it; `rising_topics` compares each topic's share of the last months with its share
before. `report_html` renders one offline HTML page: plotly.js is inlined once and every figure
carries only aggregates (counts, shares, keyword frequencies, topic similarities), never
per-paper data, so the page stays a few MB even for 100k papers.

All text that reaches the page (labels, keywords, the title) is escaped: plotly renders a few
HTML-like tags in its text, so labels are passed to plotly with `<`, `>` and `&` as entities,
and the HTML around the figures is built with `html.escape`.
"""

from __future__ import annotations

import functools
import html
import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from taxonomy.models import Corpus, TaxonomyNode

__all__ = [
    "TREND_COLUMNS",
    "RISING_COLUMNS",
    "trends_frame",
    "trends_csv",
    "rising_topics",
    "report_html",
]

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
#: Topics listed as rising and as fading in the report.
TOP_CHANGES = 10
#: Keywords shown per topic in the "top terms" figure.
TOP_TERMS = 10
#: Longest label shown on an axis (the full label is in the hover text).
AXIS_LABEL_CHARS = 38
# Light (low) to dark (high); plotly.js's own "Blues" runs the other way.
_BLUES = [
    [0.0, "#f7fbff"],
    [0.25, "#c6dbef"],
    [0.5, "#6baed6"],
    [0.75, "#2171b5"],
    [1.0, "#08306b"],
]
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
# The page loads nothing: scripts and styles are inline, plotly draws heatmaps via data: URLs.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


# --------------------------------------------------------------------------- trends


def _months_between(first: str, last: str) -> list[str]:
    """Every calendar month from `first` to `last` ('YYYY-MM', inclusive)."""
    y0, m0 = (int(v) for v in first.split("-"))
    y1, m1 = (int(v) for v in last.split("-"))
    out = []
    for k in range(y0 * 12 + m0 - 1, y1 * 12 + m1):
        out.append(f"{k // 12:04d}-{k % 12 + 1:02d}")
    return out


def _valid_month(value: str | None) -> str | None:
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
    months_of = [_valid_month(p.year_month) for p in corpus.papers]
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


# --------------------------------------------------------------------------- figures


def _t(text: object) -> str:
    """Text for plotly: its pseudo-HTML (<b>, <a href>, <br>) is shown literally."""
    return html.escape(str(text), quote=False)


def _short(text: str, limit: int = AXIS_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _palette(n: int) -> list[str]:
    """Theme colours: the same as map.html and map.png, so a theme looks alike everywhere."""
    from taxonomy.export.figure import theme_colors

    return theme_colors(n)


def _trace(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": kind, **props}


def _nest(props: Mapping[str, Any]) -> dict[str, Any]:
    """plotly's magic underscores: {"title_text": x} -> {"title": {"text": x}}."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        head, _, rest = key.partition("_")
        if rest and head in ("title", "font", "tickfont", "legend", "margin"):
            out.setdefault(head, {}).update(_nest({rest: value}))
        else:
            out[key] = value
    return out


def _merge(target: dict[str, Any], props: Mapping[str, Any]) -> None:
    for key, value in _nest(props).items():
        if isinstance(value, dict):
            # Merged into a fresh dict: a dict passed to two figures must not change both.
            if not isinstance(target.get(key), dict):
                target[key] = {}
            _merge(target[key], value)
        else:
            target[key] = value


class _Fig:
    """A plotly figure as plain dicts, for `plotly.io.to_html(..., validate=False)`.

    plotly.graph_objects validates and deep-copies every property (its template alone costs
    ~50 ms a figure); the report needs none of that, so building dicts is ~10x faster.
    """

    def __init__(self, trace: dict[str, Any] | None = None) -> None:
        self.data: list[dict[str, Any]] = [trace] if trace else []
        self.layout: dict[str, Any] = {}

    def add_trace(self, trace: dict[str, Any]) -> None:
        self.data.append(trace)

    def update_layout(self, **props: Any) -> None:
        _merge(self.layout, props)

    def update_xaxes(self, **props: Any) -> None:
        _merge(self.layout.setdefault("xaxis", {}), props)

    def update_yaxes(self, **props: Any) -> None:
        _merge(self.layout.setdefault("yaxis", {}), props)

    def add_shape(self, **props: Any) -> None:
        self.layout.setdefault("shapes", []).append(props)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "layout": {"template": _template(), **self.layout}}


@functools.cache
def _template() -> dict[str, Any]:
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()


def _layout(fig: Any, height: int, **extra: Any) -> Any:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        **extra,
    )
    return fig


def _hierarchy_arrays(themes: Sequence[TaxonomyNode], root: str | None):
    ids, labels, parents, values, hover = [], [], [], [], []
    total = sum(t.size for t in themes)
    if root is not None:
        ids.append("__all__")
        labels.append(_t(root))
        parents.append("")
        values.append(total)
        hover.append(f"{len(themes)} themes")
    for theme in themes:
        ids.append(f"theme:{theme.id}")
        labels.append(_t(theme.label))
        parents.append("__all__" if root is not None else "")
        values.append(theme.size)
        hover.append(_t(", ".join(theme.keywords[:8])))
        for topic in theme.children:
            ids.append(f"topic:{topic.id}")
            labels.append(_t(topic.label))
            parents.append(f"theme:{theme.id}")
            values.append(topic.size)
            hover.append(_t(", ".join(topic.keywords[:8])))
    return ids, labels, parents, values, hover


def _tree_trace(themes: Sequence[TaxonomyNode], kind: str, **style: Any) -> Any:
    """The themes and topics as one plotly tree trace (treemap or icicle) in theme colours."""
    ids, labels, parents, values, hover = _hierarchy_arrays(themes, "Papers in topics")
    colors = _palette(len(themes))
    theme_color = {f"theme:{t.id}": colors[k] for k, t in enumerate(themes)}
    theme_color["__all__"] = "#eeeeee"
    marker_colors = [
        theme_color.get(i, theme_color.get(p, "#ccc")) for i, p in zip(ids, parents, strict=True)
    ]
    return _Fig(
        _trace(
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
    return _layout(fig, 560)


def _hierarchy_figure(themes: Sequence[TaxonomyNode]) -> Any:
    fig = _tree_trace(
        themes,
        "icicle",
        # Label, size and keywords on each tile (as far as the tile has room).
        texttemplate="<b>%{label}</b> (%{value:,})<br>%{customdata}",
        tiling={"orientation": "h"},
    )
    height = max(420, min(1400, 16 * sum(len(t.children) for t in themes) + 80))
    return _layout(fig, height)


#: Below this many dated papers per month on average, the figures over time use quarters (or
#: years): single papers per month make the share bars jump between 0 and 100 %.
MIN_PER_PERIOD = 8


def _period_of(months: list[str], n_dated: int) -> tuple[str, dict[str, str]]:
    """The time step for the figures ('month', 'quarter' or 'year') and month -> period."""
    if n_dated >= MIN_PER_PERIOD * len(months):
        return "month", {m: m for m in months}
    quarters = {m: f"{m[:4]} Q{(int(m[5:]) - 1) // 3 + 1}" for m in months}
    if n_dated >= MIN_PER_PERIOD * len(set(quarters.values())):
        return "quarter", quarters
    return "year", {m: m[:4] for m in months}


def _legend_name(label: str, width: int = 28) -> str:
    """A legend entry shown whole: long labels wrap onto more lines."""
    return "<br>".join(_t(line) for line in textwrap.wrap(label, width)) or _t(label)


def _month_figures(frame: pd.DataFrame, themes: Sequence[TaxonomyNode]) -> tuple[Any, Any, str]:
    theme_rows = frame[frame["level"] == "theme"]
    months = sorted(set(theme_rows["month"]))
    step, period_of = _period_of(months, int(theme_rows["papers"].sum()))
    periods = list(dict.fromkeys(period_of[m] for m in months))
    colors = _palette(len(themes))
    counts = _Fig()
    shares = _Fig()
    for k, theme in enumerate(themes):
        rows = theme_rows[theme_rows["id"] == theme.id]
        per = rows.groupby(rows["month"].map(period_of), sort=False)["papers"].sum()
        y = [int(per.get(p, 0)) for p in periods]
        common = {
            "x": periods,
            "y": y,
            "name": _legend_name(theme.label),
            "legendgroup": theme.id,
            "marker": {"color": colors[k]},
            "customdata": [_t(theme.label)] * len(y),
        }
        counts.add_trace(
            _trace(
                "bar",
                **common,
                hovertemplate="%{customdata}<br>%{x}: %{y:,} papers<extra></extra>",
            )
        )
        shares.add_trace(
            _trace(
                "bar",
                **common,
                hovertemplate=f"%{{customdata}}<br>%{{x}}: %{{y:.1f}}% of the {step}'s papers"
                "<extra></extra>",
            )
        )
    xaxis = {"type": "category", "categoryorder": "array", "categoryarray": periods}
    xaxis |= {"tickangle": -45 if len(periods) > 12 else 0, "nticks": 24}
    legend = {"traceorder": "normal", "font": {"size": 11}, "valign": "top"}
    _layout(counts, 440, barmode="stack", bargap=0.1, xaxis=xaxis, legend=legend)
    counts.update_yaxes(title_text="papers")
    _layout(shares, 440, barmode="stack", barnorm="percent", bargap=0.1, xaxis=xaxis)
    shares.update_layout(legend=legend)
    shares.update_yaxes(title_text="% of papers", range=[0, 100])
    return counts, shares, step


def _changes_figure(rising: pd.DataFrame) -> Any:
    up = rising[rising["growth"] > 1].head(TOP_CHANGES)
    down = rising[rising["growth"] < 1].tail(TOP_CHANGES)
    rows = pd.concat([up, down])
    rows = rows.iloc[::-1]  # plotly draws the first category at the bottom
    # Topic labels on the axis; a label shared by two topics gets the topic id (categories of
    # the same name would be drawn as one bar).
    names = [_short(lab, 44) for lab in rows["label"]]
    y = [
        _t(f"{name} [{node_id}]" if names.count(name) > 1 else name)
        for name, node_id in zip(names, rows["id"], strict=True)
    ]
    pp = (rows["recent_share"] - rows["before_share"]) * 100
    custom = np.stack(
        [
            [
                _t(f"{a} \u00b7 {b}")
                for a, b in zip(rows["label"], rows["parent_label"], strict=True)
            ],
            rows["recent"].astype(str),
            rows["before"].astype(str),
            [f"{v:.2f}" for v in rows["growth"]],
        ],
        axis=1,
    )
    fig = _Fig(
        _trace(
            "bar",
            x=pp.round(3).tolist(),
            y=y,
            orientation="h",
            marker={"color": ["#2a9d8f" if v >= 0 else "#e76f51" for v in pp]},
            text=[f"{r} vs {b}" for r, b in zip(rows["recent"], rows["before"], strict=True)],
            textposition="auto",
            customdata=custom,
            hovertemplate="<b>%{customdata[0]}</b><br>share change %{x:+.2f} points"
            "<br>%{customdata[1]} papers recently, %{customdata[2]} before"
            "<br>growth \u00d7%{customdata[3]}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="change in share of papers (percentage points)", zeroline=True)
    fig.update_yaxes(automargin=True)
    return _layout(fig, max(320, 26 * len(rows) + 90))


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
    colors = _palette(len(themes))
    theme_color = {t.id: colors[k] for k, t in enumerate(themes)}
    fig = _Fig()
    buttons = []
    for k, (theme, topic) in enumerate(topics):
        words = topic.keywords[:TOP_TERMS]
        cover = _keyword_coverage(corpus, topic)
        fig.add_trace(
            _trace(
                "bar",
                x=[round(100 * c, 1) for c in cover][::-1],
                y=[_t(w) for w in words][::-1],
                orientation="h",
                visible=k == 0,
                marker={"color": theme_color[theme.id]},
                name=_t(_short(topic.label)),
                hovertemplate="%{y}: in %{x:.1f}% of the topic's papers<extra></extra>",
            )
        )
        title = _t(f"{topic.label} ({topic.size:,} papers) \u2014 {theme.label}")
        visible = [j == k for j in range(len(topics))]
        buttons.append(
            {
                "label": _t(f"{_short(theme.label, 24)} \u203a {_short(topic.label, 40)}"),
                "method": "update",
                "args": [{"visible": visible}, {"title.text": title}],
            }
        )
    first = topics[0] if topics else None
    title = (
        _t(f"{first[1].label} ({first[1].size:,} papers) \u2014 {first[0].label}") if first else ""
    )
    _layout(fig, 440, showlegend=False)
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
    names = [_t(f"{_short(t.label, 28)} [{t.id}]") for _, t in topics]
    fig = _Fig(
        _trace(
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
    _layout(fig, side)
    fig.update_xaxes(tickangle=-60, tickfont={"size": 10}, showgrid=False)
    fig.update_yaxes(autorange="reversed", tickfont={"size": 10}, showgrid=False)
    return fig


# --------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:1.6em;margin:.4em 0 .1em}
h2{font-size:1.15em;margin:1.6em 0 .2em;border-bottom:1px solid #ddd;padding-bottom:4px}
p.note{color:#555;margin:.2em 0 .6em;font-size:.92em}
section{background:#fff;border:1px solid #e4e4e4;border-radius:6px;padding:4px 14px 10px;
margin:14px 0}
.summary{color:#444}
table{border-collapse:collapse;font-size:.9em;margin:.4em 0 .8em;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th.n{text-align:right}
.tables{display:grid;grid-template-columns:1fr 1fr;gap:18px}
@media (max-width:900px){.tables{grid-template-columns:1fr}}
nav a{margin-right:12px;font-size:.92em}
"""


def _div(fig: Any, div_id: str, first: list[bool]) -> str:
    import plotly.io as pio

    include = first[0]
    first[0] = False
    return pio.to_html(
        fig.to_dict(),
        include_plotlyjs=include,
        full_html=False,
        div_id=div_id,
        config=PLOTLY_CONFIG,
        default_width="100%",
        default_height=f"{fig.layout['height']}px",
        validate=False,
    )


def _change_table(rows: pd.DataFrame, recent_label: str) -> str:
    e = html.escape
    out = [
        "<table><thead><tr><th>Topic</th><th>Theme</th>"
        f'<th class="n">{e(recent_label)}</th><th class="n">before</th>'
        '<th class="n">share now / before</th><th class="n">growth</th></tr></thead><tbody>'
    ]
    for row in rows.itertuples(index=False):
        out.append(
            f"<tr><td>{e(row.label)}</td><td>{e(row.parent_label)}</td>"
            f'<td class="n">{row.recent:,}</td><td class="n">{row.before:,}</td>'
            f'<td class="n">{100 * row.recent_share:.1f}% / {100 * row.before_share:.1f}%</td>'
            f'<td class="n">\u00d7{row.growth:.2f}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _month_name(month: str) -> str:
    names = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return f"{names[int(month[5:]) - 1]} {month[:4]}"


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
    e = html.escape
    frame = trends if trends is not None else trends_frame(corpus, themes)
    first = [True]
    n_papers = len(corpus)
    n_assigned = sum(t.size for t in themes)
    n_topics = sum(len(t.children) for t in themes)
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)

    if themes:
        sections.append(
            (
                "sizes",
                "Themes and topics by size",
                '<p class="note">Area is the number of papers; click a theme to zoom into its '
                "topics.</p>" + _div(_sizes_figure(themes), "fig-sizes", first),
            )
        )

    months = sorted(set(frame["month"])) if len(frame) else []
    if months and n_assigned:
        span = f"{_month_name(months[0])} \u2013 {_month_name(months[-1])}"
        counts, shares, step = _month_figures(frame, themes)
        sections.append(
            (
                "months",
                "Themes over time",
                f'<p class="note">Papers per {step} by theme ({e(span)}; papers without a month '
                "are not counted).</p>"
                + _div(counts, "fig-month-counts", first)
                + f"<p class=\"note\">The same, as each theme's share of the {step}'s papers.</p>"
                + _div(shares, "fig-month-shares", first),
            )
        )
        rising = rising_topics(frame, recent_months=recent_months)
        if len(rising):
            window = months[-recent_months:]
            window_text = (
                _month_name(window[0])
                if len(window) == 1
                else f"{_month_name(window[0])} \u2013 {_month_name(window[-1])}"
            )
            up = rising[(rising["growth"] > 1) & (rising["recent"] > 0)].head(TOP_CHANGES)
            down = rising[rising["growth"] < 1].iloc[::-1].head(TOP_CHANGES)
            body = (
                f'<p class="note">Each topic\'s share of papers in the last {recent_months} '
                f"month{'s' if recent_months > 1 else ''} ({e(window_text)}) against its share "
                f"in the {len(months) - len(window)} months before; bars show the change in "
                "percentage points, labels the paper counts (recent vs before). Growth is the "
                "ratio of the two shares (one pseudo-paper added to each topic).</p>"
                + _div(_changes_figure(rising), "fig-changes", first)
                + '<div class="tables"><div><h3>Rising</h3>'
                + _change_table(up, "last months")
                + "</div><div><h3>Fading</h3>"
                + _change_table(down, "last months")
                + "</div></div>"
            )
        else:
            body = (
                f'<p class="note">Not enough months to compare: the papers span {len(months)} '
                f"month{'s' if len(months) != 1 else ''}, fewer than the last {recent_months} "
                "plus at least one before.</p>"
            )
        sections.append(("changes", "Rising and fading topics", body))
    else:
        note = (
            '<p class="note">No papers have a month (from arXiv ids or a date column), so the '
            "figures over time are left out.</p>"
        )
        sections.append(("months", "Themes over time", note))

    if n_topics:
        sections.append(
            (
                "terms",
                "Top terms per topic",
                '<p class="note">The keywords of each topic (pick one in the menu); bars show '
                "how many of the topic's papers mention the term.</p>"
                + _div(_terms_figure(corpus, themes), "fig-terms", first),
            )
        )
    if topic_vectors is not None:
        sim = _similarity_figure(themes, topic_vectors)
        if sim is not None:
            sections.append(
                (
                    "similarity",
                    "Topic similarity",
                    '<p class="note">Cosine similarity of the topics\' centroid vectors, topics '
                    "grouped by theme (boxes).</p>" + _div(sim, "fig-similarity", first),
                )
            )
    if themes:
        sections.append(
            (
                "hierarchy",
                "Hierarchy",
                '<p class="note">Themes \u2192 topics with their keywords; click a theme to '
                "zoom into it, click it again to zoom out.</p>"
                + _div(_hierarchy_figure(themes), "fig-hierarchy", first),
            )
        )

    unassigned = n_papers - n_assigned
    dated = sum(1 for p in corpus.papers if _valid_month(p.year_month))
    summary = (
        f"{n_papers:,} papers \u00b7 {len(themes)} themes \u00b7 {n_topics} topics"
        f" \u00b7 {unassigned:,} unassigned \u00b7 {dated:,} with a month"
    )
    nav = " ".join(f'<a href="#{a}">{e(h)}</a>' for a, h, _ in sections)
    body = "\n".join(
        f'<section id="{a}"><h2>{e(h)}</h2>{content}</section>' for a, h, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{_CSS}</style></head>\n"
        f'<body><main><h1>{e(title)}</h1><p class="summary">{e(summary)}</p>'
        f"<nav>{nav}</nav>\n{body}\n</main></body></html>\n"
    )
