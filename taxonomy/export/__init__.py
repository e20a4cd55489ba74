"""Export stage: write taxonomy.yaml, documents.csv, map.html, report.html, trends.csv and the
static figure (map.png, map.svg) into the output folder.

Everything is computed first (the large tables -- documents.csv/.parquet, papers.bib/.ris --
are written piece by piece into the staging folder rather than held whole) and the files are
then swapped in as one set, so a failed or killed run leaves the previous outputs complete
(see `taxonomy.atomic.publish`).
Export reads only plain data: the corpus, the taxonomy's tree view and the map layout (and
keeps the drawn figure in the stage cache, `taxonomy.stage_cache`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from pathlib import Path
from typing import IO, Any

import numpy as np

from taxonomy.atomic import Body, publish
from taxonomy.background import Background
from taxonomy.export.tables import (
    documents_frames,
    taxonomy_yaml,
    write_documents_csv,
    write_documents_parquet,
)
from taxonomy.models import Corpus, TaxonomyNode

# An output file's content: text, bytes, or a function writing its bytes (`atomic.Body`).
Content = str | Body
TABLE_ROWS = 50_000  # rows of documents.csv/.parquet built and written at a time
TEXT_BATCH = 1 << 22  # characters of papers.bib/.ris joined per write


def map_inputs(corpus: Corpus, themes: Sequence[TaxonomyNode], layout: np.ndarray):
    """Points and label anchors for the HTML map (label anchors: `anchors.label_anchor`)."""
    from taxonomy.export.anchors import label_anchor
    from taxonomy.export.html_map import MapLabel, MapPoint

    theme_index: dict[int, int] = {}
    topic_index: dict[int, int] = {}
    theme_labels, topic_labels = [], []
    for j, theme in enumerate(themes):
        xy = label_anchor(layout, theme.members)
        theme_labels.append(MapLabel(theme.label, float(xy[0]), float(xy[1]), theme.size, -1))
        for i in theme.members:
            theme_index[i] = j
        for topic in theme.children:
            xy = label_anchor(layout, topic.members)
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
    "report.html": "report",
    "trends.csv": "trends",
    "map.png": "figure",
    "map.svg": "figure_svg",
    "changes.md": "changes",
    "changes.json": "diff",
    "state.json": "state",
}


DEFAULT_TITLE = "Topic map"


def default_title(paths: Sequence[str | Path]) -> str:
    """The page title when `output.title` is not set: the first input's name (file stem or
    folder name), e.g. `data/seeds` -> "Topics in seeds"; used by map.html, report.html and
    the figure."""
    names = [Path(p).stem or Path(p).resolve().name for p in paths]
    if not names or not names[0]:
        return DEFAULT_TITLE
    more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
    return f"Topics in {names[0]}{more}"


def text_writer(parts: Callable[[], Iterable[str]]) -> Body:
    """A `Body` writing the UTF-8 of `parts()` joined, TEXT_BATCH characters at a time."""

    def write(handle: IO[bytes]) -> None:
        batch: list[str] = []
        size = 0
        for part in parts():
            batch.append(part)
            size += len(part)
            if size >= TEXT_BATCH:
                handle.write("".join(batch).encode("utf-8"))
                batch, size = [], 0
        handle.write("".join(batch).encode("utf-8"))

    return write


def table_writers(
    corpus: Corpus, themes: Sequence[TaxonomyNode], layout: np.ndarray
) -> dict[str, Body]:
    """documents.csv/.parquet and papers.bib/.ris as `Body` functions: each writes its file
    piece by piece (TABLE_ROWS papers at a time) when published, never holding it whole."""
    from taxonomy.export.bib import bibtex_parts, ris_parts

    def frames():
        return documents_frames(corpus, list(themes), layout, TABLE_ROWS)

    return {
        "documents.csv": lambda handle: write_documents_csv(frames(), handle),
        "documents.parquet": lambda handle: write_documents_parquet(frames(), handle),
        "papers.bib": text_writer(lambda: bibtex_parts(corpus, themes)),
        "papers.ris": text_writer(lambda: ris_parts(corpus, themes)),
    }


def tables_and_map(
    corpus: Corpus,
    themes: Sequence[TaxonomyNode],
    layout: np.ndarray,
    *,
    map_html: bool,
    title: str = DEFAULT_TITLE,
    map_points: int | None = None,
    helper: Background | None = None,
) -> dict[str, Content]:
    """documents.csv/.parquet, papers.bib/.ris (written when published: `table_writers`) and
    (optionally) map.html, which draws a sample of at most `map_points` papers over a density
    layer of all (`output.map_points`; None: the exporter's default, `html_map.MAP_POINTS`).
    The page is rendered while the tables are written: in `helper` (a second process) when
    given, else in a thread.

    Positions are rounded to 5 decimals first, as documents.csv stores them, so a run that
    reads them back (an update, `assign`) draws exactly the same map.
    """
    layout = np.round(np.asarray(layout, np.float64), POSITION_DECIMALS)
    contents: dict[str, Content] = dict(table_writers(corpus, themes, layout))
    if map_html:
        from taxonomy.export.html_map import MAP_POINTS, render_map_html

        points, theme_labels, topic_labels = map_inputs(corpus, themes, layout)
        args = (points, theme_labels, topic_labels)
        options = {"title": title, "map_points": map_points or MAP_POINTS}
        page = _made_meanwhile(helper, render_map_html, *args, **options)
        contents["map.html"] = lambda handle: handle.write(page().encode("utf-8"))
    return contents


def _made_meanwhile(
    helper: Background | None, func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Callable[[], Any]:
    """A function giving func(*args, **kwargs), computed meanwhile: in `helper` (a process of
    its own, so neither holds the other's GIL), else in a thread, which pays where the work
    releases the GIL (a large map page's deflate)."""
    if helper is not None:
        return helper.submit(func, *args, **kwargs)
    pool = ThreadPoolExecutor(1)
    future = pool.submit(func, *args, **kwargs)
    pool.shutdown(wait=False)  # the thread ends with the call
    return future.result


def report_and_trends(
    corpus: Corpus,
    themes: Sequence[TaxonomyNode],
    *,
    title: str,
    topic_vectors: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """report.html (plotly, offline) and trends.csv (papers per theme/topic per month)."""
    from taxonomy.export.report import report_html, trends_csv, trends_frame

    trends = trends_frame(corpus, themes)
    page = report_html(corpus, themes, title=title, topic_vectors=topic_vectors, trends=trends)
    return {"report.html": page, "trends.csv": trends_csv(trends)}


def figure_files(
    layout: np.ndarray,
    themes: Sequence[TaxonomyNode],
    *,
    title: str,
    cache_dir: Path | None = None,
) -> dict[str, bytes | str]:
    """map.png (300 dpi) and map.svg: the static labelled figure.

    Drawing it costs ~1 s on the seeds (half of it importing matplotlib), so with a
    `cache_dir` the two files are kept in the stage cache under a hash of everything they
    show (layout, themes, labels, title, the figure code and matplotlib's version): a re-run
    whose map did not change reads them back without importing matplotlib.
    """
    from importlib.metadata import version

    from taxonomy.export import anchors, figure
    from taxonomy.stage_cache import cached_arrays

    def draw() -> dict[str, np.ndarray]:
        png, svg = figure.map_figure(layout, themes, title=title)
        return {
            "png": np.frombuffer(png, np.uint8),
            "svg": np.frombuffer(svg.encode("utf-8"), np.uint8),
        }

    if cache_dir is None:
        drawn = draw()
    else:
        nodes = [[t.id, t.label, t.members] for t in themes]
        # the figure's code: its module and the label anchors it places its names at
        code = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (figure, anchors))
        key = [np.asarray(layout), nodes, title, code, version("matplotlib")]
        drawn = cached_arrays(Path(cache_dir), "figure", key, draw)
    return {"map.png": drawn["png"].tobytes(), "map.svg": drawn["svg"].tobytes().decode("utf-8")}


def publish_outputs(out: Path, contents: Mapping[str, Content]) -> dict[str, Path]:
    """Swap `contents` ({file name: text, bytes or a writing function}) into `out` as one set;
    returns {kind: path}. map.html and the figure are written last: they may still be being
    made beside (`tables_and_map`, `write_outputs`) while the other files are written."""
    data = {
        name: body.encode("utf-8") if isinstance(body, str) else body
        for name, body in contents.items()
    }
    paths = publish(out, data, last=("map.html",))
    return {KINDS.get(name, name): path for name, path in paths.items()}


def write_outputs(
    out: Path,
    corpus: Corpus,
    themes: Sequence[TaxonomyNode],
    layout: np.ndarray,
    *,
    map_html: bool,
    report: bool = False,
    figure: bool = False,
    title: str = DEFAULT_TITLE,
    topic_vectors: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    extra: Mapping[str, Content] | None = None,
    map_points: int | None = None,
    helper: Background | None = None,
) -> dict[str, Path]:
    """taxonomy.yaml, documents.csv, map.html, (with `report`) report.html and trends.csv,
    (with `figure`) map.png and map.svg, and `extra` files, swapped in as one set.
    `topic_vectors` (topic id -> vector) feed the report's similarity heatmap; `cache_dir`
    keeps the drawn figure for re-runs (see `figure_files`); `map_points` caps the points
    map.html draws (`output.map_points`, see `tables_and_map`). With `helper` (a second
    process, taxonomy.background) the map page and the figure are made there while this
    process writes the tables: both hold the GIL, so in a thread they would only take turns
    with the table writers (20,000 papers: export 4.4 -> ~3 s)."""
    unassigned = len(corpus) - sum(theme.size for theme in themes)
    contents: dict[str, Content] = {
        "taxonomy.yaml": taxonomy_yaml(list(themes), corpus, unassigned)
    }
    contents |= tables_and_map(
        corpus, themes, layout, map_html=map_html, title=title, map_points=map_points, helper=helper
    )
    if figure:
        # In the helper it is drawn while the tables are written (matplotlib's import alone:
        # ~0.5 s); without one, here and now: drawn in a thread, its memory would add to the
        # table writers' (1M papers: +0.2 GB at the run's peak).
        options = {"title": title, "cache_dir": cache_dir}
        if helper is not None:
            drawn = cache(helper.submit(figure_files, layout, themes, **options))
        else:
            files = figure_files(layout, themes, **options)
            drawn = lambda: files  # noqa: E731
        for name in FIGURE_FILES:
            contents[name] = partial(_write_drawn, drawn, name)
    if report:
        contents |= report_and_trends(corpus, themes, title=title, topic_vectors=topic_vectors)
    return publish_outputs(out, {**contents, **(extra or {})})


FIGURE_FILES = ("map.png", "map.svg")


def _write_drawn(drawn: Callable[[], dict[str, bytes | str]], name: str, handle: IO[bytes]) -> None:
    body = drawn()[name]
    handle.write(body.encode("utf-8") if isinstance(body, str) else body)
