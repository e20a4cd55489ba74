"""The figures over time: papers per theme by month (or quarter, or year), and the rising and
fading topics of the last months (a bar figure and two tables)."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

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
from taxonomy.export.report.trends import rising_topics
from taxonomy.models import TaxonomyNode

#: Topics listed as rising and as fading in the report.
TOP_CHANGES = 10

#: Below this many dated papers per month on average, the figures over time use quarters (or
#: years): single papers per month make the share bars jump between 0 and 100 %.
MIN_PER_PERIOD = 8


def time_step(months: list[str], n_dated: int) -> tuple[str, dict[str, str]]:
    """The time step for the figures ('month', 'quarter' or 'year') and month -> period."""
    if n_dated >= MIN_PER_PERIOD * len(months):
        return "month", {m: m for m in months}
    quarters = {m: f"{m[:4]} Q{(int(m[5:]) - 1) // 3 + 1}" for m in months}
    if n_dated >= MIN_PER_PERIOD * len(set(quarters.values())):
        return "quarter", quarters
    return "year", {m: m[:4] for m in months}


def _legend_name(label: str, width: int = 28) -> str:
    """A legend entry shown whole: long labels wrap onto more lines."""
    lines = textwrap.wrap(label, width)
    return "<br>".join(plotly_text(line) for line in lines) or plotly_text(label)


def _month_figures(frame: pd.DataFrame, themes: Sequence[TaxonomyNode]) -> tuple[Any, Any, str]:
    theme_rows = frame[frame["level"] == "theme"]
    months = sorted(set(theme_rows["month"]))
    step, period_of = time_step(months, int(theme_rows["papers"].sum()))
    periods = list(dict.fromkeys(period_of[m] for m in months))
    colors = palette(len(themes))
    counts = Fig()
    shares = Fig()
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
            "customdata": [plotly_text(theme.label)] * len(y),
        }
        counts.add_trace(
            trace(
                "bar",
                **common,
                hovertemplate="%{customdata}<br>%{x}: %{y:,} papers<extra></extra>",
            )
        )
        shares.add_trace(
            trace(
                "bar",
                **common,
                hovertemplate=f"%{{customdata}}<br>%{{x}}: %{{y:.1f}}% of the {step}'s papers"
                "<extra></extra>",
            )
        )
    xaxis = {"type": "category", "categoryorder": "array", "categoryarray": periods}
    xaxis |= {"tickangle": -45 if len(periods) > 12 else 0, "nticks": 24}
    legend = {"traceorder": "normal", "font": {"size": 11}, "valign": "top"}
    layout(counts, 440, barmode="stack", bargap=0.1, xaxis=xaxis, legend=legend)
    counts.update_yaxes(title_text="papers")
    layout(shares, 440, barmode="stack", barnorm="percent", bargap=0.1, xaxis=xaxis)
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
    names = [short_label(lab, 44) for lab in rows["label"]]
    y = [
        plotly_text(f"{name} [{node_id}]" if names.count(name) > 1 else name)
        for name, node_id in zip(names, rows["id"], strict=True)
    ]
    pp = (rows["recent_share"] - rows["before_share"]) * 100
    custom = np.stack(
        [
            [
                plotly_text(f"{a} \u00b7 {b}")
                for a, b in zip(rows["label"], rows["parent_label"], strict=True)
            ],
            rows["recent"].astype(str),
            rows["before"].astype(str),
            [f"{v:.2f}" for v in rows["growth"]],
        ],
        axis=1,
    )
    fig = Fig(
        trace(
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
    return layout(fig, max(320, 26 * len(rows) + 90))


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


def time_sections(
    frame: pd.DataFrame, themes: Sequence[TaxonomyNode], recent_months: int, divs: Divs
) -> list[Section]:
    """Themes over time and the rising/fading topics; a note instead when no paper has a
    month (or no paper is in a topic)."""
    months = sorted(set(frame["month"])) if len(frame) else []
    if not (months and sum(t.size for t in themes)):
        note = (
            '<p class="note">No papers have a month (from arXiv ids or a date column), so the '
            "figures over time are left out.</p>"
        )
        return [("months", "Themes over time", note)]
    span = f"{_month_name(months[0])} \u2013 {_month_name(months[-1])}"
    counts, shares, step = _month_figures(frame, themes)
    body = (
        f'<p class="note">Papers per {step} by theme ({html.escape(span)}; papers without a '
        "month are not counted).</p>"
        + divs(counts, "fig-month-counts")
        + f"<p class=\"note\">The same, as each theme's share of the {step}'s papers.</p>"
        + divs(shares, "fig-month-shares")
    )
    return [
        ("months", "Themes over time", body),
        ("changes", "Rising and fading topics", _changes_body(frame, months, recent_months, divs)),
    ]


def _changes_body(frame: pd.DataFrame, months: list[str], recent_months: int, divs: Divs) -> str:
    e = html.escape
    rising = rising_topics(frame, recent_months=recent_months)
    if not len(rising):
        return (
            f'<p class="note">Not enough months to compare: the papers span {len(months)} '
            f"month{'s' if len(months) != 1 else ''}, fewer than the last {recent_months} "
            "plus at least one before.</p>"
        )
    window = months[-recent_months:]
    window_text = (
        _month_name(window[0])
        if len(window) == 1
        else f"{_month_name(window[0])} \u2013 {_month_name(window[-1])}"
    )
    up = rising[(rising["growth"] > 1) & (rising["recent"] > 0)].head(TOP_CHANGES)
    down = rising[rising["growth"] < 1].iloc[::-1].head(TOP_CHANGES)
    return (
        f'<p class="note">Each topic\'s share of papers in the last {recent_months} '
        f"month{'s' if recent_months > 1 else ''} ({e(window_text)}) against its share "
        f"in the {len(months) - len(window)} months before; bars show the change in "
        "percentage points, labels the paper counts (recent vs before). Growth is the "
        "ratio of the two shares (one pseudo-paper added to each topic).</p>"
        + divs(_changes_figure(rising), "fig-changes")
        + '<div class="tables"><div><h3>Rising</h3>'
        + _change_table(up, "last months")
        + "</div><div><h3>Fading</h3>"
        + _change_table(down, "last months")
        + "</div></div>"
    )
