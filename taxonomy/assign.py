"""`taxonomy assign`: place new papers into a finished run without refitting.

The run's topics (documents.csv, state.json) hold still: each new paper goes to its nearest topic
centroid when at least as similar as the run's similarity floor, else to the "Unassigned /
possibly new theme" bucket, and is drawn among its topic's papers (the placement rule,
`taxonomy.placement`). documents.csv, its companions and map.html are rewritten as one set;
taxonomy.yaml and state.json stay as fitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.curate.ids import RunState
from taxonomy.embed import Embedder, Progress
from taxonomy.errors import TaxonomyError
from taxonomy.export import GIVEN_VECTORS, npy_bytes
from taxonomy.models import Corpus, Paper
from taxonomy.progress import Announced, Stages
from taxonomy.tree import Taxonomy

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
        extra[GIVEN_VECTORS] = npy_bytes(np.vstack([old_vecs, new_vecs]))
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
    return Announced(chosen, stages.note, "assign")


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
