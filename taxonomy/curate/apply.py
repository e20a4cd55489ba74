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

import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize

from taxonomy.curate.edits import Edits
from taxonomy.hierarchy import split_topics
from taxonomy.models import Corpus, normalize_text, strip_arxiv_version
from taxonomy.placement import assign_to_centroids
from taxonomy.tree import THEME, TOPIC, Taxonomy, group_centroids


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


class _Editor:
    """Applies the edits to working copies of a taxonomy's arrays; `result` freezes them."""

    def __init__(
        self, taxonomy: Taxonomy, edits: Edits, vectors: np.ndarray, corpus: Corpus, seed: int
    ) -> None:
        self.topic_of = taxonomy.topic_of.copy()
        self.ids = [list(taxonomy.ids[TOPIC]), list(taxonomy.ids[THEME])]
        self.theme_of_topic = [int(j) for j in taxonomy.theme_of_topic]
        self.labels = dict(taxonomy.labels)
        self.edits = edits
        self.vectors = vectors
        self.corpus = corpus
        self.seed = seed
        self.gone: set[str] = set()  # ids removed by an edit (they stay resolvable for errors)

    # -- helpers ---------------------------------------------------------------------------
    def live_topics(self) -> list[int]:
        return [t for t, tid in enumerate(self.ids[TOPIC]) if tid not in self.gone]

    def need(self, node: str, where: str) -> int:
        """Index of a live node (topic or theme) or a clear error."""
        ids = self.ids[TOPIC] if node.startswith("topic-") else self.ids[THEME]
        if node in self.gone:
            raise self.edits.fail(where, f"{node} no longer exists at this step (merged/split)")
        if node not in ids:
            raise self.edits.fail(
                where, f"unknown id {node!r}: not in this run's taxonomy (see taxonomy.yaml)"
            )
        return ids.index(node)

    def topics_of_theme(self, j: int) -> list[int]:
        return [t for t in self.live_topics() if self.theme_of_topic[t] == j]

    def add_topic(self, node: str, theme: int) -> int:
        self.ids[TOPIC].append(node)
        self.theme_of_topic.append(theme)
        return len(self.ids[TOPIC]) - 1

    def centroids(self) -> np.ndarray:
        return group_centroids(self.vectors, self.topic_of, len(self.ids[TOPIC]))

    def reassign(self, papers: np.ndarray, allowed: list[int]) -> None:
        """Move `papers` to the nearest topic among `allowed` (by centroid similarity)."""
        if len(papers) == 0:
            return
        best, _ = assign_to_centroids(self.vectors[papers], self.centroids()[allowed])
        self.topic_of[papers] = np.asarray(allowed)[best]

    # -- edits, in order -------------------------------------------------------------------
    def delete(self) -> None:
        for i, node in enumerate(self.edits.spec.delete):
            where = f"delete[{i}]"
            idx = self.need(node, where)
            topics = [idx] if node.startswith("topic-") else self.topics_of_theme(idx)
            self.gone.update(self.ids[TOPIC][t] for t in topics)
            if node.startswith("theme-"):
                self.gone.add(node)
            rest = self.live_topics()
            if not rest:
                raise self.edits.fail(where, "deleting it would leave no topics")
            papers = np.flatnonzero(np.isin(self.topic_of, topics))
            self.reassign(papers, rest)

    def merge(self) -> None:
        for i, merge in enumerate(self.edits.spec.merge):
            where = f"merge[{i}]"
            first, *others = merge.ids
            keep = self.need(first, where)
            for node in others:
                idx = self.need(node, where)
                if node.startswith("topic-"):
                    self.topic_of[self.topic_of == idx] = keep
                else:
                    for t in self.topics_of_theme(idx):
                        self.theme_of_topic[t] = keep
                self.gone.add(node)
            if merge.label:
                self.labels[first] = merge.label

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
        members = np.flatnonzero(self.topic_of == idx)
        if len(members) < 2 * into:
            raise self.edits.fail(where, f"{node} has {len(members)} papers: too few to split")
        km = KMeans(n_clusters=into, n_init=10, random_state=self.seed)
        parts = km.fit_predict(normalize(self.vectors[members]))
        order = sorted(range(into), key=lambda p: (-(parts == p).sum(), members[parts == p][0]))
        theme = self.theme_of_topic[idx]
        for rank, p in enumerate(order):
            self.topic_of[members[parts == p]] = self.add_topic(f"{node}.{rank + 1}", theme)

    def _split_theme(self, idx: int, node: str, into: int, where: str) -> None:
        topics = self.topics_of_theme(idx)
        if len(topics) < into:
            raise self.edits.fail(where, f"{node} has {len(topics)} topics: too few to split")
        # The theme level's own rule (size-weighted k-means of topic centroids), told the count.
        centroids = self.centroids()[topics]
        sizes = np.bincount(self.topic_of[self.topic_of >= 0], minlength=len(self.ids[TOPIC]))
        sizes = sizes[topics]
        groups = split_topics(centroids, sizes, into, self.seed)
        order = sorted(range(into), key=lambda g: (-sizes[groups == g].sum(), g))
        for rank, g in enumerate(order):
            self.ids[THEME].append(f"{node}.{rank + 1}")
            for t, group in zip(topics, groups, strict=True):
                if group == g:
                    self.theme_of_topic[t] = len(self.ids[THEME]) - 1

    def move(self) -> None:
        for i, move in enumerate(self.edits.spec.move):
            where = f"move[{i}]"
            topic = self.need(move.id, where)
            self.theme_of_topic[topic] = self.need(move.under, where)

    def pin(self) -> None:
        if not self.edits.spec.pin:
            return  # the lookup indexes every paper: ~1 s per 100k papers
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
                self.topic_of[paper] = idx
            else:
                topics = self.topics_of_theme(idx)
                if not topics:
                    raise self.edits.fail(where, f"{pin.node} has no topics left")
                self.reassign(np.array([paper]), topics)

    def rename(self) -> None:
        for node, label in self.edits.spec.rename.items():
            self.need(node, f"rename.{node}")
            self.labels[node] = label

    def result(self) -> Taxonomy:
        """The edited taxonomy without removed and empty nodes, renumbered."""
        edited = Taxonomy(self.topic_of, (self.theme_of_topic,), self.ids, self.labels)
        return edited.compact(tid for tid in self.ids[TOPIC] if tid not in self.gone)


def apply_edits(
    taxonomy: Taxonomy, edits: Edits, vectors: np.ndarray, corpus: Corpus, seed: int
) -> Taxonomy:
    """The taxonomy after delete, merge, split, move, pin and rename (in that order)."""
    editor = _Editor(taxonomy, edits, vectors, corpus, seed)
    for step in (editor.delete, editor.merge, editor.split, editor.move, editor.pin):
        step()
    editor.rename()
    return editor.result()
