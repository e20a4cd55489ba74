"""The sample a capped map draws and the density layer of all papers (taxonomy.export.map_sample):
stratified, deterministic by paper id, every topic kept; the page carries the sample and a
density grid that holds every paper."""

from __future__ import annotations

import base64
import json
import zlib
from collections import Counter

import numpy as np

from taxonomy.export import map_sample
from taxonomy.export.html_map import MapLabel, render_map_html
from tests.helpers.map_data import data_blob, synthetic_map


def _strata(points) -> Counter:
    return Counter((p.theme, p.topic) for p in points)


def test_sample_is_stratified_deterministic_and_keeps_every_topic():
    points, themes, topics = synthetic_map(5000)
    for p in points[:5]:  # a tiny topic of its own: kept whole (fewer than MIN_PER_TOPIC)
        p.theme, p.topic = 0, len(topics)
    topics.append(MapLabel("Tiny", 0.0, 0.0, 5, 0))
    keep = map_sample.sample_points(points, 1000)
    assert len(keep) == 1000 and list(keep) == sorted(set(keep.tolist()))
    kept = [points[i] for i in keep]
    everyone, sampled = _strata(points), _strata(kept)
    assert set(sampled) == set(everyone)  # every topic, and the unassigned papers
    assert sampled[(0, len(topics) - 1)] == 5
    for key, n in everyone.items():
        if n > map_sample.MIN_PER_TOPIC:  # in proportion, within rounding and the floors
            assert abs(sampled[key] - 1000 * n / 5000) <= 3, key
    assert (map_sample.sample_points(points, 1000) == keep).all()
    # Which papers are drawn depends on their ids, not on their order in the input.
    shuffled = points[::-1]
    again = {shuffled[i].id for i in map_sample.sample_points(shuffled, 1000)}
    assert again == {p.id for p in kept}
    other = {points[i].id for i in map_sample.sample_points(points, 1000, seed=1)}
    assert other != {p.id for p in kept}
    assert (map_sample.sample_points(points, 5000) == range(5000)).all()


def test_many_topics_keep_a_point_each_within_the_cap():
    points, _, _ = synthetic_map(3000)
    for i, p in enumerate(points):  # 1,500 topics of 2 papers: the floor shrinks to 1 each
        p.theme, p.topic = (i // 2) % 5, i // 2
    keep = map_sample.sample_points(points, 1500)
    assert len(keep) == 1500 and {points[i].topic for i in keep} == set(range(1500))


def _density(data: dict):
    dens = data["dens"]
    raw = zlib.decompress(base64.b64decode(dens["z"]), -15)
    n = dens["w"] * dens["h"]
    assert len(raw) == 2 * n
    return dens, np.frombuffer(raw[:n], np.uint8), np.frombuffer(raw[n:], np.uint8)


def _cells(dens: dict, points) -> np.ndarray:
    x0, y0, x1, y1 = dens["box"]
    w, h = dens["w"], dens["h"]
    col = np.array([min(int((p.x - x0) / (x1 - x0) * w), w - 1) for p in points])
    row = np.array([min(int((y1 - p.y) / (y1 - y0) * h), h - 1) for p in points])
    return row * w + col


def test_capped_page_carries_the_sample_and_a_density_of_all_papers():
    points, themes, topics = synthetic_map(3000)
    data = json.loads(data_blob(render_map_html(points, themes, topics, map_points=1000)))
    assert len(data["id"]) == 1000 and data["total"] == 3000
    assert data["unassigned"] == sum(p.theme < 0 or p.topic < 0 for p in points) > 0
    assert [t[3] for t in data["themes"]] == [t.size for t in themes]  # sizes count all papers
    dens, level, dominant = _density(data)
    cells = _cells(dens, points)
    assert (level[cells] > 0).all()  # every paper, drawn or not, is in the density
    assert level.sum() > 0 and level.max() == 255
    assert (level > 0).sum() == len(set(cells.tolist()))
    drawn = _cells(dens, [p for p in points if p.id in set(data["id"])])
    assert len(set(drawn.tolist())) < len(set(cells.tolist()))  # density shows more
    for cell in set(cells.tolist()):  # a cell's colour is its most common theme
        here = Counter(
            p.theme if p.theme >= 0 else len(themes)
            for p, c in zip(points, cells, strict=True)
            if c == cell
        )
        assert here[int(dominant[cell])] == max(here.values())
    assert (dominant[level == 0] == 255).all()
