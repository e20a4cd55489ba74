"""plotly figures as plain dicts, and their HTML divs (plotly.js inlined once per page).

All text that reaches a figure goes through `plotly_text`: plotly renders a few HTML-like tags
in its text, so labels are passed to plotly with `<`, `>` and `&` as entities.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping
from typing import Any

#: Longest label shown on an axis (the full label is in the hover text).
AXIS_LABEL_CHARS = 38
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

Section = tuple[str, str, str]  # (anchor, heading, body) of one section of the page


def plotly_text(text: object) -> str:
    """Text for plotly: its pseudo-HTML (<b>, <a href>, <br>) is shown literally."""
    return html.escape(str(text), quote=False)


def short_label(text: str, limit: int = AXIS_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def palette(n: int) -> list[str]:
    """Theme colours: the same as map.html and map.png, so a theme looks alike everywhere."""
    from taxonomy.export.figure import theme_colors

    return theme_colors(n)


def trace(kind: str, **props: Any) -> dict[str, Any]:
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


class Fig:
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


def layout(fig: Any, height: int, **extra: Any) -> Any:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        **extra,
    )
    return fig


class Divs:
    """Figures as HTML divs for one page: the first carries plotly.js, the others use it."""

    def __init__(self) -> None:
        self._first = True

    def __call__(self, fig: Fig, div_id: str) -> str:
        import plotly.io as pio

        include, self._first = self._first, False
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
