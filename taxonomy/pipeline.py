"""Wires the stages together: ingest -> embed -> reduce -> cluster -> label -> hierarchy -> export.

Each stage is a plain function in its own module; this module only passes data between them,
times them, shows progress, and caches the expensive deterministic steps on disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.config import DEFAULT_CURATION, Config, load_config
from taxonomy.engines import Engine
from taxonomy.models import Corpus, TaxonomyNode

# A theme is named by one phrase only if that many of its papers use it; otherwise by its two
# largest topics ("Speech & image generation").
THEME_LABEL_SHARE = 0.6


@dataclass
class RunResult:
    config: Config
    corpus: Corpus
    themes: list[TaxonomyNode]
    topic_of: np.ndarray  # topic index per paper (-1 unassigned)
    layout: np.ndarray  # [n, 2] map coordinates
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    newly_embedded: int = 0
    changes: dict[str, Any] = field(default_factory=dict)  # see taxonomy.curate.changes

    @property
    def topics(self) -> list[TaxonomyNode]:
        return [topic for theme in self.themes for topic in theme.children]

    @property
    def unassigned(self) -> int:
        return int((self.topic_of < 0).sum())


class _Stages:
    def __init__(self, show: bool) -> None:
        self.timings: dict[str, float] = {}
        self.show = show

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        if self.show:
            from rich.console import Console

            with Console(stderr=True).status(f"[bold]{name}[/]…"):
                yield
        else:
            yield
        self.timings[name] = time.perf_counter() - start


def _cached(cache_dir: Path, stage: str, key_parts: list[Any], compute) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Return compute() (a dict of arrays), memoised on disk; damaged entries are recomputed."""
    from taxonomy.stage_cache import cached_arrays

    return cached_arrays(cache_dir, stage, key_parts, compute)


def _settle(
    labels: list[Any], ids: list[str], settled: dict[str, str], fixed: dict[str, str]
) -> list[str]:
    """Put the settled labels (user's, then kept) on the nodes; return the automatic labels."""
    auto = []
    for group, node in zip(labels, ids, strict=True):
        auto.append(group.label if node in fixed else settled.get(node, group.label))
        group.label = settled.get(node, group.label)
    return auto


def _embed_progress(show: bool, total: int):  # noqa: ANN202
    if not show or total == 0:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("embedding", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    task = bar.add_task("embed", total=total)
    return bar, lambda k: bar.advance(task, k)


def run(
    config: Config | str | Path | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = False,
    **overrides: Any,
) -> RunResult:
    """Run the pipeline on `config` (a Config, a YAML path, or None for configs/default.yaml)."""
    from taxonomy import cluster, curate, embed, hierarchy, ingest, label, reduce, scale
    from taxonomy.curate.changes import diff_runs
    from taxonomy.curate.ids import RunState, read_state
    from taxonomy.curate.seeds import apply_seeds, drop_empty_topics, seed_text
    from taxonomy.export import write_outputs
    from taxonomy.keyphrases import count_phrases
    from taxonomy.nodes import build_nodes
    from taxonomy.place import run_record, similarity_floor

    cfg = config if isinstance(config, Config) else load_config(config, overrides)
    out_dir = Path(out) if out is not None else Path(cfg.output.dir)
    cache_dir = Path(cfg.cache_dir)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir / "numba"))
    stage = _Stages(progress)
    engine = Engine.from_config(cfg.compute)
    edits = curate.load_curation(cfg.curation, required=cfg.curation != DEFAULT_CURATION)
    previous = read_state(out_dir)
    seed_names: dict[int, str] = {}
    seed_outcomes: list = []

    with stage("ingest"):
        corpus = ingest.read_corpus(
            [Path(p) for p in cfg.input.paths],
            title_column=cfg.input.title_column,
            abstract_column=cfg.input.abstract_column,
            id_column=cfg.input.id_column,
            exclude_sources=tuple(cfg.input.exclude_sources),
        )
        corpus = curate.exclude_papers(corpus, edits)
    texts = corpus.texts

    def embed_with_cache(items: list[str], bar_total: bool = False) -> tuple[np.ndarray, int]:
        bar, advance = _embed_progress(progress and bar_total, len(items))
        kwargs = dict(
            model_name=cfg.embed.model,
            max_tokens=cfg.embed.max_tokens,
            batch_size=engine.batch_size(cfg.embed.batch_size),
            cache_dir=cache_dir / "embeddings",
            device=engine.device,
            encode_fn=engine.encode_fn(cfg.embed.model, cfg.embed.max_tokens),
        )
        if bar is None:
            return embed.embed_texts(items, **kwargs)
        with bar:
            return embed.embed_texts(items, progress=advance, **kwargs)

    start = time.perf_counter()
    embeddings, newly = embed_with_cache(texts, bar_total=True)
    stage.timings["embed"] = time.perf_counter() - start
    # Large corpora: TF-IDF/SVD, UMAP and HDBSCAN are fitted on a seeded sample only.
    sample = scale.sample_indices(len(texts), cfg.compute.fit_sample, cfg.seed)
    with stage("lexical"):
        lexical = reduce.tfidf_vectors(texts, cfg.embed.tfidf_dims, cfg.seed, fit_rows=sample)
        vectors = reduce.combine_vectors(embeddings, lexical, cfg.embed.tfidf_weight)
    fit_vectors = vectors if sample is None else vectors[sample]

    cc = cfg.cluster
    n_runs = cluster.consensus_runs(len(fit_vectors), cc.runs)
    with stage("reduce"):
        rc = cfg.reduce
        options = dict(
            n_components=rc.n_components,
            n_neighbors=rc.n_neighbors,
            min_dist=rc.min_dist,
            map_min_dist=rc.map_min_dist,
            seed=cfg.seed,
            n_spaces=n_runs,
        )
        reduced = _cached(
            cache_dir,
            "reduce",
            [fit_vectors, rc.model_dump(), cfg.seed, engine.reducer_name, n_runs],
            lambda: vars(engine.reduce_vectors(fit_vectors, **options)),
        )
    with stage("cluster"):
        topic_of = cluster.cluster_vectors(
            reduced["cluster_space"],
            fit_vectors,
            min_size=None if cc.min_size == "auto" else cc.min_size,
            selection=cc.selection,
            max_unassigned=cc.max_unassigned,
            extra_spaces=list(reduced["extra_spaces"]),
            **engine.cluster_options(),
        )
    layout = reduced["layout"]
    if sample is not None:
        with stage("assign"):
            centroids = cluster.topic_centroids(fit_vectors, topic_of)
            topic_of, layout = scale.place_rest(
                vectors, sample, topic_of, layout, centroids, assign=engine.assign
            )
    if edits.spec.seeds:
        with stage("seeds"):
            seed_vectors = embed_with_cache([seed_text(s) for s in edits.spec.seeds])[0]
            auto = cluster.auto_min_size(len(texts))
            min_support = cc.min_size if cc.min_size != "auto" else auto
            topic_of, seed_names, seed_outcomes = apply_seeds(
                topic_of, embeddings, texts, edits.spec.seeds, seed_vectors, min_support
            )
            topic_of, seed_names = drop_empty_topics(topic_of, seed_names)
    with stage("hierarchy"):
        n_topics = int(topic_of.max()) + 1
        centroids = cluster.topic_centroids(vectors, topic_of)
        sizes = np.bincount(topic_of[topic_of >= 0], minlength=n_topics)
        n_themes_cfg = cfg.hierarchy.n_themes
        theme_of_topic = hierarchy.group_topics(
            centroids,
            sizes,
            None if n_themes_cfg == "auto" else n_themes_cfg,
            papers=vectors,
            topic_of=topic_of,
            seed=cfg.seed,
        )
    with stage("curate"):
        curated = curate.identify_and_edit(
            topic_of, theme_of_topic, seed_names, corpus, embeddings, vectors, edits, previous
        )
        draft = curated.draft
        topic_of, theme_of_topic = draft.topic_of, np.asarray(draft.theme_of_topic)
        n_topics, n_themes = len(draft.topic_ids), len(draft.theme_ids)
        theme_of = np.where(topic_of >= 0, theme_of_topic[np.maximum(topic_of, 0)], -1)
        settled = curate.preset_labels(draft, theme_of, corpus, previous)
    with stage("label"):
        # Large corpora: phrases are counted on the fitted sample (see scale.label_rows).
        rows = scale.label_rows(sample, topic_of)
        row_texts = [texts[i] for i in rows]
        counts, vocab = count_phrases(row_texts, cfg.label.max_ngram)
        label_args = dict(
            counts=counts,
            vocab=vocab,
            texts=row_texts,
            vectors=vectors[rows],
            n_keywords=cfg.label.n_keywords,
            n_representatives=cfg.label.n_representatives,
            embed_phrases=lambda items: embed_with_cache(items)[0],
            doc_embeddings=embeddings[rows],
        )
        taken: set[str] = {label.lower() for label in settled.values()}
        topic_labels = label.label_groups(topic_of[rows], n_topics, taken=taken, **label_args)
        topic_auto = _settle(topic_labels, draft.topic_ids, settled, draft.labels)
        allowed = [
            {kw for t in np.flatnonzero(theme_of_topic == j) for kw in topic_labels[t].terms}
            for j in range(n_themes)
        ]
        fallback = [
            label.join_labels([topic_labels[t].label for t in np.flatnonzero(theme_of_topic == j)])
            for j in range(n_themes)
        ]
        theme_labels = label.label_groups(
            theme_of[rows],
            n_themes,
            taken=taken,
            allowed_terms=allowed,
            fallback_labels=fallback,
            min_label_share=THEME_LABEL_SHARE,
            **label_args,
        )
        theme_auto = _settle(theme_labels, draft.theme_ids, settled, draft.labels)
        for group in topic_labels + theme_labels:  # row numbers -> paper indices
            group.representatives = [int(rows[i]) for i in group.representatives]
        themes = build_nodes(
            topic_of, theme_of_topic, topic_labels, theme_labels, draft.topic_ids, draft.theme_ids
        )
    theme_records, topic_records = curate.node_records(
        draft,
        corpus,
        embeddings,
        ([g.label for g in theme_labels], [g.label for g in topic_labels]),
        (theme_auto, topic_auto),
    )
    state = RunState(
        next_id=curated.next_id,
        raw_topics=curated.raw_topics,
        raw_themes=curated.raw_themes,
        topics=topic_records,
        themes=theme_records,
        papers=len(corpus),
        assign_threshold=similarity_floor(embeddings, topic_of),
        embed={"model": cfg.embed.model, "max_tokens": cfg.embed.max_tokens},
        labeller=label.LABELLER_VERSION,
    )
    previous_nodes = (previous.themes, previous.topics, previous.papers) if previous else None
    changes = diff_runs(
        previous_nodes,
        theme_records,
        topic_records,
        len(corpus),
        [vars(o) for o in seed_outcomes],
        deleted=frozenset(edits.spec.delete),
    )

    result = RunResult(
        config=cfg,
        corpus=corpus,
        themes=themes,
        topic_of=topic_of,
        layout=layout,
        out_dir=out_dir,
        newly_embedded=newly,
        changes=changes,
    )
    with stage("export"):
        result.files = write_outputs(result, extra=run_record(state, changes))
    result.timings = stage.timings
    return result
