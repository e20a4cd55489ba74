"""What changed since the previous run: outputs/changes.json and outputs/changes.md.

Per level (themes, topics), comparing the previous run's final nodes with this run's:
  - renamed: same id, different label;  moved: a topic under a different theme;
  - merged: a node holding at least half of the papers of each of two or more previous nodes
    (nodes the user deleted are reported as removed, not as merged into their papers' new home);
  - split: a previous node at least SPLIT_SHARE of whose papers went to each of two or more
    nodes that each came mostly (more than half) from it, or one the user split (its parts'
    ids are its own with .1, .2, ...);
  - added / removed: ids that appear / disappear and are not part of a merge or split.
Paper counts are node sizes. A first run lists everything as added.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from taxonomy.curate.ids import NodeRecord, overlap

SPLIT_SHARE = 0.2


def _part_of(part: str, node: str) -> bool:
    """Whether `part` is the id of a part of `node` split by the user (node.1, node.2, ...)."""
    return part.startswith(node + ".") and part[len(node) + 1 :].isdigit()


def _brief(node: NodeRecord) -> dict[str, Any]:
    return {"id": node.id, "label": node.label, "papers": len(node.members)}


def diff_level(
    previous: list[NodeRecord], current: list[NodeRecord], deleted: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Changes of one level; `deleted` ids (deleted by the user) are never merge sources."""
    prev_ids = {p.id for p in previous}
    cur_ids = {c.id for c in current}
    inter = (
        overlap([p.members for p in previous], [c.members for c in current])
        if previous and current
        else np.zeros((len(previous), len(current)))
    )
    prev_size = np.array([max(len(p.members), 1) for p in previous], float)
    cur_size = np.array([max(len(c.members), 1) for c in current], float)
    merged, split = [], []
    in_merge_or_split: set[str] = set()
    for j, node in enumerate(current):
        # A source is merged away: gone from this run (or the id the merge kept).
        sources = [
            i
            for i in range(len(previous))
            if inter[i, j] >= 0.5 * prev_size[i]
            and previous[i].id not in deleted
            and (previous[i].id == node.id or previous[i].id not in cur_ids)
        ]
        if len(sources) >= 2 and any(previous[i].id not in cur_ids for i in sources):
            merged.append({**_brief(node), "from": [_brief(previous[i]) for i in sources]})
            in_merge_or_split.update([node.id, *(previous[i].id for i in sources)])
    for i, node in enumerate(previous):
        parts = [
            j
            for j in range(len(current))
            if inter[i, j] > 0.5 * cur_size[j] and inter[i, j] >= SPLIT_SHARE * prev_size[i]
        ]
        # A split by the user names its parts after the node (id.1, id.2, ...): reported as a
        # split whatever the parts' sizes (k-means may cut off a small part).
        named = [j for j, c in enumerate(current) if _part_of(c.id, node.id)]
        if len(named) >= 2 and node.id not in cur_ids:
            parts = named
        kept_id = node.id in cur_ids and node.id not in {current[j].id for j in parts}
        if len(parts) >= 2 and not kept_id:  # a node that is still here was not split
            split.append({**_brief(node), "into": [_brief(current[j]) for j in parts]})
            in_merge_or_split.update([node.id, *(current[j].id for j in parts)])
    by_id = {p.id: p for p in previous}
    renamed = [
        {"id": c.id, "from": by_id[c.id].label, "to": c.label, "papers": len(c.members)}
        for c in current
        if c.id in by_id and by_id[c.id].label != c.label
    ]
    moved = [
        {**_brief(c), "from": by_id[c.id].parent, "to": c.parent}
        for c in current
        if c.id in by_id and c.parent and by_id[c.id].parent != c.parent
    ]
    added = [_brief(c) for c in current if c.id not in prev_ids | in_merge_or_split]
    removed = [_brief(p) for p in previous if p.id not in cur_ids | in_merge_or_split]
    unchanged = sum(
        1
        for c in current
        if c.id in by_id and by_id[c.id].label == c.label and by_id[c.id].members == c.members
    )
    # Kept under its name but with papers gained or lost (excluded, deleted, placed, moved):
    # listed, so every node is accounted for.
    resized = [
        {"id": c.id, "label": c.label, "from": len(by_id[c.id].members), "to": len(c.members)}
        for c in current
        if c.id in by_id
        and by_id[c.id].label == c.label
        and by_id[c.id].members != c.members
        and c.id not in in_merge_or_split
    ]
    return {
        "added": added,
        "removed": removed,
        "merged": merged,
        "split": split,
        "renamed": renamed,
        "moved": moved,
        "resized": resized,
        "unchanged": unchanged,
    }


def diff_runs(
    previous: tuple[list[NodeRecord], list[NodeRecord], int] | None,
    themes: list[NodeRecord],
    topics: list[NodeRecord],
    papers: int,
    unassigned: int = 0,
    seeds: list[dict[str, Any]] | None = None,
    deleted: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Changes relative to `previous` = (themes, topics, papers) of the last run, or None.

    `deleted`: ids the user deleted, reported as removed even when their papers all went to
    one neighbour (which would otherwise look like a merge).
    """
    prev_themes, prev_topics, prev_papers = previous or ([], [], 0)
    return {
        "first_run": previous is None,
        "papers": {"previous": prev_papers, "current": papers, "unassigned": unassigned},
        "themes": diff_level(prev_themes, themes, deleted),
        "topics": diff_level(prev_topics, topics, deleted),
        "seeds": seeds or [],
    }


def summary_line(changes: dict[str, Any]) -> str:
    """'first run' or e.g. 'topics: 2 added, 1 merged; themes: none' for the CLI summary."""
    if changes["first_run"]:
        return "first run"
    parts = []
    for level in ("topics", "themes"):
        diff = changes[level]
        counts = [
            f"{len(diff[kind])} {kind}"
            for kind in ("added", "removed", "merged", "split", "renamed", "moved")
            if diff[kind]
        ]
        parts.append(f"{level}: {', '.join(counts) or 'none'}")
    return "; ".join(parts)


def run_line(changes: dict[str, Any]) -> str:
    """'updated: 3 new papers placed, 1 new topic' or 'fitted (settings changed: …)', plus the
    refit advice, for the CLI summary."""
    run = changes.get("run") or {}
    if run.get("mode") == "update":
        emerging = run.get("emerging", [])
        text = f"updated: {run.get('placed', 0)} new papers placed, {len(emerging)} new topics"
    else:
        text = f"fitted ({run.get('reason', 'refit')})"
    drift = run.get("drift") or {}
    if drift.get("refit_advised"):
        text += "; refit advised: " + "; ".join(drift["why"])
    return text


def _run_markdown(run: dict[str, Any]) -> list[str]:
    lines = ["## This run", ""]
    if run.get("mode") == "update":
        lines += [
            "Updated the previous taxonomy (it holds still; `taxonomy run --refit` fits afresh).",
            "",
            f"- new papers: {run['new_papers']}, placed in existing topics: {run['placed']}",
            f"- papers gone from the input: {run['removed_papers']}",
        ]
        lines += [
            f"- new topic proposed from {n} papers that fit no topic" for n in run["emerging"]
        ]
    else:
        lines += [f"Fitted afresh: {run.get('reason', 'refit')}."]
    drift = run.get("drift") or {}
    if drift:
        lines += [
            f"- papers added since the fit: {drift['added_since_fit']} "
            f"(fit on {drift['fitted_papers']}); unassigned now: {drift['unassigned']}",
        ]
        advice = "; ".join(drift["why"]) if drift["refit_advised"] else "not needed"
        lines += [f"- refit advised: {advice}"]
    return [*lines, ""]


def changes_json(changes: dict[str, Any]) -> str:
    return json.dumps(changes, indent=2, ensure_ascii=False) + "\n"


def _name(node: dict[str, Any]) -> str:
    return f"`{node['id']}` {node['label']} ({node['papers']} papers)"


def changes_markdown(changes: dict[str, Any]) -> str:
    papers = changes["papers"]
    lines = ["# Changes since the previous run", ""]
    if changes["first_run"]:
        lines += ["First run: every node is new.", ""]
    delta = papers["current"] - papers["previous"]
    lines += [f"Papers: {papers['current']} (previous run: {papers['previous']}, {delta:+d})", ""]
    if changes.get("run"):
        lines += _run_markdown(changes["run"])
    for level in ("themes", "topics"):
        diff = changes[level]
        lines += [f"## {level.capitalize()}", ""]
        rows = [f"- added: {_name(n)}" for n in diff["added"]]
        rows += [f"- removed: {_name(n)}" for n in diff["removed"]]
        rows += [
            f"- merged: {', '.join(_name(s) for s in n['from'])} → {_name(n)}"
            for n in diff["merged"]
        ]
        rows += [
            f"- split: {_name(n)} → {', '.join(_name(p) for p in n['into'])}" for n in diff["split"]
        ]
        rows += [
            f"- renamed: `{n['id']}` {n['from']} → {n['to']} ({n['papers']} papers)"
            for n in diff["renamed"]
        ]
        rows += [f"- moved: {_name(n)} from `{n['from']}` to `{n['to']}`" for n in diff["moved"]]
        rows += [
            f"- papers changed: `{n['id']}` {n['label']} ({n['from']} → {n['to']} papers)"
            for n in diff.get("resized", [])
        ]
        lines += rows or ["- no changes"]
        lines += [f"- unchanged: {diff['unchanged']}", ""]
    if changes["seeds"]:
        lines += ["## Seed themes", ""]
        for seed in changes["seeds"]:
            state = "created" if seed["supported"] else "not supported by enough papers"
            lines.append(f"- {seed['name']}: {state} ({seed['papers']} papers)")
        lines.append("")
    return "\n".join(lines)
