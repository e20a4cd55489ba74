"""The user's curation file (configs/taxonomy.yaml): schema, loading, and static checks.

Validated strictly (unknown keys are errors). Every entry remembers its line in the file so a
problem found now or later in the run (an unknown id, a conflict) is reported as
`file:line: section[i]: message (entry: ...)`. The program only ever reads this file.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from taxonomy.errors import TaxonomyError, yaml_errors

NODE_ID_PATTERN = r"^(topic|theme)-\d+(\.\d+)*$"
NodeId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=NODE_ID_PATTERN)]
MAX_LABEL = 200  # characters of a user-given label (rename, merge label, seed name)
# Control characters (C0, DEL, C1) and bidirectional overrides: never part of a label or id.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _no_controls(value: str) -> str:
    if found := _CONTROL.search(value):
        raise ValueError(
            f"control character {found.group()!r} not allowed (printable text on one line only)"
        )
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_no_controls)
]
# A label shown in the outputs: printable text on one line, at most MAX_LABEL characters.
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL),
    AfterValidator(_no_controls),
]


class _Loader(yaml.SafeLoader):
    """Safe YAML where numbers with a dot stay text: `2303.11360` is an arXiv id, not 2303.1136.

    Anchors and aliases (`&a`, `*a`) are refused: a few hundred bytes of nested aliases
    expand to gigabytes when walked, and a curation file has no use for them.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in the curation file", event.start_mark
            )
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors (&name) are not allowed in the curation file", event.start_mark
            )
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Merge(_Strict):
    ids: Annotated[list[NodeId], Field(min_length=2)]
    label: Label | None = None


class Split(_Strict):
    id: NodeId
    into: Annotated[int, Field(ge=2, le=50)] = 2


class Move(_Strict):
    id: NodeId
    under: NodeId


class Pin(_Strict):
    paper: Text  # arXiv id, paper id from documents.csv, or exact title
    node: NodeId


class Seed(_Strict):
    name: Label
    description: str = ""
    keywords: list[Text] = Field(default_factory=list)


class Exclude(_Strict):
    papers: list[Text] = Field(default_factory=list)
    sources: list[Text] = Field(default_factory=list)


class Curation(_Strict):
    rename: dict[NodeId, Label] = Field(default_factory=dict)
    merge: list[Merge] = Field(default_factory=list)
    split: list[Split] = Field(default_factory=list)
    move: list[Move] = Field(default_factory=list)
    delete: list[NodeId] = Field(default_factory=list)
    pin: list[Pin] = Field(default_factory=list)
    seeds: list[Seed] = Field(default_factory=list)
    exclude: Exclude = Field(default_factory=Exclude)


@dataclass
class Edits:
    """A validated curation file plus where each entry is, for error messages."""

    spec: Curation = field(default_factory=Curation)
    path: str = "<no curation file>"
    lines: dict[str, int] = field(default_factory=dict)

    def fail(self, where: str, message: str) -> TaxonomyError:
        """An error about entry `where` ('merge[1]', 'rename.topic-3'); the caller raises it."""
        entry = _entry(self.spec, where)
        shown = f" (entry: {entry})" if entry else ""
        line = self.lines.get(where) or self.lines.get(where.split(".")[0].split("[")[0])
        return TaxonomyError(f"{where}: {message}{shown}", path=self.path, line=line)

    @property
    def empty(self) -> bool:
        return self.spec == Curation()


def _entry(spec: Curation, where: str) -> str:
    """Compact YAML of the entry at `where`, for the message."""
    value: Any = spec.model_dump(exclude_defaults=True)
    for part in where.replace("]", "").replace("[", ".").split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return ""
    if value is None:
        return ""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return text.strip().removesuffix("...").strip()


def _lines(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    """Record the 1-based line of every entry below `node` as 'a.b[2].c'."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}.{key.value}" if prefix else str(key.value)
            out.setdefault(path, key.start_mark.line + 1)
            _lines(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}[{i}]"
            out.setdefault(path, item.start_mark.line + 1)
            _lines(item, path, out)


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in ("[key]",):
            text += f".{part}" if text else str(part)
    return text


def parse_curation(text: str, source: str) -> Edits:
    """Validate the YAML text of a curation file; errors name the file, line and entry."""
    with yaml_errors(source, text):
        loader = _Loader(text)
        try:
            root = loader.get_single_node()  # aliases refused here, before anything is walked
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TaxonomyError("the curation file must be a mapping of edit kinds", path=source)
    lines: dict[str, int] = {}
    if root is not None:
        _lines(root, "", lines)
    try:
        spec = Curation.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _loc(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key" + did_you_mean(str(err["loc"][-1]), _keys_at(err["loc"]))
        if err["type"] == "string_pattern_mismatch":
            message = "not a node id like topic-3 or theme-2"
        line = _nearest_line(lines, where)
        raise TaxonomyError(
            f"{where}: {message} (entry: {err.get('input')!r})", path=source, line=line
        ) from None
    edits = Edits(spec=spec, path=source, lines=lines)
    check_conflicts(edits)
    return edits


def did_you_mean(key: str, known: list[str]) -> str:
    """ "; did you mean 'rename'?" for a near-miss of a known key, else ""."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where pydantic found the unknown key at `loc` (its last part)."""
    model: Any = Curation
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return []
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _nearest_line(lines: dict[str, int], where: str) -> int | None:
    while where:
        if where in lines:
            return lines[where]
        cut = max(where.rfind("."), where.rfind("["))
        where = where[:cut] if cut > 0 else ""
    return None


def load_curation(path: str | Path | None, *, required: bool) -> Edits:
    """Read the curation file; a missing optional file means no edits."""
    if path is None:
        return Edits()
    file = Path(path)
    if not file.is_file():
        if required:
            raise TaxonomyError("curation file not found", path=str(path))
        return Edits(path=str(path))
    from taxonomy.ingest.textio import read_text  # the input's encoding policy (UTF-16 etc.)

    return parse_curation(read_text(file), str(path))


def check_conflicts(edits: Edits) -> None:
    """Edits that contradict each other, found before any work is done."""
    spec = edits.spec
    deleted = {node: f"delete[{i}]" for i, node in enumerate(spec.delete)}
    merged: dict[str, str] = {}
    for i, merge in enumerate(spec.merge):
        where = f"merge[{i}]"
        if len({node.split("-")[0] for node in merge.ids}) > 1:
            raise edits.fail(where, "cannot merge a topic with a theme")
        for node in merge.ids:
            if node in deleted:
                raise edits.fail(where, f"{node} is both merged and deleted ({deleted[node]})")
            if node in merged:
                raise edits.fail(where, f"{node} is already merged in {merged[node]}")
            merged[node] = where
    split: dict[str, str] = {}
    for i, item in enumerate(spec.split):
        where = f"split[{i}]"
        for other, kind in ((deleted, "deleted"), (merged, "merged"), (split, "split")):
            if item.id in other:
                raise edits.fail(where, f"{item.id} is both split and {kind} ({other[item.id]})")
        split[item.id] = where
    moved: dict[str, str] = {}
    for i, move in enumerate(spec.move):
        where = f"move[{i}]"
        if not move.id.startswith("topic-") or not move.under.startswith("theme-"):
            raise edits.fail(where, "move takes a topic id and a theme id (under)")
        for node in (move.id, move.under):
            if node in deleted:
                raise edits.fail(where, f"{node} is deleted ({deleted[node]})")
        if move.id in moved:
            raise edits.fail(where, f"{move.id} is already moved in {moved[move.id]}")
        moved[move.id] = where
    for node in spec.rename:
        if node in deleted:
            raise edits.fail(f"rename.{node}", f"{node} is deleted ({deleted[node]})")
    pinned: dict[str, tuple[str, str]] = {}
    excluded = set(spec.exclude.papers)
    for i, pin in enumerate(spec.pin):
        where = f"pin[{i}]"
        if pin.node in deleted:
            raise edits.fail(where, f"{pin.node} is deleted ({deleted[pin.node]})")
        if pin.paper in excluded:
            raise edits.fail(where, f"paper {pin.paper!r} is also excluded")
        previous = pinned.get(pin.paper)
        if previous and previous[0] != pin.node:
            raise edits.fail(
                where, f"paper {pin.paper!r} is pinned to two nodes ({previous[1]}: {previous[0]})"
            )
        pinned[pin.paper] = (pin.node, where)
    names: dict[str, int] = {}
    for i, seed in enumerate(spec.seeds):
        if seed.name.lower() in names:
            raise edits.fail(f"seeds[{i}]", f"seed {seed.name!r} is declared twice")
        names[seed.name.lower()] = i
