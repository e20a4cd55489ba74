"""Export stage: write taxonomy.yaml, documents.csv and map.html into the output folder.

Everything is computed in memory first and the files are then swapped in as one set, so a
failed or killed run leaves the previous outputs complete (see `taxonomy.atomic.publish`).
Export reads only plain data: the corpus, the taxonomy's tree view and the map layout.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from taxonomy.atomic import publish
from taxonomy.export.tables import (
    documents_csv,
    documents_frame,
    documents_parquet,
    taxonomy_yaml,
)
from taxonomy.models import Corpus, TaxonomyNode


def map_inputs(corpus: Corpus, themes: Sequence[TaxonomyNode], layout: np.ndarray):
    """Points and label anchors for the HTML map (label anchors at members' median position)."""
    from taxonomy.export.html_map import MapLabel, MapPoint

    theme_index: dict[int, int] = {}
    topic_index: dict[int, int] = {}
    theme_labels, topic_labels = [], []
    for j, theme in enumerate(themes):
        xy = np.median(layout[theme.members], axis=0)
        theme_labels.append(MapLabel(theme.label, float(xy[0]), float(xy[1]), theme.size, -1))
        for i in theme.members:
            theme_index[i] = j
        for topic in theme.children:
            xy = np.median(layout[topic.members], axis=0)
            for i in topic.members:
                topic_index[i] = len(topic_labels)
            topic_labels.append(MapLabel(topic.label, float(xy[0]), float(xy[1]), topic.size, j))
    points = [
        MapPoint(
            id=p.id,
            title=p.title or "",
            abstract=p.abstract,
            x=float(layout[i, 0]),
            y=float(layout[i, 1]),
            theme=theme_index.get(i, -1),
            topic=topic_index.get(i, -1),
            year_month=p.year_month,
            arxiv_id=p.arxiv_id,
        )
        for i, p in enumerate(corpus.papers)
    ]
    return points, theme_labels, topic_labels


POSITION_DECIMALS = 5  # map positions as documents.csv stores them

# With the user's own vectors, the run keeps them (one row per documents.csv row) for `assign`.
GIVEN_VECTORS = "embeddings.npy"


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, np.float32), allow_pickle=False)
    return buffer.getvalue()


# Keys of the `files` dict returned to the CLI, by output file name.
KINDS = {
    "taxonomy.yaml": "taxonomy",
    "documents.csv": "documents",
    "documents.parquet": "parquet",
    "papers.bib": "bibtex",
    "papers.ris": "ris",
    "map.html": "map",
    "changes.md": "changes",
    "changes.json": "diff",
    "state.json": "state",
}


def tables_and_map(
    corpus: Corpus, themes: Sequence[TaxonomyNode], layout: np.ndarray, *, map_html: bool
) -> dict[str, str | bytes]:
    """documents.csv/.parquet, papers.bib/.ris and (optionally) map.html.

    Positions are rounded to 5 decimals first, as documents.csv stores them, so a run that
    reads them back (an update, `assign`) draws exactly the same map.
    """
    from taxonomy.export.bib import papers_bibtex, papers_ris

    layout = np.round(np.asarray(layout, np.float64), POSITION_DECIMALS)
    frame = documents_frame(corpus, themes, layout)
    contents: dict[str, str | bytes] = {
        "documents.csv": documents_csv(frame),
        "documents.parquet": documents_parquet(frame),
        "papers.bib": papers_bibtex(corpus, themes),
        "papers.ris": papers_ris(corpus, themes),
    }
    if map_html:
        from taxonomy.export.html_map import render_map_html

        points, theme_labels, topic_labels = map_inputs(corpus, themes, layout)
        contents["map.html"] = render_map_html(
            points, theme_labels, topic_labels, title="Topic map"
        )
    return contents


def publish_outputs(out: Path, contents: Mapping[str, str | bytes]) -> dict[str, Path]:
    """Swap `contents` ({file name: text or bytes}) into `out` as one set; returns
    {kind: path}. Text is written as UTF-8."""
    encoded = {
        name: data if isinstance(data, bytes) else data.encode("utf-8")
        for name, data in contents.items()
    }
    paths = publish(out, encoded)
    return {KINDS.get(name, name): path for name, path in paths.items()}


def write_outputs(
    out: Path,
    corpus: Corpus,
    themes: Sequence[TaxonomyNode],
    layout: np.ndarray,
    *,
    map_html: bool,
    extra: Mapping[str, str | bytes] | None = None,
) -> dict[str, Path]:
    """taxonomy.yaml, documents.csv, map.html and `extra` files, swapped in as one set."""
    unassigned = len(corpus) - sum(theme.size for theme in themes)
    contents: dict[str, str | bytes] = {
        "taxonomy.yaml": taxonomy_yaml(list(themes), corpus, unassigned)
    }
    contents |= tables_and_map(corpus, themes, layout, map_html=map_html)
    return publish_outputs(out, {**contents, **(extra or {})})
