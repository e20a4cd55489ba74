"""Updating a held taxonomy instead of refitting it: the curated taxonomy holds still.

Once an output folder holds a run, the next `taxonomy run` updates it:
  - papers still present keep their topic (as clustered, before the user's edits, which are
    applied again on top) and their map position;
  - papers gone from the input leave;
  - new papers are placed with the one placement rule (`taxonomy.placement`): nearest topic
    centroid, if at least as similar as the run's similarity floor;
  - new papers that fit no topic, with the papers left unassigned before, form the pool from
    which emerging topics are clustered (`emerging_topics`): a group of at least the smallest
    topic size becomes a new topic under its nearest theme; nothing is silently absorbed.
A refit (today's full fit, with ids matched to the previous run) happens on the first run, with
`--refit`, or when settings the fit depends on changed (`refit_reason` says which).
`drift` measures how far the held taxonomy has moved from its fit, so the summary can say when
a refit is advisable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from taxonomy.curate.ids import NodeRecord, RunState
from taxonomy.tree import group_centroids, relabel

# Settings groups a fit depends on (label settings do not: labels are chosen on every run).
FIT_SETTINGS = ("embed", "reduce", "cluster", "hierarchy", "seed", "fit_sample")
REFIT_ADDED_SHARE = 0.25  # papers added since the fit, as a share of the fitted corpus
REFIT_GROWTH = 2.0  # a topic at this multiple of its size at the fit
REFIT_UNASSIGNED = 0.05  # share of papers no topic holds
NEW_SHARE = 0.5  # an emerging topic is at least this share papers new to this run
MIN_KEPT_SHARE = 0.5  # fewer papers of the previous run than this share: refit


# Before 2026-12-02 the default fit_sample was 20,000 and states hold the hash of the setting
# itself; for a corpus no larger than both, the fit was the same (every paper fitted).
FORMER_FIT_SAMPLE = 20_000


def fit_settings(cfg: Any, papers: int) -> dict[str, str]:
    """A short hash per settings group the fit of `papers` papers depends on. `fit_sample`
    counts only where it is below the corpus size (else every paper is fitted, whatever it
    is): a new default sample size does not refit a smaller corpus."""
    sample = cfg.compute.fit_sample
    groups = {
        "embed": cfg.embed.model_dump(exclude={"batch_size"}),
        "reduce": cfg.reduce.model_dump(),
        "cluster": cfg.cluster.model_dump(),
        "hierarchy": cfg.hierarchy.model_dump(),
        "seed": cfg.seed,
        "fit_sample": sample if sample is not None and papers > sample else None,
    }
    return {name: _digest(value) for name, value in groups.items()}


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def refit_reason(
    previous: RunState | None,
    cfg: Any,
    refit: bool,
    held_papers: list[str] | None,
    paper_ids: list[str],
) -> str | None:
    """Why this run fits afresh, or None when it updates the previous run (`held_papers`: the
    papers in the previous run's documents.csv, None when it has none)."""
    if previous is None:
        return "first run in this folder"
    if refit:
        return "--refit asked for"
    held = previous.fit.get("settings") if previous.fit else None
    if not held or not previous.raw_topics or held_papers is None:
        return "the previous run holds no fit to update (made by an older version)"
    fitted = int(previous.fit.get("papers", len(paper_ids)))
    current = fit_settings(cfg, fitted)
    if held.get("fit_sample") == _digest(FORMER_FIT_SAMPLE) and fitted <= FORMER_FIT_SAMPLE:
        held = {**held, "fit_sample": _digest(None)}  # a state from before: every paper fitted
    changed = [name for name, value in current.items() if held.get(name) != value]
    if changed:
        return "settings the fit depends on changed: " + ", ".join(changed)
    kept = len(set(held_papers) & set(paper_ids))
    if kept < MIN_KEPT_SHARE * len(paper_ids):
        return f"only {kept} of the {len(paper_ids)} papers were in the previous run"
    return None


@dataclass(frozen=True)
class Held:
    """The previous run's clustered taxonomy over this run's papers."""

    topic_of: np.ndarray  # raw topic per current paper; -1 for new and unassigned papers
    theme_of_topic: np.ndarray  # raw theme per raw topic
    topic_ids: list[str]
    theme_ids: list[str]
    names: dict[int, str]  # seed-theme names by raw topic index
    new: np.ndarray  # indices of papers the previous run did not hold


def held_taxonomy(previous: RunState, paper_ids: list[str], held_ids: set[str]) -> Held:
    """Map the previous run's raw topics and themes onto the current papers; `held_ids` are the
    papers the previous run held (its documents.csv), so the others are new."""
    index = {pid: i for i, pid in enumerate(paper_ids)}
    topic_of = np.full(len(paper_ids), -1, np.int64)
    for t, node in enumerate(previous.raw_topics):
        topic_of[[index[p] for p in node.members if p in index]] = t
    theme_of_paper = {p: j for j, node in enumerate(previous.raw_themes) for p in node.members}
    theme_of_topic = [
        _majority([theme_of_paper.get(p, -1) for p in node.members]) for node in previous.raw_topics
    ]
    return Held(
        topic_of=topic_of,
        theme_of_topic=np.array(theme_of_topic, np.int64),
        topic_ids=[n.id for n in previous.raw_topics],
        theme_ids=[n.id for n in previous.raw_themes],
        names={t: node.label for t, node in enumerate(previous.raw_topics) if node.label},
        new=np.array([i for i, pid in enumerate(paper_ids) if pid not in held_ids], np.int64),
    )


def _majority(values: list[int]) -> int:
    values = [v for v in values if v >= 0]
    return int(np.bincount(values).argmax()) if values else 0


def emerging_topics(
    pool: np.ndarray,
    vectors: np.ndarray,
    min_size: int,
    seed: int,
) -> np.ndarray:
    """Group per pool paper (0, 1, … or -1): dense groups of at least `min_size` papers.

    The pool (new papers no topic fits, papers left unassigned before) is clustered on its
    own: UMAP (PCA below 30 papers) then HDBSCAN with excess-of-mass selection, allowed to
    find a single group. Papers outside every group stay unassigned.
    """
    groups = np.full(len(pool), -1, np.int64)
    if len(pool) < min_size:
        return groups
    import hdbscan

    from taxonomy.reduce import reduce_vectors

    space = reduce_vectors(vectors[pool], n_components=5, seed=seed).cluster_space
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=min_size,
        min_samples=max(1, min_size // 2),
        cluster_selection_method="eom",
        allow_single_cluster=True,
        core_dist_n_jobs=1,
    )
    labels = np.asarray(clusterer.fit_predict(np.asarray(space, np.float64)))
    for g in np.unique(labels[labels >= 0]):
        if (labels == g).sum() >= min_size:
            groups[labels == g] = int(groups.max()) + 1
    return groups


def nearest_theme(
    vectors: np.ndarray, topic_of: np.ndarray, theme_of_topic: np.ndarray, topics: list[int]
) -> list[int]:
    """The theme each of `topics` goes under: the one whose centroid its centroid is closest to."""
    k = int(topic_of.max()) + 1
    centroids = group_centroids(vectors, topic_of, k)
    held = (topic_of >= 0) & (topic_of < len(theme_of_topic))  # topics that have a theme
    theme_of = np.where(held, theme_of_topic[np.where(held, topic_of, 0)], -1)
    themes = group_centroids(vectors, theme_of, int(theme_of_topic.max()) + 1)
    return [int(np.argmax(themes @ centroids[t])) for t in topics]


def fit_record(cfg: Any, raw_topics: list[NodeRecord], papers: int) -> dict[str, object]:
    """What a full fit leaves for later updates to compare against."""
    sizes = {node.id: len(node.members) for node in raw_topics}
    return {"settings": fit_settings(cfg, papers), "papers": papers, "sizes": sizes, "added": 0}


def drift(
    fit: dict[str, Any], raw_topics: list[NodeRecord], n_papers: int, unassigned: int
) -> dict[str, Any]:
    """How far the held taxonomy is from its fit (`fit`: its record, `added` counted since),
    and whether a refit is advisable."""
    fitted, added, sizes = int(fit["papers"]), int(fit["added"]), fit["sizes"]
    grown = [
        {"id": node.id, "papers": len(node.members), "at_fit": sizes[node.id]}
        for node in raw_topics
        if node.id in sizes and len(node.members) >= REFIT_GROWTH * max(sizes[node.id], 1)
    ]
    why = []
    if fitted and added >= REFIT_ADDED_SHARE * fitted:
        why.append(f"{added} papers added since the fit ({added / fitted:.0%} of {fitted})")
    if n_papers and unassigned > REFIT_UNASSIGNED * n_papers:
        why.append(f"{unassigned / n_papers:.0%} of the papers are unassigned")
    if grown:
        why.append(f"{len(grown)} topic(s) at least doubled since the fit")
    return {
        "fitted_papers": fitted,
        "added_since_fit": added,
        "unassigned": unassigned,
        "grown_topics": grown,
        "refit_advised": bool(why),
        "why": why,
    }


@dataclass(frozen=True)
class Updated:
    """The held taxonomy updated with this run's papers (indices as in the current corpus)."""

    topic_of: np.ndarray  # raw topic per paper; topics after the held ones are emerging
    theme_of_topic: np.ndarray
    names: dict[int, str]  # seed-theme names by topic index
    layout: np.ndarray
    summary: dict[str, Any]


def update_topics(
    previous: RunState,
    held_papers: list[str],
    held_layout: np.ndarray,
    paper_ids: list[str],
    embeddings: np.ndarray,
    vectors: np.ndarray,
    min_size: int,
    seed: int,
) -> Updated:
    """Kept papers keep topic and position; new ones are placed; the rest may form new topics.

    `held_papers`/`held_layout`: the previous run's papers and map positions (documents.csv).
    """
    from taxonomy import placement

    held = held_taxonomy(previous, paper_ids, set(held_papers))
    topic_of, k = held.topic_of.copy(), len(held.topic_ids)
    kept = np.flatnonzero(topic_of >= 0)
    floor = placement.similarity_floor(embeddings[kept], topic_of[kept])
    centroids = group_centroids(embeddings, topic_of, k)
    topic_of[held.new] = placement.assign_to_centroids(embeddings[held.new], centroids, floor)[0]
    # The pool: every new paper and those left unassigned before. A dense group of them is a
    # new subject when most of its new papers fit no topic; its members that did fit one go
    # with their peers, papers left out before only when close to the new papers' centroid.
    pool = np.union1d(held.new, np.flatnonzero(topic_of < 0))
    groups = emerging_topics(pool, vectors, min_size, seed)
    is_new = np.isin(pool, held.new)
    misfit = is_new & (topic_of[pool] < 0)
    for g in range(int(groups.max()) + 1 if len(groups) else 0):
        members = groups == g
        if (
            is_new[members].mean() < NEW_SHARE
            or misfit[members].sum() < NEW_SHARE * is_new[members].sum()
        ):
            groups[members] = -1
    groups = relabel(groups, sorted(set(groups[groups >= 0].tolist())))
    _keep_close(groups, pool, is_new, embeddings, floor)
    topic_of[pool[groups >= 0]] = k + groups[groups >= 0]
    n_new = int(groups.max()) + 1 if len(groups) else 0
    _join_emerging(topic_of, held.new, vectors, k, n_new)
    _adopt_leftovers(topic_of, held.new, embeddings, k, n_new, floor)
    themes = nearest_theme(vectors, topic_of, held.theme_of_topic, list(range(k, k + n_new)))
    position = {pid: i for i, pid in enumerate(held_papers)}
    anchors = np.array([position.get(pid, -1) for pid in paper_ids])
    layout = np.zeros((len(paper_ids), 2), np.float32)
    layout[anchors >= 0] = held_layout[anchors[anchors >= 0]]
    rest, known = np.flatnonzero(anchors < 0), np.flatnonzero(anchors >= 0)
    layout[rest] = placement.map_positions(
        embeddings[rest], topic_of[rest], embeddings[known], topic_of[known], layout[known]
    )
    summary = {
        "new_papers": len(held.new),
        "placed": int(((topic_of[held.new] >= 0) & (topic_of[held.new] < k)).sum()),
        "emerging": [int((topic_of == t).sum()) for t in range(k, k + n_new)],
        "removed_papers": len(set(held_papers) - set(paper_ids)),
        "similarity_floor": floor,
    }
    return Updated(
        topic_of=topic_of,
        theme_of_topic=np.concatenate([held.theme_of_topic, np.array(themes, np.int64)]),
        names=held.names,
        layout=layout,
        summary=summary,
    )


def _keep_close(
    groups: np.ndarray, pool: np.ndarray, is_new: np.ndarray, embeddings: np.ndarray, floor: float
) -> None:
    """Papers left out before stay out of a new subject's group unless at least as similar to
    the centroid of its new papers as the floor (the group is the new papers' subject)."""
    if not len(groups) or groups.max() < 0:
        return
    k = int(groups.max()) + 1
    centroids = group_centroids(embeddings[pool], np.where(is_new, groups, -1), k)
    unit = embeddings[pool] / np.linalg.norm(embeddings[pool], axis=1, keepdims=True)
    old = np.flatnonzero(~is_new & (groups >= 0))
    sims = (unit[old] * centroids[groups[old]]).sum(axis=1)
    groups[old[sims < floor]] = -1


def _adopt_leftovers(
    topic_of: np.ndarray, new: np.ndarray, embeddings: np.ndarray, k: int, n_new: int, floor: float
) -> None:
    """New papers left out of every group take the placement rule once more, now with the
    emerging topics as the candidates."""
    from taxonomy.placement import assign_to_centroids

    rest = new[topic_of[new] < 0]
    if n_new == 0 or len(rest) == 0:
        return
    centroids = group_centroids(embeddings, topic_of, k + n_new)[k:]
    best, _ = assign_to_centroids(embeddings[rest], centroids, floor)
    topic_of[rest[best >= 0]] = k + best[best >= 0]


def _join_emerging(
    topic_of: np.ndarray, new: np.ndarray, vectors: np.ndarray, k: int, n_new: int
) -> None:
    """New papers placed in an old topic join an emerging topic when closer to its centroid
    than to their own topic's (a paper just above an old topic's floor belongs with the new
    subject it came with). Compared in the paper vectors, whose TF-IDF part carries the new
    subject's own terms."""
    if n_new == 0 or len(new) == 0:
        return
    centroids = group_centroids(vectors, topic_of, k + n_new)
    placed = new[(topic_of[new] >= 0) & (topic_of[new] < k)]
    if len(placed) == 0:
        return
    unit = vectors[placed] / np.linalg.norm(vectors[placed], axis=1, keepdims=True)
    sims = unit @ centroids.T
    own = sims[np.arange(len(placed)), topic_of[placed]]
    best = k + sims[:, k:].argmax(axis=1)
    closer = sims[np.arange(len(placed)), best] > own
    topic_of[placed[closer]] = best[closer]
