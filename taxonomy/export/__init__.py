"""Export stage: write taxonomy.yaml, documents.csv and map.html into the output folder.

Everything is computed in memory first and the files are then swapped in as one set, so a
failed or killed run leaves the previous outputs complete (see `taxonomy.atomic.publish`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from taxonomy.atomic import publish
from taxonomy.export.tables import documents_csv, documents_frame, taxonomy_yaml

if TYPE_CHECKING:  # pragma: no cover
    from taxonomy.pipeline import RunResult


def map_inputs(result: RunResult):  # noqa: ANN201
    """Points and label anchors for the HTML map (label anchors at members' median position)."""
    from taxonomy.export.html_map import MapLabel, MapPoint

    theme_index: dict[int, int] = {}
    topic_index: dict[int, int] = {}
    themes, topics = [], []
    for j, theme in enumerate(result.themes):
        xy = np.median(result.layout[theme.members], axis=0)
        themes.append(MapLabel(theme.label, float(xy[0]), float(xy[1]), theme.size, -1))
        for i in theme.members:
            theme_index[i] = j
        for topic in theme.children:
            xy = np.median(result.layout[topic.members], axis=0)
            for i in topic.members:
                topic_index[i] = len(topics)
            topics.append(MapLabel(topic.label, float(xy[0]), float(xy[1]), topic.size, j))
    points = [
        MapPoint(
            id=p.id,
            title=p.title or "",
            abstract=p.abstract,
            x=float(result.layout[i, 0]),
            y=float(result.layout[i, 1]),
            theme=theme_index.get(i, -1),
            topic=topic_index.get(i, -1),
            year_month=p.year_month,
            arxiv_id=p.arxiv_id,
        )
        for i, p in enumerate(result.corpus.papers)
    ]
    return points, themes, topics


# Keys of the `files` dict returned to the CLI, by output file name.
KINDS = {
    "taxonomy.yaml": "taxonomy",
    "documents.csv": "documents",
    "map.html": "map",
    "changes.md": "changes",
    "changes.json": "diff",
    "state.json": "state",
}


def tables_and_map(result: Any, *, map_html: bool) -> dict[str, str]:
    """documents.csv and (optionally) map.html for anything with corpus, themes and layout."""
    frame = documents_frame(result.corpus, result.themes, result.layout)
    contents = {"documents.csv": documents_csv(frame)}
    if map_html:
        from taxonomy.export.html_map import render_map_html

        points, themes, topics = map_inputs(result)
        contents["map.html"] = render_map_html(points, themes, topics, title="Topic map")
    return contents


def publish_outputs(out: Path, contents: Mapping[str, str]) -> dict[str, Path]:
    """Swap `contents` ({file name: text}) into `out` as one set; returns {kind: path}."""
    paths = publish(out, {name: text.encode("utf-8") for name, text in contents.items()})
    return {KINDS.get(name, name): path for name, path in paths.items()}


def write_tables_and_map(result: Any, out: Path, *, map_html: bool) -> dict[str, Path]:
    """Rewrite documents.csv and (optionally) map.html together; other outputs stay."""
    return publish_outputs(out, tables_and_map(result, map_html=map_html))


def write_outputs(result: RunResult, extra: Mapping[str, str] | None = None) -> dict[str, Path]:
    """taxonomy.yaml, documents.csv, map.html and `extra` files, swapped in as one set."""
    contents = {"taxonomy.yaml": taxonomy_yaml(result.themes, result.corpus, result.unassigned)}
    contents |= tables_and_map(result, map_html=result.config.output.map)
    return publish_outputs(result.out_dir, {**contents, **(extra or {})})
