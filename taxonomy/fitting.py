"""Fitting a taxonomy in memory: the stages wired from papers to a labelled `Taxonomy`.

`fit` embeds (or takes given vectors), then either fits afresh (lexical → reduce → cluster →
layout → seed themes → hierarchy) or, given the previous run's state and positions, updates
that taxonomy (`taxonomy.curate.update`); both continue with curate → label → run record.
Each stage is a function in its own module; this module passes data between them, times
them, and caches the expensive deterministic steps on disk. `taxonomy.pipeline.run` adds
reading the configured input and writing the outputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.background import Background
from taxonomy.config import Config, resolve_config
from taxonomy.curate.edits import Edits
from taxonomy.curate.ids import RunState
from taxonomy.embed import Embedder, Progress
from taxonomy.errors import TaxonomyError
from taxonomy.models import Corpus, Paper, TaxonomyNode
from taxonomy.progress import Announced, Stages
from taxonomy.tree import THEME, TOPIC, Taxonomy


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
    held: tuple[list[str], np.ndarray] | None = None,
    embedder: Embedder | None = None,
    stages: Stages | None = None,
    helper: Background | None = None,
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
    With `previous` (the last run's state) and `held` (its paper ids and map positions), the
    previous taxonomy is updated instead of refitted (`taxonomy.curate.update`); with
    `previous` alone it is refitted and its ids are kept where nodes match. `helper`: a
    background process (taxonomy.background) the caller holds and closes, used by a large
    refit (an update uses none); without one, a large refit starts its own.
    """
    from taxonomy import background, engines
    from taxonomy.ingest.vectors import unit_rows

    cfg = resolve_config(config, overrides)
    corpus, frame_vectors = _as_corpus(papers, cfg)
    stages = stages or Stages(False)
    if embeddings is None:
        embeddings = frame_vectors
    elif len(embeddings) != len(corpus):
        raise TaxonomyError(f"embeddings: {len(embeddings)} rows for {len(corpus)} papers")
    given = embeddings is not None and embedder is None
    if embeddings is not None:
        embeddings = unit_rows(embeddings, "<embeddings>", "embeddings")
    work = _Work(cfg, corpus, stages, edits or Edits(), previous, given=given)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(cfg.cache_dir) / "numba"))
    backend = engines.build(cfg.compute, cfg.embed, embedder)
    announced = Announced(backend.embedder, stages.note, "embed")
    work.embed = _Embedding(announced, Path(cfg.cache_dir), usable=not given)
    work.model_id = "" if given else backend.embedder.model_name
    refit = held is None or previous is None
    wanted = refit and len(corpus) >= background.MIN_PAPERS
    islands = cfg.output.layout != "umap"
    with _beside(backend, wanted, islands, helper) as work.background:
        if embeddings is None:
            with work.stages("embed", total=len(corpus)) as tick:
                embeddings, work.newly = work.embed(corpus.texts, tick)
        work.embeddings = embeddings
        if work.background is not None:
            _count_phrases_ahead(work)
        if refit:
            fitted, layout = _refit(work, backend)
        else:
            fitted, layout = _update(work, held)
        return _finish(work, fitted, layout)


@contextmanager
def _beside(
    backend: Any, wanted: bool, islands: bool, given: Background | None
) -> Iterator[Background | None]:
    """A background process for a large fit (taxonomy.background; `given`, else one of its
    own), with the sentence model loading there from the start and then (`islands`) UMAP
    imported for the map layout it will compute; None for a small fit or an update."""
    from taxonomy import reduce

    if not wanted:
        yield None
        return
    with nullcontext(given) if given is not None else Background() as helper:
        load_beside = getattr(backend.embedder, "load_beside", None)
        if load_beside:
            load_beside(helper)
        if islands and backend.make_umap.name == "umap":  # see _place_on_map
            helper.submit(reduce.cache_umap_jit)
        try:
            yield helper
        finally:
            if load_beside:
                load_beside(None)


@dataclass
class _Work:
    """What the stages of one fit share."""

    cfg: Config
    corpus: Corpus
    stages: Stages
    edits: Edits
    previous: RunState | None
    embed: Any = None  # _Embedding
    embeddings: Any = None
    vectors: Any = None
    fit_vectors: Any = None  # the vectors of the fitted papers (all, or the sample's)
    pending_vectors: Callable[[], np.ndarray] | None = None  # gives `vectors` (_lexical)
    knn: tuple | None = None  # their k-NN graph (indices, distances) from the reduce stage
    sample: np.ndarray | None = None
    newly: int = 0
    seed_outcomes: list = field(default_factory=list)
    fit_record: dict[str, Any] | None = None  # None: a new fit, recorded after curation
    given: bool = False  # the user's own vectors, not the model's
    model_id: str = ""
    background: Background | None = None  # a second process for work beside the fit
    counted: tuple | None = None  # the label sample's phrase counts, counted there
    run_info: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def texts_digest(self) -> str:
        """One hash of the corpus's texts for the stage caches' keys (1M papers: ~1 GB read)."""
        from taxonomy.stage_cache import texts_digest

        return texts_digest(self.corpus.texts)

    @cached_property
    def label_sample(self) -> np.ndarray | None:
        """The papers the label stage reads (at most label.LABEL_SAMPLE; None: all), known
        before the topics, so the background process can count their phrases ahead."""
        from taxonomy import label
        from taxonomy.placement import sample_indices

        return sample_indices(len(self.corpus.texts), label.LABEL_SAMPLE, self.cfg.seed)


def _refit(work: _Work, backend: Any) -> tuple[Taxonomy, Callable[[], np.ndarray]]:
    from taxonomy import hierarchy

    topics, plain = _fit_topics(work, backend)
    topic_of, names = _seed_themes(work, topics.topic_of, topics.min_size, {}, compact=True)
    with work.stages("hierarchy"):
        fitted = hierarchy.fit_themes(
            topic_of,
            work.vectors,
            work.cfg.hierarchy,
            work.cfg.seed,
            names,
            sample=work.sample,
            neighbours=work.knn[0] if work.knn else None,
        )
    if work.counted is not None and work.embed.usable:
        with work.stages("label"):
            _embed_label_phrases_ahead(work, fitted)
    layout = _place_on_map(work, backend, fitted.topic_of, plain)
    reason = "first run in this folder" if work.previous is None else "refit"
    work.run_info = {"mode": "fit", "reason": work.run_info.get("reason", reason)}
    return fitted, layout


def _update(
    work: _Work, held: tuple[list[str], np.ndarray]
) -> tuple[Taxonomy, Callable[[], np.ndarray]]:
    from taxonomy import cluster
    from taxonomy.curate import update

    _lexical(work)
    _complete_vectors(work)
    assert work.previous is not None
    n_fitted = len(work.corpus) if work.sample is None else len(work.sample)
    min_size = cluster.resolve_min_size(work.cfg.cluster.min_size, n_fitted)
    with work.stages("update"):
        paper_ids = [p.id for p in work.corpus.papers]
        updated = update.update_topics(
            work.previous,
            held[0],
            held[1],
            paper_ids,
            work.embeddings,
            work.vectors,
            min_size,
            work.cfg.seed,
        )
    topic_of, names = _seed_themes(work, updated.topic_of, min_size, updated.names, compact=False)
    seeded = list(range(len(updated.theme_of_topic), int(topic_of.max()) + 1))
    themes = update.nearest_theme(work.vectors, topic_of, updated.theme_of_topic, seeded)
    theme_of_topic = np.concatenate([updated.theme_of_topic, np.array(themes, np.int64)])
    labels = {f"topic-{t + 1}": name for t, name in names.items()}
    fitted = Taxonomy.numbered(topic_of, theme_of_topic, labels).compact()
    record = dict(work.previous.fit)
    record["added"] = int(record.get("added", 0)) + updated.summary["new_papers"]
    work.fit_record = record
    work.run_info = {"mode": "update", **updated.summary}
    return fitted, lambda: updated.layout


def _seed_themes(
    work: _Work, topic_of: np.ndarray, min_size: int, held_names: dict[int, str], compact: bool
) -> tuple[np.ndarray, dict[int, str]]:
    """Seed themes not already held become topics (`compact`: emptied topics dropped, see
    `apply_seeds`); returns topic_of and the seed names by topic."""
    from taxonomy.curate.seeds import apply_seeds, seed_text

    seeds = [s for s in work.edits.spec.seeds if s.name not in set(held_names.values())]
    if not seeds:
        return topic_of, dict(held_names)
    with work.stages("seeds"):
        vectors = work.embed.required([seed_text(s) for s in seeds], "seeds")
        texts = work.corpus.texts
        topic_of, names, work.seed_outcomes = apply_seeds(
            topic_of,
            work.embeddings,
            texts,
            seeds,
            vectors,
            min_size,
            held=held_names,
            compact=compact,
        )
    return topic_of, names


def _finish(work: _Work, fitted: Taxonomy, positions: Callable[[], np.ndarray]) -> RunResult:
    """Stable ids and the user's edits, labels, the state for the next run and the changes;
    `positions` gives the map layout (computed beside the labelling, in the background)."""
    from taxonomy import curate, placement
    from taxonomy.curate import update

    cfg, corpus, edits = work.cfg, work.corpus, work.edits
    with work.stages("curate"):
        curated = curate.identify_and_edit(
            fitted, corpus, work.embeddings, work.vectors, edits, work.previous, cfg.seed
        )
    with work.stages("label"):
        labelled, auto = _label(work, curated)
    raw_topics = curated.raw[0]
    record = work.fit_record or update.fit_record(cfg, raw_topics, len(corpus))
    state, changes = curate.run_record(
        curated,
        labelled,
        auto,
        corpus,
        work.embeddings,
        work.previous,
        extra={
            "assign_threshold": placement.similarity_floor(work.embeddings, labelled.topic_of),
            "embed": {"model": cfg.embed.model, "max_tokens": cfg.embed.max_tokens},
            "fit": record,
            "vectors": "given" if work.given else "model",
            "model_id": work.model_id,
        },
        seeds=[vars(o) for o in work.seed_outcomes],
        deleted=frozenset(edits.spec.delete),
    )
    drift = update.drift(record, raw_topics, len(corpus), labelled.unassigned)
    changes["run"] = {**work.run_info, "drift": drift}
    return RunResult(
        cfg,
        corpus,
        labelled,
        positions(),
        state,
        changes,
        newly_embedded=work.newly,
        embeddings=work.embeddings,
    )


def _label(work: _Work, curated: Any) -> tuple[Taxonomy, dict[str, str]]:
    """`label.label_taxonomy`, memoised on everything it reads (a re-run of unchanged input
    spends most of its time here otherwise: phrase completion scans the texts)."""
    from taxonomy import label
    from taxonomy.curate import kept_sources
    from taxonomy.stage_cache import cached_json, code_digest

    taxonomy, cfg, texts = curated.taxonomy, work.cfg, work.corpus.texts
    embed_phrases = work.embed.phrases()
    sample = work.label_sample

    def compute() -> dict[str, Any]:
        labelled, auto = label.label_taxonomy(
            taxonomy,
            texts,
            work.vectors,
            work.embeddings,
            cfg.label,
            preset=curated.preset_labels,
            fixed=taxonomy.labels,
            sample=sample,
            embed_phrases=embed_phrases,
            vocabulary=cfg.hierarchy.vocabulary,
            counted=work.counted,
        )
        return {
            "labels": labelled.labels,
            "named_by": labelled.named_by,
            "keywords": labelled.keywords,
            "representatives": labelled.representatives,
            "auto": auto,
        }

    key = [
        code_digest(),
        work.texts_digest,
        work.vectors,
        work.embeddings,
        taxonomy.topic_of,
        *taxonomy.parents,
        [list(level) for level in taxonomy.ids],
        dict(taxonomy.labels),
        curated.preset_labels,
        cfg.label.model_dump(),
        cfg.hierarchy.model_dump(),
        sample if sample is not None else "all",
        work.model_id if embed_phrases is not None else "",
        _file_digest(cfg.hierarchy.vocabulary),  # a user's scheme file, edited in place
    ]
    result = cached_json(Path(cfg.cache_dir), "label", key, compute)
    labelled = taxonomy.replace(
        labels=result["labels"],
        keywords={node: tuple(words) for node, words in result["keywords"].items()},
        representatives={node: tuple(rows) for node, rows in result["representatives"].items()},
        named_by=kept_sources(result["named_by"], curated.preset_labels, work.previous),
    )
    return labelled, result["auto"]


def _count_phrases_ahead(work: _Work) -> None:
    """The label stage's phrase counts of its sample, counted in the background process while
    the main one fits (its papers do not depend on the topics unless a topic is thin)."""
    from taxonomy import keyphrases, label

    texts = work.corpus.texts
    rows = label.sample_rows(work.label_sample, len(texts))
    assert work.background is not None
    pending = work.background.submit(
        keyphrases.count_phrases, [texts[i] for i in rows], work.cfg.label.max_ngram
    )
    work.counted = (rows, cache(pending))  # read twice: here ahead and by the label stage


def _embed_label_phrases_ahead(work: _Work, fitted: Taxonomy) -> None:
    """The label candidates of topics and themes, sent to be embedded in the background
    process before it computes the map layout, while this process goes on to label:
    otherwise the label stage's phrase embeddings wait for that layout (20,000 papers: 2 s)
    and for each batch. The reference schemes' areas (`hierarchy.vocabulary`) go with them.
    When a topic has too few papers in the sample, the label stage reads all its papers too
    (`label.label_rows`): their phrases are counted here while the sample's candidates are
    embedded, and the new candidates sent after them. With the user's edits the label stage
    may want other phrases too; it embeds those itself."""
    from taxonomy import keyphrases, label, vocabulary

    rows, counted = work.counted
    areas = vocabulary.area_texts(work.cfg.hierarchy.vocabulary)
    work.embed.ahead(sorted(set(areas) | _label_candidates(fitted, rows, *counted())))
    wanted = label.label_rows(work.label_sample, fitted.topic_of)
    if not np.array_equal(rows, wanted):
        texts = work.corpus.texts
        recounted = keyphrases.count_phrases([texts[i] for i in wanted], work.cfg.label.max_ngram)
        work.counted = (wanted, lambda: recounted)
        work.embed.ahead(sorted(_label_candidates(fitted, wanted, *recounted)))


def _label_candidates(
    fitted: Taxonomy, rows: np.ndarray, counts: Any, vocab: np.ndarray
) -> set[str]:
    """The label candidates of the topics and themes in these rows' phrase counts."""
    from taxonomy import label

    phrases: set[str] = set()
    for level in (TOPIC, THEME):
        groups = fitted.layer(level)[rows]
        phrases.update(label.candidate_phrases(groups, fitted.n_nodes(level), counts, vocab))
    return phrases


def _file_digest(setting: str) -> str:
    """Hash of the file a setting names ('' when it names none)."""
    import hashlib

    path = Path(setting).expanduser()
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


class _Embedding:
    """Texts -> vectors through the embedder and the run's embedding cache."""

    def __init__(self, embedder: Announced, cache_dir: Path, usable: bool) -> None:
        self.embedder, self.cache_dir, self.usable = embedder, cache_dir / "embeddings", usable
        self.pending: list[tuple[list[str], Callable[[], np.ndarray]]] = []  # see `ahead`

    def __call__(self, texts: list[str], tick: Progress | None = None) -> tuple[np.ndarray, int]:
        from taxonomy.embed import Computed, embed_texts

        if self.pending:  # texts embedded ahead go into the cache first, as one shard
            ahead = [text for batch, _ in self.pending for text in batch]
            vectors = np.concatenate([np.asarray(vectors()) for _, vectors in self.pending])
            self.pending = []
            embed_texts(ahead, Computed(self.embedder, ahead, vectors), cache_dir=self.cache_dir)
        return embed_texts(texts, self.embedder, cache_dir=self.cache_dir, progress=tick)

    def ahead(self, texts: list[str]) -> None:
        """Start embedding those of `texts` the cache lacks (in the background process when
        the model is there), for a later call: the caller goes on meanwhile."""
        from taxonomy.embed import uncached

        sent = {text for ahead, _ in self.pending for text in ahead}
        missing = [t for t in uncached(texts, self.embedder, self.cache_dir) if t not in sent]
        # One call: the model batches the texts by length (area descriptions together, short
        # phrases together), 2 s faster at 20,000 papers than `embed_texts`'s batches of 32 in
        # key order, which pad every phrase to the longest description among them. (A text's
        # vector can differ in its last bits with its batch: the cache keeps the first.)
        if missing:
            self.pending.append((missing, self.embedder.encode_later(missing)))

    def phrases(self) -> Any:
        return (lambda items: self(items)[0]) if self.usable else None

    def required(self, texts: list[str], what: str) -> np.ndarray:
        if not self.usable:
            raise TaxonomyError(f"{what}: precomputed embeddings given; pass their embedder too")
        return self(texts)[0]


def _lexical(work: _Work) -> None:
    """The paper vectors: sentence embeddings mixed with TF-IDF/SVD (fitted on the sample).
    `work.fit_vectors` are there at once; the rest of a large corpus may be projected in the
    background process while the main one reduces and clusters the sample, so `work.vectors`
    is read through `_complete_vectors` (which waits for them) until it is set."""
    from taxonomy import placement, reduce
    from taxonomy.stage_cache import cache_key, code_digest, load_arrays

    cfg, texts = work.cfg, work.corpus.texts
    work.sample = sample = placement.sample_indices(len(texts), cfg.compute.fit_sample, cfg.seed)
    key = cache_key([code_digest(), work.texts_digest, cfg.embed.tfidf_dims, cfg.seed, sample])
    with work.stages("lexical"):
        held = load_arrays(Path(cfg.cache_dir), "lexical", key)
        tfidf, later = (held["tfidf"], None) if held else _lsa_vectors(work, key)
        combined = reduce.combine_vectors(work.embeddings, tfidf, cfg.embed.tfidf_weight)
    work.fit_vectors = combined if sample is None else combined[sample]
    if later is None:
        work.vectors = combined
        return

    def complete() -> np.ndarray:
        rows, projected = later()
        combined[rows] = reduce.combine_vectors(
            work.embeddings[rows], projected, cfg.embed.tfidf_weight
        )
        return combined

    work.pending_vectors = complete


def _lsa_vectors(work: _Work, key: str) -> tuple[np.ndarray, Callable[[], tuple] | None]:
    """(TF-IDF/SVD vectors of every paper, None), stored in the stage cache; or, when the
    papers outside the fitted sample are projected in the background process, (the vectors
    with their rows still 0, a function waiting for them: (rows, their vectors)), stored once
    they are there."""
    from taxonomy import lexical
    from taxonomy.stage_cache import store_arrays

    cfg, texts, sample = work.cfg, work.corpus.texts, work.sample
    fit = lexical.fit_lsa(texts, cfg.embed.tfidf_dims, cfg.seed, sample)
    later = np.zeros(0, np.int64)  # rows outside the fit sample: not needed before placing
    if fit.rows is not None and sample is not None and work.background is not None:
        rest = lexical.unfitted_rows(len(texts), fit.rows)
        later = np.setdiff1d(rest, sample, assume_unique=True)
        if len(later) > LATER_MAX:
            later = later[:0]
    tfidf = lexical.lsa_array(texts, fit, skip=later)
    if not len(later):
        store_arrays(Path(cfg.cache_dir), "lexical", key, {"tfidf": tfidf})
        return tfidf, None
    assert work.background is not None
    pending = work.background.submit(fit.projection, [texts[i] for i in later])

    def projected() -> tuple[np.ndarray, np.ndarray]:
        tfidf[later] = pending()
        store_arrays(Path(cfg.cache_dir), "lexical", key, {"tfidf": tfidf})
        return later, tfidf[later]

    return tfidf, projected


# The most papers whose lexical vectors are projected in the background process: their texts
# are copied there and their vectors wait in the main process until the fit needs them (at
# 250,000 papers the run's peak memory rose 3.3 -> 5.2 GB), and a larger rest would keep the
# fit waiting anyway (250,000: 24 s at the place stage).
LATER_MAX = 100_000


def _complete_vectors(work: _Work) -> np.ndarray:
    """Every paper's vectors (waiting for those projected in the background process)."""
    if work.pending_vectors is not None:
        work.vectors, work.pending_vectors = work.pending_vectors(), None
    return work.vectors


def _fit_topics(work: _Work, backend: Any) -> tuple[Any, np.ndarray]:
    """(TopicFit for every paper, plain 2-D layout of the fitted papers): reduce and cluster
    the fitted papers; the rest of a large corpus joins the nearest topic centroid."""
    from taxonomy import cluster, nesting, placement, reduce
    from taxonomy.stage_cache import cached_arrays, code_digest

    _lexical(work)
    cfg, fit_vectors, sample = work.cfg, work.fit_vectors, work.sample
    n_runs = cluster.consensus_runs(len(fit_vectors), cfg.cluster.runs)
    with work.stages("reduce"):
        islands = cfg.output.layout != "umap"
        options = dict(
            cfg.reduce.model_dump(),
            seed=cfg.seed,
            n_spaces=n_runs,
            layout_starts_islands=islands,
            spare_neighbours=nesting.NEIGHBOURS,
        )
        settings = [cfg.reduce.model_dump(), cfg.seed, backend.reducer_name, n_runs]
        reduced = cached_arrays(
            Path(cfg.cache_dir),
            "reduce",
            # the code too: a result of other code is never reused
            [fit_vectors, *settings, islands, nesting.NEIGHBOURS, code_digest()],
            lambda: vars(
                reduce.reduce_vectors(fit_vectors, **options, make_umap=backend.make_umap)
            ),
        )
    work.knn = (reduced["knn_indices"], reduced["knn_distances"])
    with work.stages("cluster"):
        spaces = [reduced["cluster_space"], *reduced["extra_spaces"]]
        topics = cluster.fit_topics(spaces, fit_vectors, cfg.cluster, backend.make_clusterer)
    if sample is None:
        return topics, reduced["layout"]
    with work.stages("place"):
        centroids = cluster.topic_centroids(fit_vectors, topics.topic_of)
        topic_of = placement.assign_rest(
            _complete_vectors(work), sample, topics.topic_of, centroids, assign=backend.assign
        )
    return cluster.TopicFit(topic_of, topics.min_size), reduced["layout"]


def _place_on_map(
    work: _Work, backend: Any, topic_of: np.ndarray, plain: np.ndarray
) -> Callable[[], np.ndarray]:
    """Map positions of every paper, to be had later from the returned function: the fitted
    papers' layout with the final topics (seeded and nested in their themes) as islands,
    computed in the background process while the main one labels (else when asked for); the
    rest of a large corpus among its topic's most similar fitted papers (taxonomy.placement)."""
    from taxonomy import placement

    sample, fit_vectors = work.sample, work.fit_vectors
    fit_topics = topic_of if sample is None else topic_of[sample]
    args = (fit_vectors, fit_topics, plain, work.cfg, backend.make_umap, work.knn)
    helpers = work.background if backend.make_umap.name == "umap" else None  # CPU only
    pending = helpers.submit(_map_layout, *args) if helpers else None

    def positions() -> np.ndarray:
        with work.stages("layout"):
            fit_layout = pending() if pending else _map_layout(*args)
        if sample is None:
            return fit_layout
        with work.stages("place"):
            return placement.position_rest(work.vectors, sample, topic_of, fit_layout)

    return positions


def _map_layout(
    vectors: np.ndarray,
    topic_of: np.ndarray,
    plain: np.ndarray,
    cfg: Config,
    make_umap: Any,
    knn: tuple | None = None,
) -> np.ndarray:
    """The map layout `output.layout` asks for: the topics as islands (cached like reduce), or
    the plain 2-D UMAP `reduce` made."""
    from taxonomy import reduce
    from taxonomy.stage_cache import cached_arrays, code_digest

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
        [vectors, topic_of, plain, options, make_umap.name, code_digest()],
        lambda: {
            "layout": reduce.island_layout(
                vectors, topic_of, init=plain, **options, make_umap=make_umap, knn=knn
            )
        },
    )["layout"]
