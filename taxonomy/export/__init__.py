"""Export stage: write taxonomy.yaml, documents.csv and map.html into the output folder.

Everything is computed in memory first and each file is then written atomically, so a failed
or killed run leaves the previous outputs complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from taxonomy.export.tables import (
    documents_frame,
    taxonomy_yaml,
    write_documents_csv,
    write_yaml,
)

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


def write_tables_and_map(result: Any, out: Path, *, map_html: bool) -> dict[str, Path]:
    """documents.csv and (optionally) map.html for anything with corpus, themes and layout.

    The map is rendered and written first: if it fails, documents.csv is still the old one.
    """
    frame = documents_frame(result.corpus, result.themes, result.layout)
    files = {"documents": out / "documents.csv"}
    if map_html:
        from taxonomy.export.html_map import write_map_html

        points, themes, topics = map_inputs(result)
        files["map"] = out / "map.html"
        write_map_html(files["map"], points, themes, topics, title="Topic map")
    write_documents_csv(files["documents"], frame)
    return files


def write_outputs(result: RunResult) -> dict[str, Path]:
    out = result.out_dir
    yaml_text = taxonomy_yaml(result.themes, result.corpus, result.unassigned)
    files = {"taxonomy": out / "taxonomy.yaml"}
    write_yaml(files["taxonomy"], yaml_text)
    files |= write_tables_and_map(result, out, map_html=result.config.output.map)
    return files
