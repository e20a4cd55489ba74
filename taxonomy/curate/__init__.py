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
from typing import Any

import numpy as np

from taxonomy.curate.apply import apply_edits, find_paper, paper_lookup
from taxonomy.curate.changes import diff_runs
from taxonomy.curate.edits import Edits, load_curation
from taxonomy.curate.ids import NodeRecord, RunState, kept_labels, match_ids, record
from taxonomy.label import LABELLER_VERSION
from taxonomy.models import Corpus
from taxonomy.tree import LEVELS, THEME, TOPIC, Taxonomy

__all__ = [
    "Curated",
    "Edits",
    "exclude_papers",
    "identify_and_edit",
    "load_curation",
    "run_record",
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


@dataclass(frozen=True)
class Curated:
    taxonomy: Taxonomy  # after the user's edits, with stable ids
    raw: tuple[list[NodeRecord], list[NodeRecord]]  # (topics, themes) as clustered: next matching
    next_id: dict[str, int]
    preset_labels: dict[str, str]  # labels decided before automatic labelling, by node id


def _level_records(
    taxonomy: Taxonomy, level: int, paper_ids: list[str], embeddings: np.ndarray
) -> tuple[list[list[str]], np.ndarray]:
    """(member paper ids, centroids in the sentence-embedding space) of each node of `level`."""
    members = taxonomy.member_ids(level, paper_ids)
    centroids = taxonomy.centroids(embeddings, level) if members else np.zeros((0, 1))
    return members, centroids


def identify_and_edit(
    fitted: Taxonomy,
    corpus: Corpus,
    embeddings: np.ndarray,
    vectors: np.ndarray,
    edits: Edits,
    previous: RunState | None,
    seed: int,
) -> Curated:
    """Give the fitted nodes stable ids, apply the id-based edits, preset the labels."""
    paper_ids = [p.id for p in corpus.papers]
    prev = previous or RunState()
    next_id = dict(prev.next_id)
    raw: list[list[NodeRecord]] = []
    ids: list[list[str]] = []
    for level, prev_nodes in ((TOPIC, prev.raw_topics), (THEME, prev.raw_themes)):
        prefix = LEVELS[level]
        members, centroids = _level_records(fitted, level, paper_ids, embeddings)
        level_ids, next_id[prefix] = match_ids(
            members, centroids, prev_nodes, prefix, next_id[prefix]
        )
        ids.append(level_ids)
        # Raw topics keep their seed-theme name: an update re-applies only the new seeds.
        names = [fitted.labels.get(node, "") for node in fitted.ids[level]]
        raw.append(
            [
                record(i, m, c, label=name) if name else record(i, m, c)
                for i, m, c, name in zip(level_ids, members, centroids, names, strict=True)
            ]
        )
    # Seed themes carry their name under the positional id the fit gave them.
    labels = {ids[TOPIC][fitted.index(node)]: name for node, name in fitted.labels.items()}
    identified = fitted.replace(ids=tuple(ids), labels=labels)
    edited = apply_edits(identified, edits, vectors, corpus, seed)
    return Curated(
        taxonomy=edited,
        raw=(raw[TOPIC], raw[THEME]),
        next_id=next_id,
        preset_labels=preset_labels(edited, paper_ids, previous),
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
    taxonomy: Taxonomy, paper_ids: list[str], previous: RunState | None
) -> dict[str, str]:
    """Labels fixed before automatic labelling, for topics and themes (see `settle_labels`)."""
    settled: dict[str, str] = {}
    prev_topics, prev_themes = labels_worth_keeping(previous)
    fixed = dict(taxonomy.labels)
    for level, prev_nodes in ((TOPIC, prev_topics), (THEME, prev_themes)):
        members = taxonomy.member_ids(level, paper_ids)
        settled |= settle_labels(list(taxonomy.ids[level]), members, fixed, prev_nodes)
    return settled


def kept_sources(
    named_by: dict[str, str], preset: dict[str, str], previous: RunState | None
) -> dict[str, str]:
    """Who named each theme, where a theme keeps its name from the last run (`preset`):
    whoever named it then (labelling cannot tell: the kept name is taken before it names)."""
    earlier = {record.id: record for record in previous.themes} if previous else {}
    out = dict(named_by)
    for node in named_by:
        record = earlier.get(node)
        if record and record.named_by and preset.get(node) in (record.auto_label, record.label):
            out[node] = record.named_by
    return out


def node_records(
    taxonomy: Taxonomy, paper_ids: list[str], embeddings: np.ndarray, auto: dict[str, str]
) -> tuple[list[NodeRecord], list[NodeRecord]]:
    """(theme records, topic records) of the final taxonomy, for the state and the diff."""
    records: dict[int, list[NodeRecord]] = {}
    for level in (THEME, TOPIC):
        members, centroids = _level_records(taxonomy, level, paper_ids, embeddings)
        level_ids = taxonomy.ids[level]
        records[level] = [
            record(
                node,
                members[g],
                centroids[g],
                label=taxonomy.labels[node],
                auto_label=auto[node],
                named_by=taxonomy.named_by.get(node, ""),
            )
            for g, node in enumerate(level_ids)
        ]
    for t, node in enumerate(records[TOPIC]):
        node.parent = taxonomy.ids[THEME][taxonomy.theme_of_topic[t]]
    return records[THEME], records[TOPIC]


def run_record(
    curated: Curated,
    labelled: Taxonomy,
    auto_labels: dict[str, str],
    corpus: Corpus,
    embeddings: np.ndarray,
    previous: RunState | None,
    *,
    extra: dict[str, Any],
    seeds: list[dict[str, Any]],
    deleted: frozenset[str],
) -> tuple[RunState, dict[str, Any]]:
    """(the state the next run starts from, the changes since `previous`).

    `extra` holds RunState fields decided elsewhere (the similarity floor, the embedder).
    """
    paper_ids = [p.id for p in corpus.papers]
    themes, topics = node_records(labelled, paper_ids, embeddings, auto_labels)
    state = RunState(
        next_id=curated.next_id,
        raw_topics=curated.raw[TOPIC],
        raw_themes=curated.raw[THEME],
        topics=topics,
        themes=themes,
        papers=len(corpus),
        labeller=LABELLER_VERSION,
        **extra,
    )
    before = (previous.themes, previous.topics, previous.papers) if previous else None
    changes = diff_runs(
        before, themes, topics, len(corpus), labelled.unassigned, seeds, deleted=deleted
    )
    return state, changes
