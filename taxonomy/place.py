"""`taxonomy assign`: place new abstracts into the last run's taxonomy without refitting.

The last run left `state.json` in its output folder (topic centroids in the sentence-embedding
space, ids, labels, and a similarity floor). New abstracts are read with the usual readers,
embedded (cached), and given to the nearest topic centroid (`taxonomy.assign`). A paper less
similar to its best topic than the floor goes to the "Unassigned / possibly new theme" bucket.

The floor comes from the fitted topics themselves: the FLOOR_QUANTILE quantile of the fitted
papers' similarity to their own topic's centroid (computed without them), i.e. a new paper is
left out when it is less similar to its best topic than 95 % of the fitted papers are to theirs.

Each new paper is drawn on the map at the similarity-weighted mean position of its MAP_NEIGHBOURS
most similar fitted papers. documents.csv and map.html are rewritten atomically (through the
export functions); taxonomy.yaml and the state are left as fitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import normalize

from taxonomy.assign import assign_to_centroids
from taxonomy.curate.changes import changes_json, changes_markdown
from taxonomy.curate.ids import STATE_FILE, RunState, read_state, state_json
from taxonomy.errors import TaxonomyError
from taxonomy.export.csv_safe import unescape_frame
from taxonomy.models import Corpus, Paper, TaxonomyNode

FLOOR_QUANTILE = 0.05
MAP_NEIGHBOURS = 5
NEW_THEME_ID = "unassigned"
NEW_THEME_LABEL = "Unassigned / possibly new theme"


def similarity_floor(embeddings: np.ndarray, topic_of: np.ndarray) -> float:
    """The FLOOR_QUANTILE quantile of fitted papers' cosine to their own topic's centroid.

    Each paper is compared with its topic's centroid computed without it (leave-one-out), as a
    new paper would be; otherwise small topics, whose centroid is mostly their own members,
    would set the floor too high.
    """
    unit = normalize(np.asarray(embeddings, np.float32))
    sims: list[np.ndarray] = []
    for t in np.unique(topic_of[topic_of >= 0]):
        members = unit[topic_of == t]
        if len(members) < 2:
            continue
        rest = members.sum(axis=0) - members
        norms = np.maximum(np.linalg.norm(rest, axis=1), 1e-12)
        sims.append((members * rest).sum(axis=1) / norms)
    if not sims:
        return 0.0
    return round(float(np.quantile(np.concatenate(sims), FLOOR_QUANTILE)), 6)


def run_record(state: RunState, changes: dict[str, Any]) -> dict[str, str]:
    """state.json (for the next run and `assign`), changes.json and changes.md, as text."""
    return {
        "changes.json": changes_json(changes),
        "changes.md": changes_markdown(changes),
        STATE_FILE: state_json(state),
    }


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


@dataclass
class _MapSource:
    """The three things the export functions read from a run."""

    corpus: Corpus
    themes: list[TaxonomyNode]
    layout: np.ndarray


def _papers_from_documents(frame: pd.DataFrame) -> list[Paper]:
    return [
        Paper(
            abstract=row.abstract,
            source=row.source,
            title=row.title or None,
            arxiv_id=row.arxiv_id or None,
            year_month=row.year_month or None,
        )
        for row in frame.itertuples(index=False)
    ]


def _nodes_from_documents(frame: pd.DataFrame) -> list[TaxonomyNode]:
    """Themes with their topics as in documents.csv (order of first appearance by size)."""
    themes: dict[str, TaxonomyNode] = {}
    topics: dict[str, TaxonomyNode] = {}
    for i, row in enumerate(frame.itertuples(index=False)):
        if not row.topic_id:
            continue
        theme = themes.setdefault(
            row.theme_id, TaxonomyNode(row.theme_id, row.theme_label, [], [], [])
        )
        if row.topic_id not in topics:
            topics[row.topic_id] = TaxonomyNode(row.topic_id, row.topic_label, [], [], [])
            theme.children.append(topics[row.topic_id])
        topics[row.topic_id].members.append(i)
        theme.members.append(i)
    ordered = sorted(themes.values(), key=lambda n: (-n.size, n.id))
    for theme in ordered:
        theme.children.sort(key=lambda n: (-n.size, n.id))
    return ordered


def _positions(new: np.ndarray, old: np.ndarray, layout: np.ndarray) -> np.ndarray:
    sims = normalize(new) @ normalize(old).T
    k = min(MAP_NEIGHBOURS, len(old))
    near = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    weights = np.maximum(np.take_along_axis(sims, near, axis=1), 1e-6)
    return (layout[near] * weights[:, :, None]).sum(axis=1) / weights.sum(axis=1, keepdims=True)


def assign_files(
    paths: list[Path], run_dir: Path, *, cache_dir: Path, columns: dict[str, Any], map_html: bool
) -> Placed:
    """Place the abstracts in `paths` into the run in `run_dir` and rewrite its tables/map."""
    from taxonomy import embed, ingest
    from taxonomy.export import write_tables_and_map

    state = read_state(run_dir)
    docs_path = run_dir / "documents.csv"
    if state is None or not docs_path.is_file():
        raise TaxonomyError("no finished run here; run `taxonomy run` first", path=run_dir)
    frame = unescape_frame(pd.read_csv(docs_path, dtype=str, keep_default_na=False))
    old_papers = _papers_from_documents(frame)
    corpus = ingest.read_corpus(paths, **columns)
    known = {p.id for p in old_papers} | {p.key for p in old_papers}
    new_papers = [p for p in corpus.papers if p.id not in known and p.key not in known]
    skipped = len(corpus) - len(new_papers)
    model = dict(state.embed) or {"model": "all-MiniLM-L6-v2", "max_tokens": 256}
    kwargs = dict(
        model_name=str(model["model"]),
        max_tokens=int(model["max_tokens"]),
        cache_dir=cache_dir / "embeddings",
    )
    new_texts = Corpus(new_papers, len(new_papers)).texts
    new_vecs, _ = embed.embed_texts(new_texts, **kwargs)
    centroids = np.array([t.centroid for t in state.topics], np.float32)
    best, sims = assign_to_centroids(new_vecs, centroids, min_similarity=state.assign_threshold)
    topic_ids = [state.topics[t].id if t >= 0 else "" for t in best]
    similarity = [float(s) for s in sims]
    placed = Placed(new_papers, topic_ids, similarity, state.assign_threshold, skipped)
    if not new_papers:
        return placed
    old_vecs, _ = embed.embed_texts(Corpus(old_papers, len(old_papers)).texts, **kwargs)
    layout = frame[["x", "y"]].astype(float).to_numpy()
    layout = np.vstack([layout, _positions(new_vecs, old_vecs, layout)])
    themes = _nodes_from_documents(frame)
    by_id = {topic.id: topic for theme in themes for topic in theme.children}
    theme_of = {topic.id: theme for theme in themes for topic in theme.children}
    for k, node_id in enumerate(topic_ids):
        key = node_id or NEW_THEME_ID
        if key not in by_id:  # the bucket, made on first use (or kept from an earlier assign)
            bucket = TaxonomyNode(NEW_THEME_ID, NEW_THEME_LABEL, [], [], [])
            themes.append(TaxonomyNode(NEW_THEME_ID, NEW_THEME_LABEL, [], [], [], [bucket]))
            by_id[key], theme_of[key] = bucket, themes[-1]
        by_id[key].members.append(len(old_papers) + k)
        theme_of[key].members.append(len(old_papers) + k)
    all_papers = old_papers + new_papers
    source = _MapSource(Corpus(all_papers, len(all_papers)), themes, layout)
    placed.files = write_tables_and_map(source, run_dir, map_html=map_html)
    return placed
