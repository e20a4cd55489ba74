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
import math
from dataclasses import dataclass, field, fields
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
    named_by: str = ""  # a theme's: "corpus", a reference scheme's name, "user"... (final nodes)


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
    # The last full fit (taxonomy.curate.update.fit_record): settings hashes, papers, raw topic
    # sizes, and papers added since; updates carry it over, a refit replaces it.
    fit: dict[str, object] = field(default_factory=dict)
    # "model": the papers were embedded by embed.model; "given": the user's own vectors
    # (input.embeddings / input.vector_column), which `taxonomy assign` then needs too.
    vectors: str = "model"
    model_id: str = ""  # taxonomy.embed.model_identity of the model (its cache name)
    config: str = ""  # absolute path of the run's config file ("" for defaults / Python)
    cache_dir: str = ""  # absolute path of the run's cache folder


def read_state(out_dir: Path) -> RunState | None:
    path = out_dir / STATE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise TaxonomyError(
            f"run state is damaged ({exc}); delete it to start ids afresh", path=path
        ) from None
    except RecursionError:
        raise TaxonomyError(
            "run state is damaged (nested too deeply); delete it to start ids afresh", path=path
        ) from None
    return validate_state(data, path)


class _Bad(Exception):
    """A field of state.json that is not as written by this program."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")


def _int(value: object, where: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(where, f"expected a whole number, got {_shown(value)}")
    if value < low:
        raise _Bad(where, f"must be >= {low}, got {value}")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(where, f"expected a number, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    if not math.isfinite(number):
        raise _Bad(where, f"must be a finite number, got {_shown(value)}")
    return number


def _text(value: object, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise _Bad(where, f"expected {'text' if empty else 'non-empty text'}, got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    """'null', 'str "abc"', 'list': the JSON type and a short view of a wrong value."""
    if value is None:
        return "null"
    kind = {dict: "object", list: "list"}.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)):
        return kind
    try:
        text = json.dumps(value)
    except ValueError:  # an integer too long to print
        text = "…"
    return f"{kind} {text[:40]}"


def _node(value: object, where: str, dim: int | None) -> NodeRecord:
    if not isinstance(value, dict):
        raise _Bad(where, f"expected an object, got {_shown(value)}")
    unknown = sorted(set(value) - set(NodeRecord.__dataclass_fields__))
    if unknown:
        raise _Bad(f"{where}.{unknown[0]}", "unknown field")
    for key in ("id", "members", "centroid"):
        if key not in value:
            raise _Bad(f"{where}.{key}", "missing")
    members = value["members"]
    if not isinstance(members, list):
        raise _Bad(f"{where}.members", f"expected a list of paper ids, got {_shown(members)}")
    for k, member in enumerate(members):
        _text(member, f"{where}.members[{k}]", empty=False)
    centroid = value["centroid"]
    if not isinstance(centroid, list) or not centroid:
        raise _Bad(f"{where}.centroid", f"expected a list of numbers, got {_shown(centroid)}")
    if dim is not None and len(centroid) != dim:
        raise _Bad(f"{where}.centroid", f"has {len(centroid)} numbers, expected {dim}")
    for k, v in enumerate(centroid):
        _number(v, f"{where}.centroid[{k}]")
    parent = value.get("parent")
    if parent is not None:
        _text(parent, f"{where}.parent", empty=False)
    return NodeRecord(
        id=_text(value["id"], f"{where}.id", empty=False),
        members=list(members),
        centroid=list(centroid),
        label=_text(value.get("label", ""), f"{where}.label"),
        auto_label=_text(value.get("auto_label", ""), f"{where}.auto_label"),
        parent=parent,
        named_by=_text(value.get("named_by", ""), f"{where}.named_by"),
    )


def _embed_settings(value: object) -> tuple[dict[str, object], int | None]:
    """The `embed` field ({model, max_tokens}, or {} from older runs) and the model's dim."""
    from typing import get_args

    from taxonomy.config import EmbedConfig

    if not isinstance(value, dict):
        raise _Bad("embed", f"expected an object, got {_shown(value)}")
    if not value:
        return {}, None
    fields = EmbedConfig.model_fields
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise _Bad(f"embed.{unknown[0]}", "unknown field")
    model = _text(value.get("model"), "embed.model", empty=False)
    known = get_args(fields["model"].annotation)
    if known and model not in known:
        raise _Bad("embed.model", f"unknown model {model!r} (known: {', '.join(known)})")
    try:  # the model itself (a folder that may since have moved) is checked where it is used
        EmbedConfig.model_validate({k: v for k, v in value.items() if k != "model"})
    except ValueError as err:  # pydantic's ValidationError: max_tokens out of range etc.
        first = err.errors()[0] if hasattr(err, "errors") else {"loc": (), "msg": str(err)}
        where = ".".join(str(p) for p in ("embed", *first["loc"]))
        raise _Bad(where, f"{first['msg']} (got {_shown(first.get('input'))})") from None
    if "max_tokens" in value:
        _int(value["max_tokens"], "embed.max_tokens", 1)
    from taxonomy.embed import MODEL_DIM

    return dict(value), MODEL_DIM.get(model)


def validate_state(data: object, path: Path | str) -> RunState:
    """A RunState from parsed state.json, or one TaxonomyError naming the field at fault.

    Checks everything a later run or `taxonomy assign` relies on: the version, ids and their
    counters, member lists, centroids (finite numbers of the model's dimension, one length
    throughout), the similarity floor, and the embedding settings (a known model).
    """
    try:
        return _validate_state(data)
    except _Bad as bad:
        raise TaxonomyError(
            f"run state is damaged: {bad}; delete it to start ids afresh", path=path
        ) from None


def _validate_state(data: object) -> RunState:
    if not isinstance(data, dict):
        raise _Bad("(top level)", f"expected a JSON object, got {_shown(data)}")
    if data.get("version") != STATE_VERSION:
        raise _Bad("version", f"unknown version {_shown(data.get('version'))}")
    fields = set(RunState.__dataclass_fields__)
    unknown = sorted(set(data) - fields - {"version"})
    if unknown:
        raise _Bad(unknown[0], "unknown field")
    embed, dim = _embed_settings(data.get("embed", {}))
    nodes: dict[str, list[NodeRecord]] = {}
    for key in ("raw_topics", "raw_themes", "topics", "themes"):
        value = data.get(key, [])
        if not isinstance(value, list):
            raise _Bad(key, f"expected a list, got {_shown(value)}")
        nodes[key] = [_node(item, f"{key}[{i}]", dim) for i, item in enumerate(value)]
        for i, node in enumerate(nodes[key]):
            dim = dim or len(node.centroid)  # without a known model: one length throughout
            if len(node.centroid) != dim:
                raise _Bad(f"{key}[{i}].centroid", f"has {len(node.centroid)} numbers, not {dim}")
    next_id = data.get("next_id", {"topic": 1, "theme": 1})
    if not isinstance(next_id, dict):
        raise _Bad("next_id", f"expected an object, got {_shown(next_id)}")
    for prefix, key in (("topic", "raw_topics"), ("theme", "raw_themes")):
        if prefix not in next_id:
            raise _Bad(f"next_id.{prefix}", "missing")
        value = _int(next_id[prefix], f"next_id.{prefix}", 1)
        used = [_number_of(node.id, prefix) for node in nodes[key]]
        if used and value <= max(used):
            raise _Bad(f"next_id.{prefix}", f"{value} would reuse the id {prefix}-{max(used)}")
    unknown = sorted(set(next_id) - {"topic", "theme"})
    if unknown:
        raise _Bad(f"next_id.{unknown[0]}", "unknown field")
    threshold = _number(data.get("assign_threshold", 0.0), "assign_threshold")
    if not -1.0 <= threshold <= 1.0:
        raise _Bad("assign_threshold", f"must be a cosine in -1..1, got {threshold}")
    return RunState(
        next_id={"topic": next_id["topic"], "theme": next_id["theme"]},
        raw_topics=nodes["raw_topics"],
        raw_themes=nodes["raw_themes"],
        topics=nodes["topics"],
        themes=nodes["themes"],
        papers=_int(data.get("papers", 0), "papers"),
        assign_threshold=threshold,
        embed=embed,
        labeller=_int(data.get("labeller", 0), "labeller"),
        vectors=_choice(data.get("vectors", "model"), "vectors", ("model", "given")),
        model_id=_text(data.get("model_id", ""), "model_id"),
        config=_text(data.get("config", ""), "config"),
        cache_dir=_text(data.get("cache_dir", ""), "cache_dir"),
        fit=_fit_record(data.get("fit", {})),
    )


def _fit_record(value: object) -> dict[str, object]:
    """The `fit` field: settings hashes (text), fitted paper count, fitted topic sizes."""
    if not isinstance(value, dict):
        raise _Bad("fit", f"expected an object, got {_shown(value)}")
    unknown = sorted(set(value) - {"settings", "papers", "sizes", "added"})
    if unknown:
        raise _Bad(f"fit.{unknown[0]}", "unknown field")
    settings = value.get("settings", {})
    sizes = value.get("sizes", {})
    for key, items in (("settings", settings), ("sizes", sizes)):
        if not isinstance(items, dict):
            raise _Bad(f"fit.{key}", f"expected an object, got {_shown(items)}")
    return (
        {
            "settings": {str(k): _text(v, f"fit.settings.{k}") for k, v in settings.items()},
            "papers": _int(value.get("papers", 0), "fit.papers"),
            "sizes": {str(k): _int(v, f"fit.sizes.{k}") for k, v in sizes.items()},
            "added": _int(value.get("added", 0), "fit.added"),
        }
        if value
        else {}
    )


def _choice(value: object, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _Bad(where, f"expected one of {', '.join(allowed)}, got {_shown(value)}")
    return str(value)


def _number_of(node_id: str, prefix: str) -> int:
    """3 for 'topic-3' (and 'topic-3.1'); 0 for ids of another form."""
    head, _, rest = node_id.partition("-")
    number = rest.split(".")[0]
    return int(number) if head == prefix and number.isascii() and number.isdigit() else 0


def state_json(state: RunState) -> str:
    # as dataclasses.asdict, without its deep copy of every member list (0.7 s at 40k papers)
    data = {
        "version": STATE_VERSION,
        **{f.name: _plain(getattr(state, f.name)) for f in fields(state)},
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _plain(value: object) -> object:
    if isinstance(value, list) and value and isinstance(value[0], NodeRecord):
        return [{f.name: getattr(r, f.name) for f in fields(r)} for r in value]
    return value


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
