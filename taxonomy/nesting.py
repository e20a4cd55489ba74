"""Themes refined on the papers, and every topic nested in one theme (`hierarchy.fit_themes`).

The themes grouped from the topic graph (`hierarchy.group_topics`) are refined on the papers
(`refine_themes`): k-means of the paper vectors started from the themes' centroids moves papers
on a border to the theme they are closest to. The topics are then nested in the result
(`nest_topics`): a topic's papers in another theme form a topic there, or, when too few, join
the topic of that theme most of their neighbours are in (`_place_strays`; without such
neighbours, the nearest centroid: `placement.assign_to_centroids`). A topic that straddles two
fields no longer drags its minority into the wrong theme: on the arXiv samples theme NMI rose
by about 0.04 at the same count. docs/QUALITY.md has the measurements.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize

from taxonomy.placement import assign_to_centroids
from taxonomy.reduce import exact_knn
from taxonomy.tree import group_centroids

# Nearest neighbours per paper: the topic graph's links (hierarchy) and a stray paper's voters.
NEIGHBOURS = 15
# Papers outside a large corpus's sample join their nearest theme this many at a time.
PREDICT_BLOCK = 100_000


def refine_themes(
    papers: np.ndarray,
    topic_of: np.ndarray,
    theme_of_topic: np.ndarray,
    sample: np.ndarray | None = None,
) -> np.ndarray:
    """Theme per paper (-1 for unassigned papers): k-means of the papers' unit vectors started
    from the themes' centroids, so a paper on the border of two themes joins the one it is
    closest to, whichever theme its topic went to. With `sample` (a large corpus's fitted
    papers) k-means is fitted on those and the other papers join their nearest theme."""
    keep = topic_of >= 0
    fitted = keep.copy()
    if sample is not None:
        fitted[:] = False
        fitted[sample] = True
        fitted &= keep
    unit = normalize(papers[fitted])
    start = theme_of_topic[topic_of[fitted]]
    n_themes = int(theme_of_topic.max()) + 1
    if n_themes < 2 or len(unit) <= n_themes or len(np.unique(start)) < n_themes:
        return np.where(keep, theme_of_topic[np.maximum(topic_of, 0)], -1)
    # The plain mean (not group_centroids' unit one): k-means starts from the themes' means.
    init = np.stack([unit[start == j].mean(axis=0) for j in range(n_themes)])
    model = KMeans(n_clusters=n_themes, init=init, n_init=1, random_state=0).fit(unit)
    out = np.full(len(topic_of), -1, dtype=np.int64)
    out[fitted] = model.labels_
    rest = np.flatnonzero(keep & ~fitted)
    for start_row in range(0, len(rest), PREDICT_BLOCK):  # no corpus-sized copy at once
        rows = rest[start_row : start_row + PREDICT_BLOCK]
        out[rows] = model.predict(normalize(papers[rows]))
    return out


def nest_topics(
    papers: np.ndarray,
    topic_of: np.ndarray,
    paper_theme: np.ndarray,
    min_size: int,
    fixed: frozenset[int] = frozenset(),
    sample: np.ndarray | None = None,
    neighbours: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(topic per paper, theme per topic) with every topic inside one theme.

    A topic keeps its id and its papers in the theme most of them joined (refine_themes); its
    papers in another theme form a new topic there when they number `min_size` or more, and
    otherwise move to a topic of their own theme (_place_strays). Topics in `fixed` (seed
    themes) are kept whole under their majority theme and receive no papers. `neighbours`: the
    fitted papers' k-NN graph (indices into `sample` or all, itself first), when searched.
    """
    topic_of = topic_of.copy()
    n_topics = int(topic_of.max()) + 1
    owner, strays = [0] * n_topics, []
    for t in range(n_topics):
        members = np.flatnonzero(topic_of == t)
        if len(members) == 0:
            continue
        parts, counts = np.unique(paper_theme[members], return_counts=True)
        owner[t] = int(parts[np.argmax(counts)])
        if t in fixed:
            continue
        for part, count in zip(parts, counts, strict=True):
            moved = members[paper_theme[members] == part]
            if part == owner[t]:
                continue
            if count >= min_size:
                topic_of[moved] = len(owner)
                owner.append(int(part))
            else:
                strays.append(moved)
    owner_arr = np.array(owner, dtype=np.int64)
    if strays:
        strays_all = np.concatenate(strays)
        _place_strays(
            papers, topic_of, paper_theme, owner_arr, strays_all, fixed, sample, neighbours
        )
    return topic_of, owner_arr


def _place_strays(
    papers: np.ndarray,
    topic_of: np.ndarray,
    paper_theme: np.ndarray,
    owner: np.ndarray,
    strays: np.ndarray,
    fixed: frozenset[int],
    sample: np.ndarray | None = None,
    graph: np.ndarray | None = None,
) -> None:
    """Move each stray paper (in place) to the topic of its theme that most of its NEIGHBOURS
    nearest settled papers of that theme are in; without such neighbours, to the topic of its
    theme (or any open topic) with the most similar centroid. With `sample` (a large corpus's
    fitted papers) the neighbours are sampled papers, and strays outside the sample take the
    centroid rule, as every paper outside the fit is placed (taxonomy.placement)."""
    index = np.arange(len(papers)) if sample is None else np.asarray(sample)
    unit = normalize(papers[index])
    position = np.full(len(papers), -1, dtype=np.int64)
    position[index] = np.arange(len(index))
    is_open = np.array([t not in fixed for t in range(len(owner))])
    settled = topic_of.copy()
    settled[strays] = -1
    voters = strays[position[strays] >= 0]
    neighbours: dict[int, np.ndarray] = {}
    if len(voters):  # (with a sample, every stray may lie outside it)
        k = min(NEIGHBOURS + 1, len(unit))
        if (
            graph is not None
            and graph.ndim == 2
            and len(graph) == len(unit)
            and graph.shape[1] >= k
        ):
            found = graph[position[voters], :k]  # the reduce stage's (exact) graph
        else:
            found = exact_knn(unit, k, rows=position[voters])[0]
        neighbours = dict(zip(voters.tolist(), index[found], strict=True))
    unplaced = []
    for i in strays:
        votes = settled[neighbours[i]] if i in neighbours else np.zeros(0, np.int64)
        votes = votes[votes >= 0]
        votes = votes[(owner[votes] == paper_theme[i]) & is_open[votes]]
        if len(votes):
            topic_of[i] = np.bincount(votes).argmax()
        else:
            unplaced.append(i)
    if unplaced:
        centroids = group_centroids(unit, settled[index], len(owner))
        _nearest_open_topic(papers, topic_of, paper_theme, owner, is_open, centroids, unplaced)


def _nearest_open_topic(
    papers: np.ndarray,
    topic_of: np.ndarray,
    paper_theme: np.ndarray,
    owner: np.ndarray,
    is_open: np.ndarray,
    centroids: np.ndarray,
    rows: list[int],
) -> None:
    """Each of `rows` (in place) to the open topic of its theme (or, when its theme has none,
    of any theme) with the most similar centroid: the placement rule among those topics."""
    rows_arr = np.asarray(rows, dtype=np.int64)
    for theme in np.unique(paper_theme[rows_arr]):
        mine = rows_arr[paper_theme[rows_arr] == theme]
        hosts = np.flatnonzero((owner == theme) & is_open)
        if len(hosts) == 0:
            hosts = np.flatnonzero(is_open)
        topic_of[mine] = hosts[assign_to_centroids(papers[mine], centroids[hosts])[0]]
