"""The static map figure (taxonomy.export.figure): PNG at 300 dpi, SVG as XML with the labels
as text, byte-identical output for the same input, labels that never overlap (crowded labels go
to a legend), label text taken literally (no mathtext, no markup)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from taxonomy.export.figure import DPI, FIG_INCHES, map_figure
from taxonomy.models import TaxonomyNode

PIL = pytest.importorskip("PIL.Image")


def make_map(n=600, n_themes=6, seed=1, spread=0.05, centres=None):
    rng = np.random.default_rng(seed)
    layout = rng.uniform(0, 1, size=(n, 2))
    theme_of = np.where(np.arange(n) % 20 == 0, -1, np.arange(n) % n_themes)
    if centres is None:
        centres = rng.uniform(0.2, 0.8, size=(n_themes, 2))
    themes = []
    for k in range(n_themes):
        members = np.flatnonzero(theme_of == k)
        layout[members] = centres[k] + rng.normal(0, spread, size=(len(members), 2))
        themes.append(
            TaxonomyNode(
                id=f"theme-{k + 1}",
                label=f"Theme number {k + 1} label",
                keywords=[],
                members=[int(i) for i in members],
                representatives=[],
            )
        )
    return np.clip(layout, 0, 1), themes


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text")]


def test_png_and_svg_are_valid():
    layout, themes = make_map()
    png, svg = map_figure(layout, themes, title="Synthetic map")
    image = PIL.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (round(FIG_INCHES[0] * DPI), round(FIG_INCHES[1] * DPI))
    assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01)
    assert not any("date" in key.lower() for key in image.info)
    texts = svg_texts(svg)
    assert "Synthetic map" in texts
    for theme in themes:
        assert theme.label in texts
    assert "<dc:date>" not in svg


def test_output_is_deterministic():
    layout, themes = make_map(seed=4)
    first = map_figure(layout, themes, title="Same")
    second = map_figure(layout.copy(), themes, title="Same")
    assert first[0] == second[0]
    assert first[1] == second[1]


def test_labels_are_literal_text():
    layout, themes = make_map(n_themes=2)
    themes[0].label = "Costs in $ and $x^2$ & <b>markup</b>"
    png, svg = map_figure(layout, themes, title="Title with $math$ & <tags>")
    texts = svg_texts(svg)  # ElementTree unescapes: the text is exactly the label
    assert "Title with $math$ & <tags>" in texts
    wrapped = [t for t in texts if "Costs in" in t or "markup" in t]
    assert " ".join(wrapped).split() == themes[0].label.split()
    assert "<b>markup" not in svg  # escaped in the SVG source


def test_crowded_labels_do_not_overlap():
    # 24 themes all centred on the same few spots: labels must move apart or go to the legend.
    centres = np.array([[0.5, 0.5], [0.52, 0.5], [0.5, 0.52]] * 8)
    layout, themes = make_map(n=2400, n_themes=24, centres=centres, spread=0.01)
    import matplotlib

    from taxonomy.export.figure import _RC, _render

    with matplotlib.rc_context(_RC):
        fig, placed, skipped = _render(layout, themes, "Crowded")
    assert len(placed) + len(skipped) == 24
    assert len(placed) >= 8  # most labels still find a spot nearby
    for a in range(len(placed)):
        for b in range(a + 1, len(placed)):
            assert not placed[a].overlaps(placed[b]), (a, b)
    _, svg = map_figure(layout, themes, title="Crowded")
    texts = svg_texts(svg)
    joined = " ".join(texts)
    for theme in themes:  # every theme named once: on the map or in the legend
        assert len(re.findall(rf"\b{theme.label}\b", joined)) == 1, theme.label
    if skipped:
        assert "Also" in texts


def test_large_map_is_rasterised_in_svg():
    layout, themes = make_map(n=20_000, n_themes=8)
    png, svg = map_figure(layout, themes, title="20k papers")
    assert "<image" in svg  # the points as one embedded image, the text still vector
    assert len(svg) < 3_000_000
    assert "Theme number 1 label" in svg_texts(svg)
