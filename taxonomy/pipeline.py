"""Wires the stages together: ingest -> embed -> reduce -> cluster -> label -> hierarchy -> curate
-> export.

`run` reads the configured input, fits or updates the taxonomy in memory (`taxonomy.fitting.fit`)
and writes the outputs as one set; the stages live in their own modules and own their policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from taxonomy.config import DEFAULT_CURATION, Config, resolve_config
from taxonomy.curate.edits import Edits
from taxonomy.curate.ids import RunState
from taxonomy.embed import Embedder
from taxonomy.fitting import RunResult, fit
from taxonomy.models import Corpus
from taxonomy.progress import Stages

if TYPE_CHECKING:
    from taxonomy.background import Background

__all__ = ["RunResult", "Stages", "fit", "run"]


def run(
    config: Config | dict | str | Path | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = False,
    verbose: bool = False,
    refit: bool = False,
    embedder: Embedder | None = None,
    **overrides: Any,
) -> RunResult:
    """Read the configured input, fit or update, write the outputs (`config`: a Config, a dict
    of settings, a YAML path, or None for configs/default.yaml; `overrides`: settings as in
    `fit`, e.g. `cluster__min_size=8`). `progress`: show each stage on stderr (`verbose`: also
    when it starts). A folder holding a previous run is updated (its taxonomy holds still)
    unless `refit`, or settings the fit depends on changed (`taxonomy.curate.update`)."""
    from taxonomy import curate
    from taxonomy.atomic import locked
    from taxonomy.curate.ids import read_state
    from taxonomy.curate.update import refit_reason

    cfg = resolve_config(config, overrides)
    out_dir = Path(out) if out is not None else Path(cfg.output.dir)
    stages = Stages(progress, verbose=verbose)
    edits = curate.load_curation(cfg.curation, required=cfg.curation != DEFAULT_CURATION)
    with locked(out_dir):  # one run per output folder, from reading its state to publishing
        previous = read_state(out_dir)
        with stages("ingest"):
            corpus, vectors = _read_input(cfg, edits)
        held = _held(out_dir) if previous is not None else None
        paper_ids = [p.id for p in corpus.papers]
        reason = refit_reason(previous, cfg, refit, held and held[0], paper_ids)
        # One background process for a large corpus's fit and export
        with _background(len(corpus)) as helper:
            result = fit(
                corpus,
                vectors,
                cfg,
                edits=edits,
                previous=previous,
                held=None if reason else held,
                embedder=embedder,
                stages=stages,
                helper=helper,
            )
            if reason:
                result.changes["run"]["reason"] = reason
            _record_sources(result.state, config, cfg)
            with stages("export"):
                result.files = _export(result, out_dir, vectors, helper)
    result.timings, result.out_dir = stages.timings, out_dir
    return result


def _read_input(cfg: Config, edits: Edits) -> tuple[Corpus, np.ndarray | None]:
    """The configured papers without the excluded ones, and their own vectors if given."""
    from taxonomy import curate, ingest

    corpus, given = ingest.read_input(
        [Path(p) for p in cfg.input.paths],
        embeddings=cfg.input.embeddings,
        vector_column=cfg.input.vector_column,
        title_column=cfg.input.title_column,
        abstract_column=cfg.input.abstract_column,
        id_column=cfg.input.id_column,
        exclude_sources=tuple(cfg.input.exclude_sources),
        limits=ingest.ReadLimits.from_config(cfg.input),
    )
    corpus = curate.exclude_papers(corpus, edits)
    return corpus, (given.for_corpus(corpus) if given else None)


def _record_sources(state: RunState, config: Any, cfg: Config) -> None:
    """Where the run's config and cache are, so `assign`/`eval`/a later run find them."""
    from taxonomy.config import DEFAULT_CONFIG

    source = config if isinstance(config, (str, Path)) else None
    if config is None and DEFAULT_CONFIG.is_file():
        source = DEFAULT_CONFIG
    state.config = str(Path(source).resolve()) if source is not None else ""
    state.cache_dir = str(Path(cfg.cache_dir).resolve())


@contextmanager
def _background(n_papers: int) -> Iterator[Background | None]:
    """A background process kept from the fit (a refit's, not an update's) through the export,
    where the map page and the figure are made in it (taxonomy.export.write_outputs); None
    below background.MIN_PAPERS,
    and above SHARED_MAX papers, whose fit then has a background process of its own, closed
    before the export: the page's points would be copied into it (with their abstracts), and
    it would hold the sentence model through the export, a large run's peak (1M papers:
    ~11 GB of the 12 GB target)."""
    from taxonomy.background import MIN_PAPERS, Background

    if not MIN_PAPERS <= n_papers <= SHARED_MAX:
        yield None
        return
    with Background() as helper:
        yield helper


SHARED_MAX = 100_000


def _export(
    result: RunResult, out_dir: Path, vectors: np.ndarray | None, helper: Background | None
) -> dict[str, Path]:
    from taxonomy.curate.changes import changes_json, changes_markdown
    from taxonomy.curate.ids import state_json
    from taxonomy.export import GIVEN_VECTORS, default_title, npy_bytes, write_outputs

    cfg = result.config
    extra: dict[str, str | bytes] = {
        "changes.json": changes_json(result.changes),
        "changes.md": changes_markdown(result.changes),
        "state.json": state_json(result.state),
    }
    if vectors is not None:  # what `taxonomy assign` places new papers among
        extra[GIVEN_VECTORS] = npy_bytes(vectors)
    return write_outputs(
        out_dir,
        result.corpus,
        result.themes,
        result.layout,
        map_html=cfg.output.map,
        report=cfg.output.report,
        figure=cfg.output.figure,
        map_points=cfg.output.map_points,
        title=cfg.output.title or default_title(cfg.input.paths),
        topic_vectors=result.topic_vectors() if cfg.output.report else None,
        cache_dir=Path(cfg.cache_dir),
        extra=extra,
        helper=helper,
    )


def _held(out_dir: Path) -> tuple[list[str], np.ndarray] | None:
    """The previous run's paper ids and map positions (documents.csv), or None."""
    from taxonomy.export.tables import read_documents

    path = out_dir / "documents.csv"
    if not path.is_file():
        return None
    papers, _, layout = read_documents(path)
    return [p.id for p in papers.papers], layout
