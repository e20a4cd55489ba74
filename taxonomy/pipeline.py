"""Wires the stages together: ingest -> embed -> reduce -> cluster -> label -> hierarchy -> curate
-> export.

Each stage is a function in its own module that owns its policy; this module only passes data
between them, times them, shows progress, and caches the expensive deterministic steps on disk.
`fit` builds a taxonomy from papers (or texts) in memory; `run` reads the configured input,
fits, and writes the outputs; `assign` places new papers into a finished run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.config import DEFAULT_CURATION, Config, resolve_config
from taxonomy.curate.edits import Edits
from taxonomy.curate.ids import RunState
from taxonomy.embed import Embedder, Progress
from taxonomy.errors import TaxonomyError
from taxonomy.models import Corpus, Paper, TaxonomyNode
from taxonomy.tree import Taxonomy


@dataclass
class RunResult:
    config: Config
    corpus: Corpus
    taxonomy: Taxonomy
    layout: np.ndarray  # [n, 2] map coordinates
    state: RunState  # what the next run starts from (state.json)
    changes: dict[str, Any] = field(default_factory=dict)  # see taxonomy.curate.changes
    files: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    newly_embedded: int = 0
    out_dir: Path | None = None  # where `run` wrote the outputs

    @cached_property
    def themes(self) -> list[TaxonomyNode]:
        return self.taxonomy.tree()

    @property
    def topics(self) -> list[TaxonomyNode]:
        return [topic for theme in self.themes for topic in theme.children]

    @property
    def topic_of(self) -> np.ndarray:
        return self.taxonomy.topic_of

    @property
    def unassigned(self) -> int:
        return self.taxonomy.unassigned


class Stages:
    """Times each stage and shows it: on a terminal a spinner, or a bar where the work is
    countable; elsewhere (a log file, CI) one timestamped line per stage (`12:03:04 reduce …
    12.3 s`) and a line per tenth of countable work; nothing when `show` is False."""

    def __init__(self, show: bool, *, verbose: bool = False, terminal: bool | None = None) -> None:
        self.timings: dict[str, float] = {}
        self.show = show
        self.verbose = verbose  # plain lines also when each stage starts
        self.terminal = sys.stderr.isatty() if terminal is None else terminal

    def note(self, text: str) -> None:
        """A message between the stages (e.g. how much is about to be embedded)."""
        if self.show:
            self._line(text)

    def _line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    @contextmanager
    def __call__(self, name: str, total: int = 0) -> Iterator[Progress | None]:
        start = time.perf_counter()
        if not self.show:
            yield None
        elif not self.terminal:
            if self.verbose:
                self._line(f"{name} …" + (f" 0/{total}" if total else ""))
            yield self._ticks(name, total) if total else None
            self._line(f"{name} … {time.perf_counter() - start:.1f} s")
        elif total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            with Progress(name, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
                task = bar.add_task(name, total=total)
                yield lambda k: bar.advance(task, k)
        else:
            from rich.console import Console

            with Console(stderr=True).status(f"[bold]{name}[/]…"):
                yield None
        self.timings[name] = time.perf_counter() - start

    def _ticks(self, name: str, total: int) -> Progress:
        done, shown = 0, 0

        def tick(k: int) -> None:
            nonlocal done, shown
            done += k
            if done * 10 // total > shown * 10 // total and done < total:
                shown = done
                self._line(f"{name} {done}/{total}")

        return tick


# Embedding more texts than this (not in the cache) is announced before it starts.
ANNOUNCE_EMBEDDING = 200


class _Announced:
    """An Embedder that says how many texts it is about to embed when they are many (the
    embed stage calls `chunk(n_missing)` once before encoding)."""

    def __init__(self, inner: Embedder, say: Any, what: str) -> None:
        self.inner, self.say, self.what = inner, say, what
        self.model_name, self.max_tokens, self.dim = inner.model_name, inner.max_tokens, inner.dim

    def chunk(self, n_missing: int) -> int:
        if n_missing > ANNOUNCE_EMBEDDING:
            self.say(
                f"{self.what}: embedding {n_missing} texts not in the cache with {self.model_name}"
            )
        return self.inner.chunk(n_missing)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode(texts)


def _config(config: Config | dict | str | Path | None, overrides: dict[str, Any]) -> Config:
    return resolve_config(config, overrides)


def run(
    config: Config | dict | str | Path | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = False,
    verbose: bool = False,
    embedder: Embedder | None = None,
    **overrides: Any,
) -> RunResult:
    """Read the configured input, fit, write the outputs (`config`: a Config, a dict of
    settings, a YAML path, or None for configs/default.yaml; `overrides`: settings as in
    `fit`, e.g. `cluster__min_size=8`). `progress`: show each stage on stderr (`verbose`: also
    when it starts)."""
    from taxonomy import curate, ingest
    from taxonomy.atomic import locked
    from taxonomy.config import DEFAULT_CONFIG
    from taxonomy.curate.changes import changes_json, changes_markdown
    from taxonomy.curate.ids import read_state, state_json
    from taxonomy.export import write_outputs

    cfg = _config(config, overrides)
    out_dir = Path(out) if out is not None else Path(cfg.output.dir)
    stages = Stages(progress, verbose=verbose)
    edits = curate.load_curation(cfg.curation, required=cfg.curation != DEFAULT_CURATION)
    with locked(out_dir):  # one run per output folder, from reading its state to publishing
        previous = read_state(out_dir)
        with stages("ingest"):
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
            vectors = given.for_corpus(corpus) if given else None
        result = fit(
            corpus, vectors, cfg, edits=edits, previous=previous, embedder=embedder, stages=stages
        )
        source = config if isinstance(config, (str, Path)) else None
        if config is None and DEFAULT_CONFIG.is_file():
            source = DEFAULT_CONFIG
        result.state.config = str(Path(source).resolve()) if source is not None else ""
        result.state.cache_dir = str(Path(cfg.cache_dir).resolve())
        extra: dict[str, str | bytes] = {
            "changes.json": changes_json(result.changes),
            "changes.md": changes_markdown(result.changes),
            "state.json": state_json(result.state),
        }
        if vectors is not None:  # what `taxonomy assign` places new papers among
            extra[GIVEN_VECTORS] = _npy_bytes(vectors)
        with stages("export"):
            result.files = write_outputs(
                out_dir,
                result.corpus,
                result.themes,
                result.layout,
                map_html=cfg.output.map,
                extra=extra,
            )
    result.timings, result.out_dir = stages.timings, out_dir
    return result


# With the user's own vectors, the run keeps them (one row per documents.csv row) for `assign`.
GIVEN_VECTORS = "embeddings.npy"


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, np.float32), allow_pickle=False)
    return buffer.getvalue()


def _as_corpus(papers: Any, cfg: Config) -> tuple[Corpus, np.ndarray | None]:
    """(the papers as a Corpus, their vectors from a DataFrame's input.vector_column)."""
    if isinstance(papers, Corpus):
        return papers, None
    if hasattr(papers, "columns") and hasattr(papers, "itertuples"):  # a pandas DataFrame
        from taxonomy.ingest import read_frame

        return read_frame(
            papers,
            title_column=cfg.input.title_column,
            abstract_column=cfg.input.abstract_column,
            id_column=cfg.input.id_column,
            vector_column=cfg.input.vector_column,
        )
    if isinstance(papers, str):
        papers = [papers]
    items = [
        p if isinstance(p, Paper) else Paper(abstract=str(p), source="<memory>") for p in papers
    ]
    return Corpus(items, len(items)), None


def fit(
    papers: Corpus | Sequence[Paper] | Sequence[str] | Any,
    embeddings: np.ndarray | None = None,
    config: Config | dict | str | Path | None = None,
    *,
    edits: Edits | None = None,
    previous: RunState | None = None,
    embedder: Embedder | None = None,
    stages: Stages | None = None,
    **overrides: Any,
) -> RunResult:
    """The taxonomy of `papers` in memory: a Corpus, Papers, abstract texts, or a pandas
    DataFrame (columns input.title_column / abstract_column / id_column; one paper per row, in
    order, no deduplication; its input.vector_column, when set, gives the embeddings).

    `embeddings` ([n, d], one row per paper, scaled to unit length) replace the sentence model
    for the papers; label phrases and seed themes are then embedded only if an `embedder` of
    that model is given. `config`: a Config, a dict of settings, a YAML path or None;
    `overrides`: settings on top, `cluster__min_size=8` (double underscore for the dot),
    `cluster={"min_size": 8}` or `**{"cluster.min_size": 8}`.
    """
    from taxonomy import curate, engines, hierarchy, label, placement
    from taxonomy.curate.seeds import apply_seeds, seed_text
    from taxonomy.ingest.vectors import unit_rows

    cfg = _config(config, overrides)
    corpus, frame_vectors = _as_corpus(papers, cfg)
    stages, edits = stages or Stages(False), edits or Edits()
    if embeddings is None:
        embeddings = frame_vectors
    elif len(embeddings) != len(corpus):
        raise TaxonomyError(f"embeddings: {len(embeddings)} rows for {len(corpus)} papers")
    given = embeddings is not None and embedder is None
    if embeddings is not None:
        embeddings = unit_rows(embeddings, "<embeddings>", "embeddings")
    cache_dir = Path(cfg.cache_dir)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir / "numba"))
    backend = engines.build(cfg.compute, cfg.embed, embedder)
    announced = _Announced(backend.embedder, stages.note, "embed")
    embed = _Embedding(announced, cache_dir, usable=not given)
    texts, newly = corpus.texts, 0
    if embeddings is None:
        with stages("embed", total=len(texts)) as tick:
            embeddings, newly = embed(texts, tick)
    vectors, sample, fitted_topics, layout = _fit_topics(texts, embeddings, cfg, backend, stages)
    topic_of, seed_names, seed_outcomes = fitted_topics.topic_of, {}, []
    if edits.spec.seeds:
        with stages("seeds"):
            seed_vectors = embed.required([seed_text(s) for s in edits.spec.seeds], "seeds")
            topic_of, seed_names, seed_outcomes = apply_seeds(
                topic_of, embeddings, texts, edits.spec.seeds, seed_vectors, fitted_topics.min_size
            )
    with stages("hierarchy"):
        fitted = hierarchy.fit_themes(topic_of, vectors, cfg.hierarchy, cfg.seed, seed_names)
    with stages("curate"):
        curated = curate.identify_and_edit(
            fitted, corpus, embeddings, vectors, edits, previous, cfg.seed
        )
    with stages("label"):
        labelled, auto = label.label_taxonomy(
            curated.taxonomy,
            texts,
            vectors,
            embeddings,
            cfg.label,
            preset=curated.preset_labels,
            fixed=curated.taxonomy.labels,
            sample=sample,
            embed_phrases=embed.phrases(),
        )
    state, changes = curate.run_record(
        curated,
        labelled,
        auto,
        corpus,
        embeddings,
        previous,
        extra={
            "assign_threshold": placement.similarity_floor(embeddings, labelled.topic_of),
            "embed": {"model": cfg.embed.model, "max_tokens": cfg.embed.max_tokens},
            "vectors": "given" if given else "model",
            "model_id": "" if given else backend.embedder.model_name,
        },
        seeds=[vars(o) for o in seed_outcomes],
        deleted=frozenset(edits.spec.delete),
    )
    return RunResult(cfg, corpus, labelled, layout, state, changes, newly_embedded=newly)


class _Embedding:
    """Texts -> vectors through the embedder and the run's embedding cache."""

    def __init__(self, embedder: Embedder, cache_dir: Path, usable: bool) -> None:
        self.embedder, self.cache_dir, self.usable = embedder, cache_dir / "embeddings", usable

    def __call__(self, texts: list[str], tick: Progress | None = None) -> tuple[np.ndarray, int]:
        from taxonomy.embed import embed_texts

        return embed_texts(texts, self.embedder, cache_dir=self.cache_dir, progress=tick)

    def phrases(self) -> Any:
        return (lambda items: self(items)[0]) if self.usable else None

    def required(self, texts: list[str], what: str) -> np.ndarray:
        if not self.usable:
            raise TaxonomyError(f"{what}: precomputed embeddings given; pass their embedder too")
        return self(texts)[0]


def _fit_topics(
    texts: list[str], embeddings: np.ndarray, cfg: Config, backend: Any, stages: Stages
) -> tuple[np.ndarray, np.ndarray | None, Any, np.ndarray]:
    """(paper vectors, fitted sample or None, TopicFit for every paper, map layout)."""
    from taxonomy import cluster, placement, reduce
    from taxonomy.stage_cache import cached_arrays

    sample = placement.sample_indices(len(texts), cfg.compute.fit_sample, cfg.seed)
    with stages("lexical"):
        lexical = reduce.tfidf_vectors(texts, cfg.embed.tfidf_dims, cfg.seed, fit_rows=sample)
        vectors = reduce.combine_vectors(embeddings, lexical, cfg.embed.tfidf_weight)
    fit_vectors = vectors if sample is None else vectors[sample]
    n_runs = cluster.consensus_runs(len(fit_vectors), cfg.cluster.runs)
    with stages("reduce"):
        options = dict(cfg.reduce.model_dump(), seed=cfg.seed, n_spaces=n_runs)
        reduced = cached_arrays(
            Path(cfg.cache_dir),
            "reduce",
            [fit_vectors, cfg.reduce.model_dump(), cfg.seed, backend.reducer_name, n_runs],
            lambda: vars(
                reduce.reduce_vectors(fit_vectors, **options, make_umap=backend.make_umap)
            ),
        )
    with stages("cluster"):
        spaces = [reduced["cluster_space"], *reduced["extra_spaces"]]
        topics = cluster.fit_topics(spaces, fit_vectors, cfg.cluster, backend.make_clusterer)
    if sample is None:
        return vectors, sample, topics, reduced["layout"]
    with stages("assign"):
        centroids = cluster.topic_centroids(fit_vectors, topics.topic_of)
        topic_of, layout = placement.place_rest(
            vectors, sample, topics.topic_of, reduced["layout"], centroids, assign=backend.assign
        )
    return vectors, sample, cluster.TopicFit(topic_of, topics.min_size), layout


NEW_THEME_ID = "unassigned"
NEW_THEME_LABEL = "Unassigned / possibly new theme"


@dataclass
class Placed:
    """What `assign` did: per new paper its topic id ('' = unassigned) and similarity."""

    papers: list[Paper]
    topic_ids: list[str]
    similarity: list[float]
    threshold: float
    skipped: int  # papers already in documents.csv
    files: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def unassigned(self) -> int:
        return sum(1 for t in self.topic_ids if not t)


def assign(
    paths: list[Path],
    run_dir: Path,
    *,
    cache_dir: Path,
    columns: dict[str, Any],
    map_html: bool,
    embedder: Embedder | None = None,
    embeddings: str | Path | None = None,
    vector_column: str | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> Placed:
    """Place the abstracts in `paths` into the finished run in `run_dir` (the placement rule:
    nearest topic centroid above the run's similarity floor, map position among the topic's
    papers) and rewrite its documents and map; taxonomy.yaml and state stay.

    A run fitted on the user's own vectors (state.json `vectors: given`) needs the new papers'
    vectors the same way (`embeddings` file or `vector_column`); any other run embeds them
    with its model, whose cache is `cache_dir`."""
    from taxonomy import ingest, placement
    from taxonomy.curate.ids import read_state
    from taxonomy.export import publish_outputs, tables_and_map
    from taxonomy.export.tables import read_documents

    stages = Stages(progress, verbose=verbose)
    state = read_state(run_dir)
    docs_path = run_dir / "documents.csv"
    if state is None or not docs_path.is_file():
        raise TaxonomyError("no finished run here; run `taxonomy run` first", path=run_dir)
    with stages("read"):
        corpus, given = ingest.read_input(
            paths, embeddings=embeddings, vector_column=vector_column, **columns
        )
        old, taxonomy, layout = read_documents(docs_path)
        _check_state(state, old, taxonomy, run_dir)
    known = {p.id for p in old.papers} | {p.key for p in old.papers}
    new = [p for p in corpus.papers if p.id not in known and p.key not in known]
    placed = Placed(new, [], [], state.assign_threshold, len(corpus) - len(new))
    if not new:
        return placed
    new_corpus = Corpus(new, len(new))
    centroids = np.array([t.centroid for t in state.topics], np.float32)
    extra: dict[str, str | bytes] = {}
    if state.vectors == "given":
        new_vecs, old_vecs = _given_vectors(given, new_corpus, run_dir, len(old), centroids)
        extra[GIVEN_VECTORS] = _npy_bytes(np.vstack([old_vecs, new_vecs]))
    else:
        if given is not None:
            raise TaxonomyError(
                f"{given.field}: this run embedded its papers with embed.model, so new papers "
                "are embedded the same way; drop the vectors (or refit with them)",
                path=given.path,
            )
        model = _run_embedder(state, embedder, stages, run_dir)
        with stages("embed", total=len(new)) as tick:
            new_vecs = _embed_with(model, new_corpus.texts, cache_dir, tick)
        with stages("embed the run's papers"):  # cached by the run: normally no model call
            old_vecs = _embed_with(model, old.texts, cache_dir, None)
    with stages("place", total=len(new)) as tick:
        best, sims = placement.assign_to_centroids(new_vecs, centroids, state.assign_threshold)
        placed.topic_ids = [state.topics[t].id if t >= 0 else "" for t in best]
        placed.similarity = [float(s) for s in sims]
        grown = _with_bucket(taxonomy, [t or NEW_THEME_ID for t in placed.topic_ids])
        new_topic = grown.topic_of[len(old) :]
        positions = placement.map_positions(
            new_vecs, new_topic, old_vecs, taxonomy.topic_of, layout
        )
        if tick:
            tick(len(new))
    with stages("export"):
        layout = np.vstack([layout, positions])
        all_papers = Corpus(old.papers + new, len(old) + len(new))
        contents = tables_and_map(all_papers, grown.tree(), layout, map_html=map_html)
        placed.files = publish_outputs(run_dir, {**contents, **extra})
    placed.timings = stages.timings
    return placed


def _run_embedder(
    state: RunState, embedder: Embedder | None, stages: Stages, run_dir: Path
) -> Embedder:
    """The run's model (state.json `embed`), refusing one that changed since the run."""
    from taxonomy.engines import sentence_embedder

    model = dict(state.embed) or {"model": "all-MiniLM-L6-v2", "max_tokens": 256}
    chosen = embedder or sentence_embedder(str(model["model"]), int(model["max_tokens"]))
    if state.model_id and chosen.model_name != state.model_id:
        raise TaxonomyError(
            f"embed.model: {model['model']!r} is now {chosen.model_name}, but the run was "
            f"embedded with {state.model_id}; run `taxonomy run` again to refit",
            path=run_dir / "state.json",
        )
    return _Announced(chosen, stages.note, "assign")


def _embed_with(
    embedder: Embedder, texts: list[str], cache_dir: Path, tick: Progress | None
) -> np.ndarray:
    from taxonomy.embed import embed_texts

    return embed_texts(texts, embedder, cache_dir=cache_dir / "embeddings", progress=tick)[0]


def _given_vectors(
    given: Any, new: Corpus, run_dir: Path, n_old: int, centroids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(new papers' vectors, the run's papers' vectors) for a run fitted on the user's own."""
    if given is None:
        raise TaxonomyError(
            "this run was fitted on your own vectors (state.json: vectors: given); give the new "
            "papers' vectors the same way: --embeddings FILE (.npy/.parquet) or "
            "input.vector_column",
            path=run_dir / "state.json",
        )
    new_vecs = given.for_corpus(new)
    if centroids.size and new_vecs.shape[1] != centroids.shape[1]:
        raise TaxonomyError(
            f"{given.field}: vectors of {new_vecs.shape[1]} numbers, but the run's have "
            f"{centroids.shape[1]}",
            path=given.path,
        )
    stored = run_dir / GIVEN_VECTORS
    try:
        old_vecs = np.load(stored, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise TaxonomyError(
            f"the run's vectors are unreadable ({err}); run `taxonomy run` again", path=stored
        ) from None
    if old_vecs.ndim != 2 or len(old_vecs) != n_old or old_vecs.shape[1] != new_vecs.shape[1]:
        raise TaxonomyError(
            f"holds {old_vecs.shape} vectors, expected ({n_old}, {new_vecs.shape[1]}) for "
            "documents.csv; run `taxonomy run` again",
            path=stored,
        )
    return new_vecs, old_vecs.astype(np.float32)


def _check_state(state: RunState, papers: Corpus, taxonomy: Taxonomy, run_dir: Path) -> None:
    """state.json must describe the run in documents.csv: its centroids place the papers."""
    from taxonomy.errors import TaxonomyError

    paper_ids = {p.id for p in papers.papers}
    fitted_ids = set(taxonomy.ids[0]) - {NEW_THEME_ID}
    strays = sum(1 for t in state.topics for m in t.members if m not in paper_ids)
    if {t.id for t in state.topics} != fitted_ids or strays:
        raise TaxonomyError(
            "state.json does not belong to documents.csv (other topics or papers); "
            "run `taxonomy run` again to rebuild both",
            path=run_dir / "state.json",
        )


def _with_bucket(taxonomy: Taxonomy, new_topic_ids: list[str]) -> Taxonomy:
    """The taxonomy with papers added to the named topics; NEW_THEME_ID is a bucket topic and
    theme, made on first use (or kept from an earlier `assign`)."""
    topic_ids, theme_ids = list(taxonomy.ids[0]), list(taxonomy.ids[1])
    parents, labels = list(taxonomy.theme_of_topic), dict(taxonomy.labels)
    if NEW_THEME_ID in new_topic_ids and NEW_THEME_ID not in topic_ids:
        topic_ids.append(NEW_THEME_ID)
        if NEW_THEME_ID not in theme_ids:
            theme_ids.append(NEW_THEME_ID)
        parents.append(theme_ids.index(NEW_THEME_ID))
        labels[NEW_THEME_ID] = NEW_THEME_LABEL
    added = [topic_ids.index(t) for t in new_topic_ids]
    topic_of = np.concatenate([taxonomy.topic_of, np.array(added, np.int64)])
    return Taxonomy(topic_of, (parents,), (topic_ids, theme_ids), labels)
