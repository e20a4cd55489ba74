"""Export stage: write taxonomy.yaml, documents.csv and map.html into the output folder.

Everything is computed in memory first and the files are then swapped in as one set, so a
failed or killed run leaves the previous outputs complete (see `taxonomy.atomic.publish`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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


def write_outputs(result: RunResult) -> dict[str, Path]:
    """Render every output in memory, then swap them in as one set (`taxonomy.atomic.publish`)."""
    yaml_text = taxonomy_yaml(result.themes, result.corpus, result.unassigned)
    frame = documents_frame(result.corpus, result.themes, result.layout)
    contents = {"taxonomy.yaml": yaml_text, "documents.csv": documents_csv(frame)}
    if result.config.output.map:
        from taxonomy.export.html_map import render_map_html

        points, themes, topics = map_inputs(result)
        contents["map.html"] = render_map_html(points, themes, topics, title="Topic map")
    paths = publish(result.out_dir, {name: text.encode("utf-8") for name, text in contents.items()})
    kinds = {"taxonomy.yaml": "taxonomy", "documents.csv": "documents", "map.html": "map"}
    return {kinds.get(name, name): path for name, path in paths.items()}
