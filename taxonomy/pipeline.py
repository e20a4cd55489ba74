"""Wires the stages together: ingest -> embed -> reduce -> cluster -> label -> hierarchy -> curate
-> export.

Each stage is a function in its own module that owns its policy; this module only passes data
between them, times them, shows progress, and caches the expensive deterministic steps on disk.
`fit` builds a taxonomy from papers (or texts) in memory; `run` reads the configured input,
fits, and writes the outputs; `assign` places new papers into a finished run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.config import DEFAULT_CURATION, Config, load_config
from taxonomy.curate.edits import Edits
from taxonomy.curate.ids import RunState
from taxonomy.embed import Embedder, Progress
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
    embeddings: np.ndarray | None = None  # [n, d] the papers' vectors (sentence model or given)

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

    def topic_vectors(self) -> dict[str, np.ndarray]:
        """Topic id -> centroid of its papers' embeddings (the report's similarity heatmap)."""
        if self.embeddings is None:
            return {}
        centroids = self.taxonomy.centroids(self.embeddings, 0)
        return dict(zip(self.taxonomy.ids[0], centroids, strict=True))

    def to_bertopic(self) -> Any:
        """A fitted `bertopic.BERTopic` holding exactly these topics (BERTopic's manual topic
        modelling: our assignment, our embeddings, our labels as its custom labels), so its
        `get_topic_info`, `visualize_*`, `topics_over_time` and `save` work on them.
        BERTopic numbers topics by size; `taxonomy.interop.topic_id_map` maps ours to its."""
        from taxonomy.interop import to_bertopic

        if self.embeddings is None:
            raise ValueError("this result holds no embeddings")
        labels = {t: self.taxonomy.labels.get(i, "") for t, i in enumerate(self.taxonomy.ids[0])}
        return to_bertopic(self.corpus.texts, self.topic_of, self.embeddings, labels)


class Stages:
    """Times each stage and shows it (a spinner, or a bar where the work is countable)."""

    def __init__(self, show: bool) -> None:
        self.timings: dict[str, float] = {}
        self.show = show

    @contextmanager
    def __call__(self, name: str, total: int = 0) -> Iterator[Progress | None]:
        start = time.perf_counter()
        if not self.show:
            yield None
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


def _config(config: Config | str | Path | None, overrides: dict[str, Any]) -> Config:
    return config if isinstance(config, Config) else load_config(config, overrides)


def run(
    config: Config | str | Path | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = False,
    embedder: Embedder | None = None,
    **overrides: Any,
) -> RunResult:
    """Read the configured input, fit, write the outputs (`config`: a Config, a YAML path, or
    None for configs/default.yaml; `overrides`: dotted settings, e.g. `**{"seed": 7}`)."""
    from taxonomy import curate, ingest
    from taxonomy.atomic import locked
    from taxonomy.curate.changes import changes_json, changes_markdown
    from taxonomy.curate.ids import read_state, state_json
    from taxonomy.export import default_title, write_outputs

    cfg = _config(config, overrides)
    out_dir = Path(out) if out is not None else Path(cfg.output.dir)
    stages = Stages(progress)
    edits = curate.load_curation(cfg.curation, required=cfg.curation != DEFAULT_CURATION)
    with locked(out_dir):  # one run per output folder, from reading its state to publishing
        previous = read_state(out_dir)
        with stages("ingest"):
            corpus = ingest.read_corpus(
                [Path(p) for p in cfg.input.paths],
                title_column=cfg.input.title_column,
                abstract_column=cfg.input.abstract_column,
                id_column=cfg.input.id_column,
                exclude_sources=tuple(cfg.input.exclude_sources),
                limits=ingest.ReadLimits.from_config(cfg.input),
            )
            corpus = curate.exclude_papers(corpus, edits)
        result = fit(
            corpus, config=cfg, edits=edits, previous=previous, embedder=embedder, stages=stages
        )
        with stages("export"):
            result.files = write_outputs(
                out_dir,
                result.corpus,
                result.themes,
                result.layout,
                map_html=cfg.output.map,
                report=cfg.output.report,
                figure=cfg.output.figure,
                title=cfg.output.title or default_title(cfg.input.paths),
                topic_vectors=result.topic_vectors() if cfg.output.report else None,
                cache_dir=Path(cfg.cache_dir),
                extra={
                    "changes.json": changes_json(result.changes),
                    "changes.md": changes_markdown(result.changes),
                    "state.json": state_json(result.state),
                },
            )
    result.timings, result.out_dir = stages.timings, out_dir
    return result


def _as_corpus(papers: Corpus | Sequence[Paper] | Sequence[str]) -> Corpus:
    if isinstance(papers, Corpus):
        return papers
    items = [
        p if isinstance(p, Paper) else Paper(abstract=str(p), source="<memory>") for p in papers
    ]
    return Corpus(items, len(items))


def fit(
    papers: Corpus | Sequence[Paper] | Sequence[str],
    embeddings: np.ndarray | None = None,
    config: Config | str | Path | None = None,
    *,
    edits: Edits | None = None,
    previous: RunState | None = None,
    embedder: Embedder | None = None,
    stages: Stages | None = None,
    **overrides: Any,
) -> RunResult:
    """The taxonomy of `papers` (a Corpus, Papers, or abstract texts), in memory.

    `embeddings` ([n, d], one row per paper) replace the sentence model for the papers; label
    phrases and seed themes are then embedded only if an `embedder` of that model is given.
    """
    from taxonomy import curate, engines, hierarchy, label, placement
    from taxonomy.curate.seeds import apply_seeds, seed_text

    cfg = _config(config, overrides)
    corpus, stages, edits = _as_corpus(papers), stages or Stages(False), edits or Edits()
    cache_dir = Path(cfg.cache_dir)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir / "numba"))
    backend = engines.build(cfg.compute, cfg.embed, embedder)
    embed = _Embedding(
        backend.embedder, cache_dir, usable=embeddings is None or embedder is not None
    )
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
        },
        seeds=[vars(o) for o in seed_outcomes],
        deleted=frozenset(edits.spec.delete),
    )
    return RunResult(
        cfg, corpus, labelled, layout, state, changes, newly_embedded=newly, embeddings=embeddings
    )


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
            from taxonomy.errors import TaxonomyError

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
    with stages("layout"):
        fit_layout = _map_layout(fit_vectors, topics.topic_of, reduced["layout"], cfg, backend)
    if sample is None:
        return vectors, sample, topics, fit_layout
    with stages("assign"):
        centroids = cluster.topic_centroids(fit_vectors, topics.topic_of)
        topic_of, layout = placement.place_rest(
            vectors, sample, topics.topic_of, fit_layout, centroids, assign=backend.assign
        )
    return vectors, sample, cluster.TopicFit(topic_of, topics.min_size), layout


def _map_layout(
    vectors: np.ndarray, topic_of: np.ndarray, plain: np.ndarray, cfg: Config, backend: Any
) -> np.ndarray:
    """The map layout `output.layout` asks for: the topics as islands (cached like reduce), or
    the plain 2-D UMAP `reduce` made."""
    from taxonomy import reduce
    from taxonomy.stage_cache import cached_arrays

    if cfg.output.layout == "umap":
        return plain
    options = dict(
        n_neighbors=cfg.reduce.n_neighbors,
        min_dist=reduce.ISLAND_MIN_DIST,
        target_weight=reduce.ISLAND_TARGET_WEIGHT,
        seed=cfg.seed,
    )
    return cached_arrays(
        Path(cfg.cache_dir),
        "layout",
        [vectors, topic_of, plain, options, backend.reducer_name],
        lambda: {
            "layout": reduce.island_layout(
                vectors, topic_of, init=plain, **options, make_umap=backend.make_umap
            )
        },
    )["layout"]


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
) -> Placed:
    """Place the abstracts in `paths` into the finished run in `run_dir` (the placement rule:
    nearest topic centroid above the run's similarity floor, map position among the topic's
    papers) and rewrite its documents.csv and map.html; taxonomy.yaml and state stay."""
    from taxonomy import ingest, placement
    from taxonomy.curate.ids import read_state
    from taxonomy.embed import embed_texts
    from taxonomy.engines import sentence_embedder
    from taxonomy.errors import TaxonomyError
    from taxonomy.export import publish_outputs, tables_and_map
    from taxonomy.export.tables import read_documents

    state = read_state(run_dir)
    docs_path = run_dir / "documents.csv"
    if state is None or not docs_path.is_file():
        raise TaxonomyError("no finished run here; run `taxonomy run` first", path=run_dir)
    corpus = ingest.read_corpus(paths, **columns)
    old, taxonomy, layout = read_documents(docs_path)
    _check_state(state, old, taxonomy, run_dir)
    known = {p.id for p in old.papers} | {p.key for p in old.papers}
    new = [p for p in corpus.papers if p.id not in known and p.key not in known]
    model = dict(state.embed) or {"model": "all-MiniLM-L6-v2", "max_tokens": 256}
    embedder = embedder or sentence_embedder(str(model["model"]), int(model["max_tokens"]))
    new_vecs = embed_texts(
        Corpus(new, len(new)).texts, embedder, cache_dir=cache_dir / "embeddings"
    )[0]
    centroids = np.array([t.centroid for t in state.topics], np.float32)
    best, sims = placement.assign_to_centroids(new_vecs, centroids, state.assign_threshold)
    topic_ids = [state.topics[t].id if t >= 0 else "" for t in best]
    placed = Placed(
        new, topic_ids, [float(s) for s in sims], state.assign_threshold, len(corpus) - len(new)
    )
    if not new:
        return placed
    old_vecs = embed_texts(old.texts, embedder, cache_dir=cache_dir / "embeddings")[0]
    grown = _with_bucket(taxonomy, [t or NEW_THEME_ID for t in topic_ids])
    new_topic = grown.topic_of[len(old) :]
    layout = np.vstack(
        [layout, placement.map_positions(new_vecs, new_topic, old_vecs, taxonomy.topic_of, layout)]
    )
    all_papers = Corpus(old.papers + new, len(old) + len(new))
    contents = tables_and_map(all_papers, grown.tree(), layout, map_html=map_html)
    placed.files = publish_outputs(run_dir, contents)
    return placed


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
