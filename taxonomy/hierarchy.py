"""Hierarchy stage: topics -> broad themes (spectral clustering of a topic graph).

Topics are joined into themes by how often their papers are each other's nearest neighbours:
the affinity of two topics is the number of k-nearest-neighbour links between their papers,
normalised by the topics' sizes (so a large topic does not attract everything), and themes
are a spectral clustering of that graph. Following the papers' neighbourhoods instead of the
topic centroids keeps a theme on one region of the field: on the seeds the largest theme held
up to 39 % of the papers with size-weighted k-means of centroids and at most 20 % here.

The number of themes is the one whose grouping is most reproducible: the graph is built again
from random halves of the papers, each half is clustered, and the count whose halves agree
best (size-weighted ARI over topics) wins, among MIN_FANOUT * sqrt(#topics)..MAX_FANOUT *
sqrt(#topics) (a smaller count from sqrt(#topics) up only when its halves agree almost
perfectly: fields that do not touch); among near-ties, the one whose grouping of the whole
graph has the highest modularity. A theme still holding more than MAX_THEME_SHARE of the
papers is then split in two, so no theme swallows the field.

The themes are then refined on the papers and the topics nested in them (fit_themes, with
`taxonomy/nesting.py`): a paper on a border joins the theme it is closest to, and a topic that
straddles two themes is split between them.
One k-means run depends on where it starts (on the arXiv samples a k-means++ start often
scored better than the graph's grouping, on the seeds worse), so the papers' themes are the
consensus of the refinements started from the whole graph's grouping and from those of the
random halves the count was chosen on (consensus_themes): +0.01 to +0.02 theme NMI on the
arXiv samples, the same on the seeds. docs/QUALITY.md has the measurements.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import normalize

from taxonomy.cluster import auto_min_size, co_association_tree
from taxonomy.nesting import NEIGHBOURS, PREDICT_BLOCK, nest_topics, refine_themes
from taxonomy.reduce import exact_knn
from taxonomy.tree import Taxonomy, group_centroids

# Papers used to build the topic graph: a seeded sample keeps the cost flat on large corpora.
GRAPH_SAMPLE = 4000
# Theme counts considered: sqrt(#topics) .. MAX_FANOUT * sqrt(#topics) (40 topics: 6-16;
# 300 topics: 17-43). Below sqrt(#topics), half-samples agree on the field's coarsest split
# (arXiv: two halves of computer science) and prefer it to any reading level.
MAX_FANOUT = 2.5
# Below MIN_FANOUT * sqrt(#topics) (40 topics: 13) the halves still agree best on coarse
# splits of a field (arXiv: 6-8 themes for 11-12 categories, 20 Newsgroups: 7 for 20), so a
# count there is taken only when its halves agree at CLEAR_SPLIT or more: separate fields.
MIN_FANOUT = 2.0
CLEAR_SPLIT = 0.95
# Random halves of the papers the count's reproducibility is measured on.
STABILITY_HALVES = 4
# Counts whose reproducibility is within this of the best count's are near-ties.
STABILITY_TIE = 0.02
# A theme with more than this share of the assigned papers (and 2+ topics) is split in two
# when the count is chosen automatically.
MAX_THEME_SHARE = 0.25
# Weight of the centroid cosine kernel added to the graph: it only keeps topics without
# neighbour links (tiny or unsampled ones) attached to their nearest themes.
CENTROID_WEIGHT = 1e-3
# Refine the themes on the papers and nest the topics in them (fit_themes).
REFINE = True


def _kmeans(centroids: np.ndarray, sizes: np.ndarray, n_themes: int, seed: int) -> np.ndarray:
    model = KMeans(n_clusters=n_themes, n_init=10, random_state=seed)
    return model.fit(centroids, sample_weight=np.maximum(sizes, 1)).labels_


def _largest_first(assignment: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Themes renumbered by total papers (largest first), ties by smallest topic id."""
    themes = sorted(
        set(assignment), key=lambda t: (-sizes[assignment == t].sum(), np.argmax(assignment == t))
    )
    mapping = {old: new for new, old in enumerate(themes)}
    return np.array([mapping[t] for t in assignment], dtype=np.int64)


def split_topics(centroids: np.ndarray, sizes: np.ndarray, n_groups: int, seed: int) -> np.ndarray:
    """Exactly `n_groups` groups of topics (0 = most papers): spectral clustering of the
    centroids' cosine graph, as the theme level groups topics. Used to split a theme on
    request (the papers are not at hand there, so the graph comes from the centroids)."""
    sizes = np.asarray(sizes)
    if n_groups >= len(centroids):
        return _largest_first(np.arange(len(centroids)), sizes)
    graph = _centroid_graph(normalize(centroids))
    return _largest_first(_spectral(graph, n_groups, seed), sizes)


def _centroid_graph(unit: np.ndarray) -> np.ndarray:
    return np.maximum(unit @ unit.T, 0.0) ** 4


def _neighbour_graph(papers: np.ndarray, topic_of: np.ndarray, n_topics: int) -> np.ndarray:
    """Topic x topic count of k-nearest-neighbour links between their papers, divided by
    sqrt(size_i * size_j) of the papers given."""
    graph = np.zeros((n_topics, n_topics))
    keep = topic_of >= 0
    papers, topic_of = papers[keep], topic_of[keep]
    if len(papers) < 3:
        return graph
    k = min(NEIGHBOURS, len(papers) - 1)
    neighbours = exact_knn(papers, k + 1)[0][:, 1:]
    np.add.at(graph, (np.repeat(topic_of, k), topic_of[neighbours.ravel()]), 1.0)
    graph = graph + graph.T
    np.fill_diagonal(graph, 0.0)
    sizes = np.maximum(np.bincount(topic_of, minlength=n_topics), 1)
    return graph / np.sqrt(np.outer(sizes, sizes))


def _spectral(graph: np.ndarray, n_groups: int, seed: int) -> np.ndarray:
    if n_groups <= 1:
        return np.zeros(len(graph), dtype=np.int64)
    model = SpectralClustering(
        n_clusters=n_groups, affinity="precomputed", assign_labels="cluster_qr", random_state=seed
    )
    with warnings.catch_warnings():  # small graphs: scipy's dense solver instead (expected)
        warnings.filterwarnings("ignore", message="k >= N", category=RuntimeWarning)
        return model.fit(graph + 1e-9).labels_.astype(np.int64)


def _graph(
    papers: np.ndarray, topic_of: np.ndarray, unit: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    graph = _neighbour_graph(papers[rows], topic_of[rows], len(unit))
    scale = graph.max() if graph.max() > 0 else 1.0
    return graph + CENTROID_WEIGHT * scale * _centroid_graph(unit)


def _sample_rows(topic_of: np.ndarray, seed: int) -> np.ndarray:
    rows = np.flatnonzero(topic_of >= 0)
    if len(rows) > GRAPH_SAMPLE:
        rows = np.sort(np.random.RandomState(seed).permutation(rows)[:GRAPH_SAMPLE])
    return rows


def _count_range(n_topics: int) -> range:
    """Theme counts considered: sqrt(#topics) .. MAX_FANOUT * sqrt(#topics)."""
    high = max(2, min(n_topics - 1, round(MAX_FANOUT * math.sqrt(n_topics))))
    return range(min(high, max(2, round(math.sqrt(n_topics)))), high + 1)


def _reproducibility(
    papers: np.ndarray, topic_of: np.ndarray, unit: np.ndarray, sizes: np.ndarray, seed: int
) -> dict[int, float]:
    """Per theme count: how well groupings of random halves of the papers agree."""
    rows = _sample_rows(topic_of, seed)
    rng = np.random.RandomState(seed)
    halves = []
    for _ in range(STABILITY_HALVES):
        perm = rng.permutation(rows)
        a, b = np.sort(perm[: len(perm) // 2]), np.sort(perm[len(perm) // 2 :])
        halves.append((_graph(papers, topic_of, unit, a), _graph(papers, topic_of, unit, b)))
    weights = np.maximum(sizes, 1)
    scores = {}
    for n in _count_range(len(unit)):
        agree = [
            adjusted_rand_score(
                np.repeat(_spectral(ga, n, seed), weights),
                np.repeat(_spectral(gb, n, seed), weights),
            )
            for ga, gb in halves
        ]
        scores[n] = float(np.mean(agree))
    return scores


def choose_count(
    papers: np.ndarray, topic_of: np.ndarray, unit: np.ndarray, sizes: np.ndarray, seed: int
) -> int:
    """The theme count whose grouping random halves of the papers reproduce best, among
    MIN_FANOUT * sqrt(#topics) and more, unless a smaller count is reproduced at CLEAR_SPLIT
    (fields that do not touch); near-ties go to the best modularity."""
    scores = _reproducibility(papers, topic_of, unit, sizes, seed)
    floor = round(MIN_FANOUT * math.sqrt(len(unit)))
    clear = {n: s for n, s in scores.items() if n < floor and s >= CLEAR_SPLIT}
    usual = {n: s for n, s in scores.items() if n >= floor}
    scores = clear or usual or scores
    best = max(scores.values())
    ties = [n for n, s in scores.items() if s >= best - STABILITY_TIE]
    if len(ties) == 1:
        return ties[0]
    full = _graph(papers, topic_of, unit, _sample_rows(topic_of, seed))
    return max(ties, key=lambda n: (modularity(full, _spectral(full, n, seed)), -n))


def modularity(graph: np.ndarray, groups: np.ndarray) -> float:
    """Newman's modularity of a grouping of a weighted graph's nodes."""
    total = graph.sum()
    if total <= 0:
        return 0.0
    degree = graph.sum(axis=1)
    return float(
        sum(
            graph[np.ix_(groups == g, groups == g)].sum() / total
            - (degree[groups == g].sum() / total) ** 2
            for g in np.unique(groups)
        )
    )


def _cap_sizes(
    assignment: np.ndarray, graph: np.ndarray, sizes: np.ndarray, seed: int
) -> np.ndarray:
    """Split in two, largest first, any theme over MAX_THEME_SHARE of the papers."""
    assignment = assignment.copy()
    total = max(int(sizes.sum()), 1)
    limit = MAX_THEME_SHARE * total
    for _ in range(len(sizes)):
        themes = np.unique(assignment)
        papers = np.array([sizes[assignment == t].sum() for t in themes])
        big = themes[int(np.argmax(papers))]
        members = np.flatnonzero(assignment == big)
        if papers.max() <= limit or len(members) < 2:
            break
        sub = graph[np.ix_(members, members)]
        halves = _spectral(sub, 2, seed)
        if len(set(halves)) < 2:
            break
        assignment[members[halves == 1]] = assignment.max() + 1
    return assignment


def group_topics(
    centroids: np.ndarray,
    sizes: np.ndarray,
    n_themes: int | None = None,
    *,
    papers: np.ndarray | None = None,
    topic_of: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Theme id (0 = largest theme by papers) for each topic.

    With `papers` (vectors) and `topic_of` (their topic, -1 none) the topic graph links
    topics whose papers are neighbours; without them it is the centroids' cosine graph.
    `n_themes` None chooses the count (choose_count; from the centroid graph: the count
    whose spectral clustering has the best size-weighted silhouette of the centroids) and
    splits themes over MAX_THEME_SHARE; a given count is kept.
    """
    k = len(centroids)
    sizes = np.asarray(sizes)
    if k <= 3:
        return np.zeros(k, dtype=np.int64)
    unit = normalize(centroids)
    with_papers = papers is not None and topic_of is not None
    if with_papers:
        graph = _graph(papers, topic_of, unit, _sample_rows(topic_of, seed))
    else:
        graph = _centroid_graph(unit)
    auto = n_themes is None
    if auto:
        if with_papers:
            n_themes = choose_count(papers, topic_of, unit, sizes, seed)
        else:
            n_themes = _centroid_count(unit, graph, sizes, seed)
    n_themes = min(n_themes, k)
    if n_themes >= k:
        return _largest_first(np.arange(k), sizes)
    if connected_components(graph > 0)[0] > n_themes:
        assignment = _kmeans(unit, sizes, n_themes, seed)  # too few links for a graph cut
    else:
        assignment = _spectral(graph, n_themes, seed)
    if auto:  # an asked-for count is kept as it is
        assignment = _cap_sizes(assignment, graph, sizes, seed)
    return _largest_first(assignment, sizes)


def _centroid_count(unit: np.ndarray, graph: np.ndarray, sizes: np.ndarray, seed: int) -> int:
    from sklearn.metrics import silhouette_score

    best, best_score = 2, -np.inf
    weights = np.maximum(sizes, 1)
    for n in _count_range(len(unit)):
        assignment = _spectral(graph, n, seed)
        if len(set(assignment)) < 2:
            continue
        score = silhouette_score(
            np.repeat(unit, weights, axis=0), np.repeat(assignment, weights), metric="cosine"
        )
        if score > best_score + 1e-9:
            best, best_score = n, score
    return best


def consensus_themes(
    papers: np.ndarray,
    topic_of: np.ndarray,
    theme_of_topic: np.ndarray,
    seed: int,
    sample: np.ndarray | None = None,
) -> np.ndarray:
    """Theme per paper (-1 for unassigned papers): the consensus of the refined themes started
    from the whole topic graph's grouping and from the groupings of STABILITY_HALVES pairs of
    random halves of the papers (the halves choose_count compares), at the same count.

    Papers that share a theme in most of these refinements share one here (evidence
    accumulation, as the topics' seed vote: average linkage on 1 - co-association, cut at the
    count), on the graph's sample of papers; a group smaller than the smallest topic is not a
    theme, and its papers and those outside the sample join the theme whose sampled members
    they are most often grouped with. One refinement depends on where k-means starts; the
    consensus does not."""
    from scipy.cluster.hierarchy import fcluster

    n_themes = int(theme_of_topic.max()) + 1
    n_topics = len(theme_of_topic)
    unit = normalize(group_centroids(papers, topic_of, n_topics))
    rows = _sample_rows(topic_of, seed)
    parts = [refine_themes(papers, topic_of, theme_of_topic, sample)]
    # The other refinements only vote on the graph's sample: fitted on it (above GRAPH_SAMPLE
    # papers; 20,000 papers: 25 s -> ~5 s), the other papers take their nearest centroid.
    voters = rows if len(rows) < np.count_nonzero(topic_of >= 0) else sample
    rng = np.random.RandomState(seed)
    for _ in range(STABILITY_HALVES):
        perm = rng.permutation(rows)
        for half in (np.sort(perm[: len(perm) // 2]), np.sort(perm[len(perm) // 2 :])):
            grouping = _spectral(_graph(papers, topic_of, unit, half), n_themes, seed)
            if len(set(grouping)) == n_themes:
                parts.append(refine_themes(papers, topic_of, grouping, voters))
    if len(parts) == 1 or len(rows) <= n_themes:
        return parts[0]
    tree = co_association_tree([part[rows] for part in parts])
    groups = fcluster(tree, n_themes, criterion="maxclust") - 1
    sizes = np.bincount(groups)
    kept = np.flatnonzero(sizes >= auto_min_size(len(rows)))
    if len(kept) < 2:
        return parts[0]
    out = np.full(len(topic_of), -1, dtype=np.int64)
    out[rows] = np.searchsorted(kept, groups)
    out[rows[~np.isin(groups, kept)]] = -1
    # Papers outside the sample or in a dropped group: the kept group whose sampled members
    # share their theme most often, over the refinements.
    settled = rows[out[rows] >= 0]
    members = out[settled]
    place = np.flatnonzero((topic_of >= 0) & (out < 0))
    shares = []  # per refinement: [kept group, its theme] share of the group's members
    for part in parts:
        share = np.zeros((len(kept), int(part.max()) + 1))
        np.add.at(share, (members, part[settled]), 1.0)
        shares.append(share / np.maximum(share.sum(axis=1, keepdims=True), 1.0))
    for start in range(0, len(place), PREDICT_BLOCK):
        block = place[start : start + PREDICT_BLOCK]
        score = np.zeros((len(block), len(kept)))
        for part, share in zip(parts, shares, strict=True):
            score += share[:, part[block]].T
        out[block] = score.argmax(axis=1)
    return out


def fit_themes(
    topic_of: np.ndarray,
    vectors: np.ndarray,
    settings: Any,
    seed: int,
    topic_names: Mapping[int, str] | None = None,
    sample: np.ndarray | None = None,
    neighbours: np.ndarray | None = None,
) -> Taxonomy:
    """The fitted two-level taxonomy: topics as clustered, grouped into themes under the
    `hierarchy` settings. Ids are positional until the curate stage matches them to the
    previous run's; `topic_names` (seed themes) become the topics' fixed labels.

    The themes (group_topics) are then refined on the papers (consensus_themes of several
    refine_themes starts) and the topics nested in them (nest_topics): topics that straddle
    two themes are split between them.
    `sample`: a large corpus's fitted papers, on which the refinement is fitted; `neighbours`:
    their k-NN graph if the reduce stage has it (nest_topics)."""
    n_topics = int(topic_of.max()) + 1
    centroids = group_centroids(vectors, topic_of, n_topics)
    sizes = np.bincount(topic_of[topic_of >= 0], minlength=n_topics)
    n_themes = None if settings.n_themes == "auto" else settings.n_themes
    theme_of_topic = group_topics(
        centroids, sizes, n_themes, papers=vectors, topic_of=topic_of, seed=seed
    )
    if REFINE and len(set(theme_of_topic)) > 1:
        paper_theme = consensus_themes(vectors, topic_of, theme_of_topic, seed, sample)
        shares = np.bincount(paper_theme[paper_theme >= 0]) / max(int(sizes.sum()), 1)
        if n_themes is not None or shares.max() <= MAX_THEME_SHARE:
            topic_of, owner = nest_topics(
                vectors,
                topic_of,
                paper_theme,
                auto_min_size(int(sizes.sum())),
                frozenset(topic_names or {}),
                sample,
                neighbours,
            )
            counts = np.bincount(topic_of[topic_of >= 0], minlength=len(owner))
            theme_of_topic = _largest_first(owner, counts)
    labels = {f"topic-{t + 1}": name for t, name in (topic_names or {}).items()}
    return Taxonomy.numbered(topic_of, theme_of_topic, labels)
