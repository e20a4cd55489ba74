"""Curation stage: the user's edits (configs/taxonomy.yaml), stable ids, and run-to-run changes.

Where each edit acts in a run, in order:
  1. exclude (papers, sources)  — right after ingest: excluded papers are never embedded/fitted
  2. seeds                      — right after clustering: seed topics (see `seeds`)
  3. ids                        — the clustered topics/themes are matched to the previous run's
                                  (`ids`), so the edits below can name them
  4. delete, merge, split, move, pin, rename — on the matched taxonomy (`apply`)
  5. labels                     — renamed, merged-with-label and seed nodes keep the user's name;
                                  other nodes that kept their id and members keep their label
Every function here maps plain data to plain data; the pipeline only wires them together, and
nothing here ever writes the curation file.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch

import numpy as np

from taxonomy.cluster import topic_centroids
from taxonomy.curate.apply import Draft, apply_edits, find_paper, paper_lookup
from taxonomy.curate.edits import Edits, load_curation
from taxonomy.curate.ids import NodeRecord, RunState, kept_labels, match_ids, record
from taxonomy.label import LABELLER_VERSION
from taxonomy.models import Corpus

__all__ = [
    "Curated",
    "Draft",
    "Edits",
    "exclude_papers",
    "identify_and_edit",
    "load_curation",
    "node_records",
    "preset_labels",
    "settle_labels",
]


def exclude_papers(corpus: Corpus, edits: Edits) -> Corpus:
    """The corpus without the excluded papers and sources (each must name something)."""
    spec = edits.spec.exclude
    drop: set[int] = set()
    lookup = paper_lookup(corpus)
    for i, ref in enumerate(spec.papers):
        found = find_paper(lookup, ref)
        if not found:
            raise edits.fail(f"exclude.papers[{i}]", f"unknown paper {ref!r} (not in the input)")
        drop.update(found)
    for i, pattern in enumerate(spec.sources):
        hits = [k for k, p in enumerate(corpus.papers) if fnmatch(p.source, pattern)]
        if not hits:
            raise edits.fail(f"exclude.sources[{i}]", f"no input file named {pattern!r}")
        drop.update(hits)
    if not drop:
        return corpus
    papers = [p for k, p in enumerate(corpus.papers) if k not in drop]
    if not papers:
        raise edits.fail("exclude", "every paper is excluded")
    return Corpus(papers=papers, n_records=corpus.n_records)


@dataclass
class Curated:
    draft: Draft  # the taxonomy after the user's edits, with stable ids
    raw_topics: list[NodeRecord]  # as clustered (before edits), for the next run's matching
    raw_themes: list[NodeRecord]
    next_id: dict[str, int]


def _members(groups: np.ndarray, k: int, paper_ids: list[str]) -> list[list[str]]:
    return [[paper_ids[i] for i in np.flatnonzero(groups == g)] for g in range(k)]


def identify_and_edit(
    topic_of: np.ndarray,
    theme_of_topic: np.ndarray,
    seed_names: dict[int, str],
    corpus: Corpus,
    embeddings: np.ndarray,
    vectors: np.ndarray,
    edits: Edits,
    previous: RunState | None,
) -> Curated:
    """Give the clustered nodes stable ids, then apply the id-based edits."""
    paper_ids = [p.id for p in corpus.papers]
    k = int(topic_of.max()) + 1 if len(topic_of) else 0
    theme_of = np.where(topic_of >= 0, theme_of_topic[np.maximum(topic_of, 0)], -1)
    n_themes = int(theme_of_topic.max()) + 1 if k else 0
    prev = previous or RunState()
    next_id = dict(prev.next_id)
    levels = {}
    for prefix, groups, n, prev_nodes in (
        ("topic", topic_of, k, prev.raw_topics),
        ("theme", theme_of, n_themes, prev.raw_themes),
    ):
        members = _members(groups, n, paper_ids)
        centroids = topic_centroids(embeddings, groups) if n else np.zeros((0, 1))
        ids, next_id[prefix] = match_ids(members, centroids, prev_nodes, prefix, next_id[prefix])
        levels[prefix] = [record(i, m, c) for i, m, c in zip(ids, members, centroids, strict=True)]
    topic_ids = [n.id for n in levels["topic"]]
    draft = Draft(
        topic_of=topic_of,
        topic_ids=topic_ids,
        theme_of_topic=[int(j) for j in theme_of_topic],
        theme_ids=[n.id for n in levels["theme"]],
        labels={topic_ids[t]: name for t, name in seed_names.items()},
    )
    return Curated(
        draft=apply_edits(draft, edits, vectors, corpus),
        raw_topics=levels["topic"],
        raw_themes=levels["theme"],
        next_id=next_id,
    )


def settle_labels(
    ids: list[str],
    members: list[list[str]],
    fixed: dict[str, str],
    previous: list[NodeRecord],
) -> dict[str, str]:
    """Labels decided before automatic labelling: the user's, then the previous run's."""
    kept = kept_labels(ids, members, previous)
    taken = {label.lower() for label in fixed.values()}
    settled = dict(fixed)
    for node in ids:
        label = kept.get(node)
        if node not in settled and label and label.lower() not in taken:
            settled[node] = label
            taken.add(label.lower())
    return settled


def labels_worth_keeping(
    previous: RunState | None,
) -> tuple[list[NodeRecord], list[NodeRecord]]:
    """(topics, themes) of the previous run whose automatic labels may be kept: none when an
    older labeller chose them, so improvements to labelling reach re-run folders too."""
    if previous is None or previous.labeller != LABELLER_VERSION:
        return [], []
    return previous.topics, previous.themes


def preset_labels(
    draft: Draft, theme_of: np.ndarray, corpus: Corpus, previous: RunState | None
) -> dict[str, str]:
    """Labels fixed before automatic labelling, for topics and themes (see `settle_labels`)."""
    paper_ids = [p.id for p in corpus.papers]
    settled: dict[str, str] = {}
    prev_topics, prev_themes = labels_worth_keeping(previous)
    for groups, ids, prev_nodes in (
        (draft.topic_of, draft.topic_ids, prev_topics),
        (theme_of, draft.theme_ids, prev_themes),
    ):
        members = _members(groups, len(ids), paper_ids)
        settled |= settle_labels(ids, members, draft.labels, prev_nodes)
    return settled


def node_records(
    draft: Draft,
    corpus: Corpus,
    embeddings: np.ndarray,
    labels: tuple[list[str], list[str]],
    auto_labels: tuple[list[str], list[str]],
) -> tuple[list[NodeRecord], list[NodeRecord]]:
    """(theme records, topic records) of the final taxonomy, for the state and the diff."""
    paper_ids = [p.id for p in corpus.papers]
    k = len(draft.topic_ids)
    theme_of_topic = np.asarray(draft.theme_of_topic, dtype=np.int64)
    theme_of = np.where(draft.topic_of >= 0, theme_of_topic[np.maximum(draft.topic_of, 0)], -1)
    records: list[list[NodeRecord]] = []
    for groups, ids, label, auto in (
        (theme_of, draft.theme_ids, labels[0], auto_labels[0]),
        (draft.topic_of, draft.topic_ids, labels[1], auto_labels[1]),
    ):
        members = _members(groups, len(ids), paper_ids)
        centroids = topic_centroids(embeddings, groups)
        records.append(
            [
                record(ids[g], members[g], centroids[g], label=label[g], auto_label=auto[g])
                for g in range(len(ids))
            ]
        )
    themes, topics = records
    for t, node in enumerate(topics[:k]):
        node.parent = draft.theme_ids[draft.theme_of_topic[t]]
    return themes, topics
