"""Cluster stage: reduced vectors -> topic assignments (-1 = unassigned).

HDBSCAN finds dense topics without being told how many there are; `leaf` selection keeps
fine-grained topics instead of collapsing the corpus into a few giant ones (what BERTopic's
`eom` default does on small corpora). HDBSCAN leaves many papers as noise (a quarter on the
benchmark corpora), so each run's outliers then join the topic most of their nearest clustered
papers are in, in the space that run clustered (a noise point belongs with its neighbourhood);
with several runs every one is placed, and the vote's leftovers take the topic whose centroid
they are most similar to in the full vector space; only the least similar ones (at most
`max_unassigned` of the corpus) stay unassigned. Against the centroid rule in every run this
raised topic ARI on the seeds and arXiv samples by 0.01 (docs/QUALITY.md).

On a few hundred papers the topics depend on UMAP's seed: on the seeds corpus two seeds'
topics agree at ARI 0.65 (bench/seed_stability.py). Small corpora are therefore clustered in
several UMAP spaces (seeds seed, seed+1, ...) and the runs are combined by majority vote:
papers share a topic when, on average over that topic, they were together in at least half of
the runs (evidence accumulation, Fred & Jain 2005). Two such 5-run results agree at ARI 0.73;
agreement with the hand labels is unchanged on average (docs/QUALITY.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.preprocessing import normalize

from taxonomy.tree import by_size, group_centroids, relabel

# Builds an HDBSCAN-like object (`fit_predict`) from (min_size, min_samples, selection).
ClustererFactory = Callable[[int, int, str], Any]

# Combining runs costs a UMAP fit per run and an n x n co-association matrix (4 bytes per pair,
# the average-linkage step 8 per pair over half of them): at 5,000 papers combine_runs took
# 1.2 s and 240 MiB of extra peak memory here.
# Above it one run: larger corpora vary less with the seed, and each extra fit costs minutes.
CONSENSUS_MAX_PAPERS = 5_000
CONSENSUS_RUNS = 5  # runs combined when `runs: auto` and the corpus is small enough
# Outliers join the topic of most of this many nearest clustered papers in the clustered space:
# UMAP's default neighbourhood (reduce.n_neighbors), the scale that space was built to keep.
OUTLIER_NEIGHBOURS = 15


def auto_min_size(n_papers: int) -> int:
    """Smallest topic size: grows like n^(2/3), so 500 papers give 5, 7.5k 32, 75k 151.

    HDBSCAN's leaf topics number roughly n / min_size, so the topic count then grows only like
    n^(1/3): ~40 topics for 500 papers, ~50-60 for 7.5k, ~100 for 75k; a square-root rule gave
    86 topics on 7.5k newsgroup posts and ~120 on 20k arXiv abstracts, too many to read.
    """
    return max(3, min(1000, round(0.085 * n_papers ** (2 / 3))))


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Topic ids 0..k-1 ordered by size (ties by first member), -1 kept."""
    return relabel(labels, by_size(labels))


def topic_centroids(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return group_centroids(vectors, labels, int(labels.max()) + 1 if len(labels) else 0)


def reassign_outliers(
    vectors: np.ndarray,
    labels: np.ndarray,
    max_unassigned: float,
    space: np.ndarray | None = None,
) -> np.ndarray:
    """Give outliers a topic, leaving at most `max_unassigned` unassigned.

    With `space` (the reduced space the labels were clustered in) an outlier joins the topic
    most of its OUTLIER_NEIGHBOURS nearest clustered papers there are in, as a density
    clustering's noise point belongs with its neighbourhood; without it, its most similar topic
    centroid in the full space. Papers kept unassigned are the outliers least similar to their
    topic's centroid, and only if they are less similar to it than 95 % of that topic's own
    members are.
    """
    labels = labels.copy()
    outliers = np.flatnonzero(labels < 0)
    if len(outliers) == 0 or labels.max() < 0:
        return labels
    unit = normalize(vectors)
    centroids = topic_centroids(unit, labels)
    sims = unit[outliers] @ centroids.T
    if space is None:
        best = sims.argmax(axis=1)
    else:
        best = _neighbour_vote(np.asarray(space), labels, outliers)
    best_sim = sims[np.arange(len(outliers)), best]
    member_sim = (unit * centroids[np.maximum(labels, 0)]).sum(axis=1)
    floor = {t: np.quantile(member_sim[labels == t], 0.05) for t in range(len(centroids))}
    below = np.array([s < floor[t] for s, t in zip(best_sim, best, strict=True)])
    budget = int(math.floor(max_unassigned * len(labels)))
    keep_out = set()
    if budget > 0:
        candidates = [i for i in np.argsort(best_sim, kind="stable") if below[i]]
        keep_out = set(candidates[:budget])
    for j, i in enumerate(outliers):
        if j not in keep_out:
            labels[i] = best[j]
    return labels


def _neighbour_vote(space: np.ndarray, labels: np.ndarray, outliers: np.ndarray) -> np.ndarray:
    """Per outlier: the topic most of its nearest clustered papers in `space` are in (ties to
    the lowest topic id)."""
    from sklearn.neighbors import NearestNeighbors

    clustered = np.flatnonzero(labels >= 0)
    k = min(OUTLIER_NEIGHBOURS, len(clustered))
    found = NearestNeighbors(n_neighbors=k).fit(space[clustered]).kneighbors(space[outliers])[1]
    votes = labels[clustered][found]
    n_topics = int(labels.max()) + 1
    counts = np.zeros((len(outliers), n_topics), np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(outliers)), k), votes.ravel()), 1)
    return counts.argmax(axis=1)


def cpu_hdbscan(min_size: int, min_samples: int, selection: str) -> Any:
    import hdbscan

    return hdbscan.HDBSCAN(
        min_cluster_size=min_size,
        min_samples=min_samples,
        cluster_selection_method=selection,
        core_dist_n_jobs=1,  # deterministic and CI-friendly; the data is low-dimensional
    )


def consensus_runs(n_papers: int, runs: int | str) -> int:
    """How many clustering runs to combine: `runs`, or for `auto` CONSENSUS_RUNS on corpora up
    to CONSENSUS_MAX_PAPERS (larger ones vary less with the seed and would need a huge matrix)."""
    if n_papers > CONSENSUS_MAX_PAPERS:
        return 1
    return CONSENSUS_RUNS if runs == "auto" else int(runs)


def combine_runs(runs: list[np.ndarray], min_size: int) -> np.ndarray:
    """Majority-vote topics from several labelings of the same papers (-1 = noise in a run).

    Average-linkage clustering of 1 - co-association (the share of runs in which two papers
    share a topic), cut at 0.5; groups smaller than `min_size` become outliers (-1).
    """
    from scipy.cluster.hierarchy import fcluster

    groups = fcluster(co_association_tree(runs), t=0.5, criterion="distance") - 1
    sizes = np.bincount(groups)
    return _relabel_by_size(np.where(sizes[groups] >= min_size, groups, -1))


def co_association_tree(labelings: list[np.ndarray]) -> np.ndarray:
    """Average-linkage tree (scipy) of 1 - co-association: the share of the labelings in which
    two papers share a label (-1: none). The topics' seed vote and the consensus themes cut it."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    n = len(labelings[0])
    distance = np.zeros((n, n), np.float32)  # first the co-association counts, then in place
    for labels in labelings:
        distance += (labels[:, None] == labels[None, :]) & (labels[:, None] >= 0)
    distance *= -1.0 / len(labelings)
    distance += 1.0
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False).astype(np.float64)
    del distance
    return linkage(condensed, method="average")


def cluster_vectors(
    space: np.ndarray,
    vectors: np.ndarray,
    *,
    min_size: int | None = None,
    selection: str = "leaf",
    max_unassigned: float = 0.02,
    make_clusterer: ClustererFactory | None = None,
    extra_spaces: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """Topic id per paper (0 = largest topic, -1 = unassigned).

    `make_clusterer(min_size, min_samples, selection)` builds the HDBSCAN object (an object
    with `fit_predict`); the default is the CPU `hdbscan` package (cuML's is the GPU one).
    `extra_spaces` (the same papers reduced with other seeds) are clustered too and all runs
    are combined by majority vote (`combine_runs`).
    """
    n = len(space)
    min_size = min_size or auto_min_size(n)
    if n < 2 * min_size:  # too few papers to split: one topic
        return np.zeros(n, dtype=np.int64)
    runs, all_spaces = [], [space, *extra_spaces]
    # Each run's outliers join their neighbourhood's topic in that run's space; with several
    # runs every one is placed (the runs only feed the vote) and the unassigned share is
    # applied once, to the combined topics.
    budget = max_unassigned if len(all_spaces) == 1 else 0.0
    for one_space in all_spaces:
        clusterer = (make_clusterer or cpu_hdbscan)(min_size, max(1, min_size // 2), selection)
        labels = np.asarray(clusterer.fit_predict(np.asarray(one_space, np.float64)))
        if labels.max() >= 0:
            runs.append(reassign_outliers(vectors, labels, budget, one_space))
    if not runs:
        return np.zeros(n, dtype=np.int64)
    labels = runs[0] if len(runs) == 1 else combine_runs(runs, min_size)
    if labels.max() < 0:
        return np.zeros(n, dtype=np.int64)
    labels = reassign_outliers(vectors, labels, max_unassigned)
    return _relabel_by_size(labels)


@dataclass(frozen=True)
class TopicFit:
    topic_of: np.ndarray  # topic per fitted paper (0 = largest, -1 = unassigned)
    min_size: int  # the smallest topic size used: later stages (seed themes) use the same


def resolve_min_size(setting: int | str, n_fitted: int) -> int:
    """`cluster.min_size`, with `auto` resolved for the number of papers actually clustered."""
    return auto_min_size(n_fitted) if setting == "auto" else int(setting)


def fit_topics(
    spaces: Sequence[np.ndarray],
    vectors: np.ndarray,
    settings: Any,
    make_clusterer: ClustererFactory | None = None,
) -> TopicFit:
    """Topics of the papers reduced into `spaces` (the first, plus any for the seed vote) under
    the `cluster` settings; `vectors` are the same papers in the full space."""
    min_size = resolve_min_size(settings.min_size, len(vectors))
    topic_of = cluster_vectors(
        spaces[0],
        vectors,
        min_size=min_size,
        selection=settings.selection,
        max_unassigned=settings.max_unassigned,
        make_clusterer=make_clusterer,
        extra_spaces=list(spaces[1:]),
    )
    return TopicFit(topic_of, min_size)
