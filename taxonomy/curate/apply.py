"""Apply the id-based edits of the curation file to a fitted taxonomy (plain data in and out).

Order (each step sees the result of the previous ones):
  1. delete  — the node goes; its papers move to the nearest remaining topic (by centroid)
  2. merge   — all listed nodes become the first one (it keeps its id; optional new label)
  3. split   — a topic's papers are split by k-means into n parts, a theme's topics into n
               groups; parts get the ids `<id>.1`, `<id>.2`, … (largest first)
  4. move    — a topic goes under another theme
  5. pin     — a paper goes to a node (to the nearest topic of a theme when pinned to a theme)
  6. rename  — fixed labels by id (merge results and split parts can be renamed too)
Exclusions and seed themes act earlier, on the corpus and the clustering (see the package).
Nodes left empty are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.preprocessing import normalize

from taxonomy.assign import assign_to_centroids
from taxonomy.curate.edits import Edits
from taxonomy.models import Corpus, normalize_text, strip_arxiv_version


@dataclass
class Draft:
    """A two-level taxonomy as arrays: papers -> topics -> themes, plus fixed labels."""

    topic_of: np.ndarray  # per paper: index into topic_ids, -1 unassigned
    topic_ids: list[str]
    theme_of_topic: list[int]  # per topic: index into theme_ids
    theme_ids: list[str]
    labels: dict[str, str] = field(default_factory=dict)  # fixed labels by node id


def paper_lookup(corpus: Corpus) -> dict[str, list[int]]:
    """Paper index by arXiv id, paper id, and case-folded exact title."""
    index: dict[str, list[int]] = {}
    for i, paper in enumerate(corpus.papers):
        keys = {paper.id}
        if paper.arxiv_id:
            keys.add(paper.arxiv_id)
        if paper.title:
            keys.add("title:" + normalize_text(paper.title).casefold())
        for key in keys:
            index.setdefault(key, []).append(i)
    return index


def find_paper(lookup: dict[str, list[int]], ref: str) -> list[int]:
    """Indices of the papers `ref` (arXiv id with or without version, paper id, title) names."""
    for key in (ref, strip_arxiv_version(ref), "title:" + normalize_text(ref).casefold()):
        if key in lookup:
            return lookup[key]
    return []


def _centroids(vectors: np.ndarray, topic_of: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((k, vectors.shape[1]), np.float32)
    for t in range(k):
        members = topic_of == t
        if members.any():
            out[t] = vectors[members].mean(axis=0)
    return normalize(out)


def _reassign(draft: Draft, vectors: np.ndarray, papers: np.ndarray, allowed: list[int]) -> None:
    """Move `papers` to the nearest topic among `allowed` (by centroid similarity)."""
    if len(papers) == 0:
        return
    centroids = _centroids(vectors, draft.topic_of, len(draft.topic_ids))[allowed]
    best, _ = assign_to_centroids(vectors[papers], centroids)
    draft.topic_of[papers] = np.asarray(allowed)[best]


class _Editor:
    def __init__(self, draft: Draft, edits: Edits, vectors: np.ndarray, corpus: Corpus) -> None:
        self.d = replace(
            draft,
            topic_of=draft.topic_of.copy(),
            topic_ids=list(draft.topic_ids),
            theme_of_topic=list(draft.theme_of_topic),
            theme_ids=list(draft.theme_ids),
            labels=dict(draft.labels),
        )
        self.edits = edits
        self.vectors = vectors
        self.corpus = corpus
        self.gone: set[str] = set()  # ids removed by an edit (they stay resolvable for errors)

    # -- helpers ---------------------------------------------------------------------------
    def live_topics(self) -> list[int]:
        return [t for t, tid in enumerate(self.d.topic_ids) if tid not in self.gone]

    def need(self, node: str, where: str) -> int:
        """Index of a live node (topic or theme) or a clear error."""
        ids = self.d.topic_ids if node.startswith("topic-") else self.d.theme_ids
        if node in self.gone:
            raise self.edits.fail(where, f"{node} no longer exists at this step (merged/split)")
        if node not in ids:
            raise self.edits.fail(
                where, f"unknown id {node!r}: not in this run's taxonomy (see taxonomy.yaml)"
            )
        return ids.index(node)

    def topics_of_theme(self, j: int) -> list[int]:
        return [t for t in self.live_topics() if self.d.theme_of_topic[t] == j]

    def add_topic(self, node: str, theme: int) -> int:
        self.d.topic_ids.append(node)
        self.d.theme_of_topic.append(theme)
        return len(self.d.topic_ids) - 1

    # -- edits, in order -------------------------------------------------------------------
    def delete(self) -> None:
        for i, node in enumerate(self.edits.spec.delete):
            where = f"delete[{i}]"
            idx = self.need(node, where)
            topics = [idx] if node.startswith("topic-") else self.topics_of_theme(idx)
            self.gone.update(self.d.topic_ids[t] for t in topics)
            if node.startswith("theme-"):
                self.gone.add(node)
            rest = self.live_topics()
            if not rest:
                raise self.edits.fail(where, "deleting it would leave no topics")
            papers = np.flatnonzero(np.isin(self.d.topic_of, topics))
            _reassign(self.d, self.vectors, papers, rest)

    def merge(self) -> None:
        for i, merge in enumerate(self.edits.spec.merge):
            where = f"merge[{i}]"
            first, *others = merge.ids
            keep = self.need(first, where)
            for node in others:
                idx = self.need(node, where)
                if node.startswith("topic-"):
                    self.d.topic_of[self.d.topic_of == idx] = keep
                else:
                    for t in self.topics_of_theme(idx):
                        self.d.theme_of_topic[t] = keep
                self.gone.add(node)
            if merge.label:
                self.d.labels[first] = merge.label

    def split(self) -> None:
        for i, item in enumerate(self.edits.spec.split):
            where = f"split[{i}]"
            idx = self.need(item.id, where)
            if item.id.startswith("topic-"):
                self._split_topic(idx, item.id, item.into, where)
            else:
                self._split_theme(idx, item.id, item.into, where)
            self.gone.add(item.id)

    def _split_topic(self, idx: int, node: str, into: int, where: str) -> None:
        members = np.flatnonzero(self.d.topic_of == idx)
        if len(members) < 2 * into:
            raise self.edits.fail(where, f"{node} has {len(members)} papers: too few to split")
        km = KMeans(n_clusters=into, n_init=10, random_state=0)
        parts = km.fit_predict(normalize(self.vectors[members]))
        order = sorted(range(into), key=lambda p: (-(parts == p).sum(), members[parts == p][0]))
        theme = self.d.theme_of_topic[idx]
        for rank, p in enumerate(order):
            self.d.topic_of[members[parts == p]] = self.add_topic(f"{node}.{rank + 1}", theme)

    def _split_theme(self, idx: int, node: str, into: int, where: str) -> None:
        topics = self.topics_of_theme(idx)
        if len(topics) < into:
            raise self.edits.fail(where, f"{node} has {len(topics)} topics: too few to split")
        k = len(self.d.topic_ids)
        centroids = _centroids(self.vectors, self.d.topic_of, k)[topics]
        sizes = np.bincount(self.d.topic_of[self.d.topic_of >= 0], minlength=k)[topics]
        groups = AgglomerativeClustering(n_clusters=into, linkage="ward").fit_predict(centroids)
        order = sorted(range(into), key=lambda g: (-sizes[groups == g].sum(), g))
        for rank, g in enumerate(order):
            self.d.theme_ids.append(f"{node}.{rank + 1}")
            for t, group in zip(topics, groups, strict=True):
                if group == g:
                    self.d.theme_of_topic[t] = len(self.d.theme_ids) - 1

    def move(self) -> None:
        for i, move in enumerate(self.edits.spec.move):
            where = f"move[{i}]"
            topic = self.need(move.id, where)
            self.d.theme_of_topic[topic] = self.need(move.under, where)

    def pin(self) -> None:
        lookup = paper_lookup(self.corpus)
        pinned: dict[int, tuple[str, str]] = {}
        for i, pin in enumerate(self.edits.spec.pin):
            where = f"pin[{i}]"
            found = find_paper(lookup, pin.paper)
            if not found:
                raise self.edits.fail(where, f"unknown paper {pin.paper!r} (not in this corpus)")
            if len(found) > 1:
                raise self.edits.fail(where, f"{pin.paper!r} names {len(found)} papers")
            paper = found[0]
            if paper in pinned and pinned[paper][0] != pin.node:
                other = pinned[paper]
                raise self.edits.fail(where, f"paper pinned to two nodes ({other[1]}: {other[0]})")
            pinned[paper] = (pin.node, where)
            idx = self.need(pin.node, where)
            if pin.node.startswith("topic-"):
                self.d.topic_of[paper] = idx
            else:
                topics = self.topics_of_theme(idx)
                if not topics:
                    raise self.edits.fail(where, f"{pin.node} has no topics left")
                _reassign(self.d, self.vectors, np.array([paper]), topics)

    def rename(self) -> None:
        for node, label in self.edits.spec.rename.items():
            self.need(node, f"rename.{node}")
            self.d.labels[node] = label

    def result(self) -> Draft:
        """Drop removed and empty nodes and renumber."""
        d = self.d
        counts = np.bincount(d.topic_of[d.topic_of >= 0], minlength=len(d.topic_ids))
        keep = [t for t in self.live_topics() if counts[t] > 0]
        themes = sorted({d.theme_of_topic[t] for t in keep})
        theme_new = {j: n for n, j in enumerate(themes)}
        topic_new = {t: n for n, t in enumerate(keep)}
        topic_of = np.array([topic_new.get(int(t), -1) for t in d.topic_of], dtype=np.int64)
        ids = [d.topic_ids[t] for t in keep] + [d.theme_ids[j] for j in themes]
        return Draft(
            topic_of=topic_of,
            topic_ids=[d.topic_ids[t] for t in keep],
            theme_of_topic=[theme_new[d.theme_of_topic[t]] for t in keep],
            theme_ids=[d.theme_ids[j] for j in themes],
            labels={k: v for k, v in d.labels.items() if k in ids},
        )


def apply_edits(draft: Draft, edits: Edits, vectors: np.ndarray, corpus: Corpus) -> Draft:
    """The draft after delete, merge, split, move, pin and rename (in that order)."""
    editor = _Editor(draft, edits, vectors, corpus)
    for step in (editor.delete, editor.merge, editor.split, editor.move, editor.pin):
        step()
    editor.rename()
    return editor.result()
