"""Stable node ids across runs, and the run state that carries them (outputs/state.json).

A new run's nodes are matched to the previous run's nodes of the same level:
  - candidates: member overlap (Jaccard over the paper ids present in both runs) >=
    MATCH_JACCARD, or, when the members cannot be compared (different papers), centroid
    cosine >= MATCH_CENTROID in the sentence-embedding space;
  - one-to-one by the Hungarian algorithm on Jaccard (+ a small centroid term for ties),
    which is deterministic;
  - a matched node keeps the previous id; an unmatched one gets `topic-N`/`theme-N` from a
    counter kept in the state, so ids are never reused. A first run numbers nodes by size.
Matching uses the nodes as clustered (before the user's edits) so that the edits, which name
these ids, keep applying run after run. A node that keeps its id and most of its members
(Jaccard >= MATCH_JACCARD) also keeps its previous automatic label.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment

from taxonomy.errors import TaxonomyError

STATE_FILE = "state.json"
STATE_VERSION = 1
MATCH_JACCARD = 0.5
MATCH_CENTROID = 0.95


@dataclass
class NodeRecord:
    id: str
    members: list[str]  # paper ids, sorted
    centroid: list[float]  # unit vector in the sentence-embedding space
    label: str = ""  # label shown (final nodes)
    auto_label: str = ""  # label before renames/seed names (final nodes)
    parent: str | None = None  # a topic's theme id (final nodes)


@dataclass
class RunState:
    next_id: dict[str, int] = field(default_factory=lambda: {"topic": 1, "theme": 1})
    raw_topics: list[NodeRecord] = field(default_factory=list)
    raw_themes: list[NodeRecord] = field(default_factory=list)
    topics: list[NodeRecord] = field(default_factory=list)
    themes: list[NodeRecord] = field(default_factory=list)
    papers: int = 0
    assign_threshold: float = 0.0  # see taxonomy.placement.similarity_floor
    embed: dict[str, object] = field(default_factory=dict)  # model settings used
    labeller: int = 0  # taxonomy.label.LABELLER_VERSION that chose the automatic labels


def read_state(out_dir: Path) -> RunState | None:
    path = out_dir / STATE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("version", None) != STATE_VERSION:
            raise ValueError("unknown version")
        for key in ("raw_topics", "raw_themes", "topics", "themes"):
            data[key] = [NodeRecord(**node) for node in data.get(key, [])]
        return RunState(**data)
    except (ValueError, TypeError, KeyError) as exc:
        raise TaxonomyError(
            f"run state is damaged ({exc}); delete it to start ids afresh", path=path
        ) from None


def state_json(state: RunState) -> str:
    data = {"version": STATE_VERSION, **asdict(state)}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def record(
    node_id: str, members: list[str], centroid: np.ndarray, **extra: str | None
) -> NodeRecord:
    vector = [round(float(v), 6) for v in centroid]
    return NodeRecord(id=node_id, members=sorted(members), centroid=vector, **extra)


def overlap(a: list[list[str]], b: list[list[str]]) -> np.ndarray:
    """|a_i ∩ b_j| for two lists of member-id lists (sparse, so it scales to large corpora)."""
    index = {pid: k for k, pid in enumerate(sorted({p for m in a + b for p in m}))}

    def incidence(groups: list[list[str]]) -> sparse.csr_matrix:
        rows = [i for i, m in enumerate(groups) for _ in m]
        cols = [index[p] for m in groups for p in m]
        shape = (len(groups), len(index))
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)

    return np.asarray((incidence(a) @ incidence(b).T).todense())


def jaccard(a: list[list[str]], b: list[list[str]]) -> np.ndarray:
    inter = overlap(a, b)
    sizes_a = np.array([len(m) for m in a], float)[:, None]
    sizes_b = np.array([len(m) for m in b], float)[None, :]
    return inter / np.maximum(sizes_a + sizes_b - inter, 1)


def shared_jaccard(a: list[list[str]], b: list[list[str]]) -> np.ndarray:
    """Jaccard of member lists counting only papers present in both runs.

    Papers new to this run (or gone from it) say nothing about whether a node is the same, so
    a small topic that gains a few new papers still matches its old self.
    """
    common = {p for m in a for p in m} & {p for m in b for p in m}
    return jaccard(
        [[p for p in m if p in common] for m in a], [[p for p in m if p in common] for m in b]
    )


def match_ids(
    members: list[list[str]],
    centroids: np.ndarray,
    previous: list[NodeRecord],
    prefix: str,
    next_id: int,
) -> tuple[list[str], int]:
    """(id per new node, next free number). New nodes are numbered largest first."""
    ids: list[str | None] = [None] * len(members)
    if previous and members:
        score = shared_jaccard(members, [p.members for p in previous])
        eligible = score >= MATCH_JACCARD
        prev_centroids = np.array([p.centroid for p in previous], np.float32)
        if prev_centroids.ndim == 2 and prev_centroids.shape[1] == centroids.shape[1]:
            cosine = centroids @ prev_centroids.T
            eligible |= cosine >= MATCH_CENTROID
            score = score + 0.01 * cosine
        rows, cols = linear_sum_assignment(np.where(eligible, score, -1.0), maximize=True)
        for r, c in zip(rows, cols, strict=True):
            if eligible[r, c]:
                ids[r] = previous[c].id
    fresh = sorted(
        (i for i, node in enumerate(ids) if node is None), key=lambda i: (-len(members[i]), i)
    )
    for i in fresh:
        ids[i] = f"{prefix}-{next_id}"
        next_id += 1
    return [str(node) for node in ids], next_id


def kept_labels(
    ids: list[str], members: list[list[str]], previous: list[NodeRecord]
) -> dict[str, str]:
    """Previous automatic labels of nodes that keep their id and most of their members."""
    by_id = {p.id: p for p in previous}
    pairs = [(i, by_id[node]) for i, node in enumerate(ids) if node in by_id]
    if not pairs:
        return {}
    score = shared_jaccard([members[i] for i, _ in pairs], [p.members for _, p in pairs])
    return {
        ids[i]: prev.auto_label
        for k, (i, prev) in enumerate(pairs)
        if score[k, k] >= MATCH_JACCARD and prev.auto_label
    }
