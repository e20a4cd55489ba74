"""Seed themes: user-named themes that guide the clustering where the papers support them.

How a seed ("KV cache", keywords [key-value cache], optional description) becomes a topic:
  1. Evidence: papers whose title/abstract contains the seed's name or one of its keywords as a
     whole phrase (case-insensitive), and whose sentence embedding is at least as similar to
     the embedded seed text (name. description. keywords) as the corpus median paper is. The
     second condition drops papers that only mention the phrase in passing.
  2. Nearby topics: a fitted topic at least half of whose papers are evidence joins the seed
     whole (it is the same theme under another name).
  3. The seed topic = those topics plus the evidence papers elsewhere that are closer to the
     seed topic's centroid than to their own topic's (a paper that merely uses distillation
     as a tool stays with its subject). Without such topics, it is all the evidence papers.
     It is created only if it has at least `min_support` papers (the clusterer's smallest
     topic size); otherwise the seed is reported as unsupported and the clustering is left
     alone.
Seeds are applied in file order; a paper already taken by an earlier seed stays there. The seed
topic is labelled with the seed name and then treated like any other topic (ids, hierarchy).
Short seed texts embed far from whole abstracts (cosine ~0.2-0.5 with MiniLM), so an absolute
similarity cut-off (BERTopic's zero-shot default is 0.7) would accept nothing; hence the
phrase evidence filtered by a corpus-relative similarity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import normalize

from taxonomy.curate.edits import Seed
from taxonomy.tree import group_centroids, relabel

NEARBY_TOPIC_SHARE = 0.5


@dataclass
class SeedOutcome:
    name: str
    papers: int  # size of the seed topic, or of its evidence when unsupported
    supported: bool


def seed_text(seed: Seed) -> str:
    """What is embedded for a seed."""
    parts = [seed.name, seed.description.strip(), ", ".join(seed.keywords)]
    return ". ".join(p for p in parts if p)


def phrase_matches(texts: list[str], phrases: list[str]) -> np.ndarray:
    pattern = re.compile(
        "|".join(rf"(?<!\w){re.escape(p.lower())}(?!\w)" for p in phrases if p.strip())
    )
    return np.array([bool(pattern.search(t.lower())) for t in texts], dtype=bool)


def apply_seeds(
    topic_of: np.ndarray,
    embeddings: np.ndarray,
    texts: list[str],
    seeds: list[Seed],
    seed_vectors: np.ndarray,
    min_support: int,
    *,
    held: dict[int, str] | None = None,
    compact: bool = True,
) -> tuple[np.ndarray, dict[int, str], list[SeedOutcome]]:
    """(new topic per paper, seed name by topic index, outcome per seed).

    `held`: seed topics that exist already (by index); their papers are not taken again and
    their names are returned too. With `compact`, topics a seed emptied are dropped and the
    rest renumbered in order; without, new topics are numbered after the existing ones.
    """
    topic_of = topic_of.copy()
    names: dict[int, str] = dict(held or {})
    outcomes: list[SeedOutcome] = []
    claimed = np.isin(topic_of, list(names))
    unit = normalize(np.asarray(embeddings, np.float32))
    for seed, vector in zip(seeds, seed_vectors, strict=True):
        similarity = unit @ vector
        evidence = phrase_matches(texts, [seed.name, *seed.keywords])
        evidence &= similarity >= np.median(similarity)
        evidence &= ~claimed
        core = np.zeros_like(evidence)
        for t in sorted(set(topic_of[evidence & (topic_of >= 0)].tolist())):
            members = (topic_of == t) & ~claimed
            if evidence[members].mean() >= NEARBY_TOPIC_SHARE:
                core |= members
        support = core | evidence
        if core.any():
            # The seed already has a home: other papers join only if closer to it than to
            # their own topic (papers that merely use the technique stay where they are).
            prototype = normalize(unit[core].mean(axis=0, keepdims=True))[0]
            own = _own_topic_similarity(unit, topic_of)
            support = core | (evidence & (unit @ prototype > own))
        if support.sum() < min_support:
            outcomes.append(SeedOutcome(seed.name, int(support.sum()), False))
            continue
        new = max(int(topic_of.max()), *names, -1) + 1
        topic_of[support] = new
        claimed |= support
        names[new] = seed.name
        outcomes.append(SeedOutcome(seed.name, int(support.sum()), True))
    if not compact:
        return topic_of, names, outcomes
    used = sorted(set(topic_of[topic_of >= 0].tolist()))
    new_index = {t: i for i, t in enumerate(used)}
    names = {new_index[t]: name for t, name in names.items() if t in new_index}
    return relabel(topic_of, used), names, outcomes


def _own_topic_similarity(unit: np.ndarray, topic_of: np.ndarray) -> np.ndarray:
    """Cosine of each paper to its topic's centroid (-1 for unassigned papers)."""
    own = np.full(len(unit), -1.0)
    centroids = group_centroids(unit, topic_of, int(topic_of.max()) + 1)
    for t in np.unique(topic_of[topic_of >= 0]):
        members = topic_of == t
        own[members] = unit[members] @ centroids[t]
    return own
