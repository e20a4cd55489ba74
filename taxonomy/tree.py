"""The fitted taxonomy as one value: papers -> topics -> themes, with node ids and labels.

Levels are kept the way EVōC and Toponymy keep cluster layers: the finest assignment per paper
(`topic_of`, -1 = unassigned) plus, for each coarser level, a parent array mapping the nodes of
the level below to nodes of this level (`parents[0]`: theme per topic). Every stage that needs
"the papers of a theme", a level's centroids, or a renumbering after nodes go away uses the
operations here, so a third level changes this module, not the stages.

`Taxonomy` is frozen and its arrays are read-only: stages return new values (`replace`,
`compact`), they never edit one in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.preprocessing import normalize

from taxonomy.models import TaxonomyNode

LEVELS = ("topic", "theme")  # finest first; level i's ids are `<LEVELS[i]>-N`
TOPIC, THEME = 0, 1


def _frozen(values: Iterable[int] | np.ndarray) -> np.ndarray:
    array = np.array(values, dtype=np.int64)
    array.flags.writeable = False
    return array


def level_of(node_id: str) -> int:
    """The level a node id belongs to, from its prefix ('topic-3.1' -> 0)."""
    for level, prefix in enumerate(LEVELS):
        if node_id.startswith(f"{prefix}-"):
            return level
    raise ValueError(f"not a node id: {node_id!r}")


def group_centroids(vectors: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """Unit-length mean vector of each group 0..k-1 (zeros for an empty group).

    The one centroid rule of the project: clustering, curation, seed themes, stable ids and
    placement all call it.
    """
    out = np.zeros((k, vectors.shape[1]), np.float32)
    for g in range(k):
        members = groups == g
        if members.any():
            out[g] = vectors[members].mean(axis=0)
    return normalize(out)


def relabel(groups: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """Groups renumbered so that `order[i]` becomes i; groups not in `order` become -1."""
    mapping = {int(old): new for new, old in enumerate(order)}
    return np.array([mapping.get(int(g), -1) for g in groups], dtype=np.int64)


def by_size(groups: np.ndarray) -> list[int]:
    """Group ids largest first (ties: the group whose first member comes first)."""
    ids = np.unique(groups[groups >= 0])
    return sorted(
        (int(g) for g in ids), key=lambda g: (-(groups == g).sum(), int(np.argmax(groups == g)))
    )


@dataclass(frozen=True)
class Taxonomy:
    """Papers -> topics -> themes.

    topic_of:  per paper, index into ids[TOPIC] (-1 = unassigned)
    parents:   parents[i] per node of level i, index into ids[i + 1]
    ids:       node ids per level (`topic-3`, `theme-2.1`); index order is the level's order
    labels:    label by node id (fixed ones before labelling; all of them after)
    keywords, representatives: by node id, filled by the label stage (paper indices, best first)
    named_by:  by theme id, who named it: "corpus", a reference scheme's name, "user"...
    """

    topic_of: np.ndarray
    parents: tuple[np.ndarray, ...]
    ids: tuple[tuple[str, ...], ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    representatives: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    named_by: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic_of", _frozen(self.topic_of))
        object.__setattr__(self, "parents", tuple(_frozen(p) for p in self.parents))
        object.__setattr__(self, "ids", tuple(tuple(level) for level in self.ids))

    @classmethod
    def numbered(
        cls, topic_of: np.ndarray, theme_of_topic: np.ndarray, labels: Mapping[str, str] = {}
    ) -> Taxonomy:
        """A taxonomy whose ids are positional (`topic-1`, ...): before stable ids exist."""
        k = int(topic_of.max()) + 1 if len(topic_of) else 0
        n_themes = int(theme_of_topic.max()) + 1 if len(theme_of_topic) else 0
        ids = ([f"topic-{t + 1}" for t in range(k)], [f"theme-{j + 1}" for j in range(n_themes)])
        return cls(topic_of, (theme_of_topic,), ids, dict(labels))

    # -- structure ---------------------------------------------------------------------------
    @property
    def n_papers(self) -> int:
        return len(self.topic_of)

    @property
    def theme_of_topic(self) -> np.ndarray:
        return self.parents[TOPIC]

    def n_nodes(self, level: int) -> int:
        return len(self.ids[level])

    def layer(self, level: int) -> np.ndarray:
        """Node index of each paper at `level` (-1 = unassigned)."""
        groups = self.topic_of
        for parent in self.parents[:level]:
            groups = np.where(groups >= 0, parent[np.maximum(groups, 0)], -1)
        return groups

    def members(self, level: int) -> list[np.ndarray]:
        groups = self.layer(level)
        return [np.flatnonzero(groups == g) for g in range(self.n_nodes(level))]

    def sizes(self, level: int) -> np.ndarray:
        groups = self.layer(level)
        return np.bincount(groups[groups >= 0], minlength=self.n_nodes(level))

    def children(self, level: int, node: int) -> list[int]:
        """Indices of the level-1 nodes under `node` of `level`."""
        return [int(c) for c in np.flatnonzero(self.parents[level - 1] == node)]

    def index(self, node_id: str) -> int:
        return self.ids[level_of(node_id)].index(node_id)

    def centroids(self, vectors: np.ndarray, level: int) -> np.ndarray:
        return group_centroids(vectors, self.layer(level), self.n_nodes(level))

    def member_ids(self, level: int, paper_ids: Sequence[str]) -> list[list[str]]:
        return [[paper_ids[i] for i in m] for m in self.members(level)]

    @property
    def unassigned(self) -> int:
        return int((self.topic_of < 0).sum())

    # -- new values ----------------------------------------------------------------------------
    def replace(self, **changes: object) -> Taxonomy:
        return dataclasses.replace(self, **changes)

    def compact(self, live: Iterable[str] | None = None) -> Taxonomy:
        """Drop nodes not in `live` (default: all) and empty ones, renumber in order.

        Papers of a dropped topic become unassigned; labels of dropped nodes are forgotten.
        """
        live_ids = set(live) if live is not None else set(self.ids[TOPIC]) | set(self.ids[THEME])
        counts = self.sizes(TOPIC)
        keep = [t for t, tid in enumerate(self.ids[TOPIC]) if tid in live_ids and counts[t] > 0]
        themes = sorted({int(self.theme_of_topic[t]) for t in keep})
        theme_new = {j: n for n, j in enumerate(themes)}
        ids = ([self.ids[TOPIC][t] for t in keep], [self.ids[THEME][j] for j in themes])
        kept = set(ids[0]) | set(ids[1])
        return Taxonomy(
            topic_of=relabel(self.topic_of, keep),
            parents=([theme_new[int(self.theme_of_topic[t])] for t in keep],),
            ids=ids,
            labels={k: v for k, v in self.labels.items() if k in kept},
            keywords={k: v for k, v in self.keywords.items() if k in kept},
            representatives={k: v for k, v in self.representatives.items() if k in kept},
            named_by={k: v for k, v in self.named_by.items() if k in kept},
        )

    # -- views -----------------------------------------------------------------------------
    def tree(self) -> list[TaxonomyNode]:
        """Themes (largest first), each with its topics (largest first) as children."""
        topics = [self._node(TOPIC, t, members) for t, members in enumerate(self.members(TOPIC))]
        themes: list[TaxonomyNode] = []
        for j in range(self.n_nodes(THEME)):
            children = [topics[t] for t in self.children(THEME, j)]
            children.sort(key=lambda node: (-node.size, node.id))
            members = sorted(i for child in children for i in child.members)
            themes.append(self._node(THEME, j, members, children))
        themes.sort(key=lambda node: (-node.size, node.id))
        return themes

    def _node(
        self,
        level: int,
        index: int,
        members: Iterable[int],
        children: list[TaxonomyNode] | None = None,
    ) -> TaxonomyNode:
        node_id = self.ids[level][index]
        return TaxonomyNode(
            id=node_id,
            label=self.labels.get(node_id, ""),
            keywords=list(self.keywords.get(node_id, ())),
            members=[int(i) for i in members],
            representatives=list(self.representatives.get(node_id, ())),
            children=children or [],
            named_by=self.named_by.get(node_id),
        )
