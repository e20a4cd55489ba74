"""Fuzzing the state.json loader and the curation loader, within time and memory bounds.

Contract: any content ends in a loaded value or one TaxonomyError line naming the file, each
example within DEADLINE and with at most PEAK bytes allocated (tracemalloc): no traceback, no
stall, no blow-up from a small file (the attack run's alias bomb took 1 GB from 340 bytes).
Derandomised, so every run checks the same 150 + 150 + 150 examples (a few seconds).
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from fuzzing import scratch, write

# Imported here, not in the tests: the first example must not pay for scipy's import.
from taxonomy.curate.edits import Edits, load_curation
from taxonomy.curate.ids import RunState, read_state
from taxonomy.errors import TaxonomyError

DEADLINE = timedelta(seconds=2)
PEAK = 32 * 1024**2


def bounded(cases: int) -> settings:
    return settings(
        max_examples=cases,
        deadline=DEADLINE,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def outcome(load, path: Path):
    """load(path) or its TaxonomyError, checking the one-line message and the memory peak."""
    tracemalloc.start()
    try:
        try:
            return load(path)
        except TaxonomyError as err:
            message = str(err)
            assert "\n" not in message and str(path) in message, message
            assert "\x1b" not in message and "\x00" not in message, message
            return err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < PEAK, peak


# --- state.json --------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def base_state() -> dict:
    node = {
        "id": "topic-1",
        "members": ["p1", "p2"],
        "centroid": [1.0] + [0.0] * 383,
        "label": "L",
        "auto_label": "L",
        "parent": None,
    }
    return {
        "version": 1,
        "next_id": {"topic": 2, "theme": 2},
        "raw_topics": [node],
        "raw_themes": [{**node, "id": "theme-1"}],
        "topics": [{**node, "parent": "theme-1"}],
        "themes": [{**node, "id": "theme-1"}],
        "papers": 2,
        "assign_threshold": 0.3,
        "embed": {"model": "all-MiniLM-L6-v2", "max_tokens": 256},
        "labeller": 3,
    }


def read(folder: Path):
    return outcome(lambda path: read_state(path.parent), folder / "state.json")


# Places in a valid state where a generated value is put: (path of keys, ...).
SPOTS = [
    (),
    ("version",),
    ("next_id",),
    ("next_id", "topic"),
    ("raw_topics",),
    ("raw_topics", 0),
    ("raw_topics", 0, "id"),
    ("raw_topics", 0, "members"),
    ("raw_topics", 0, "members", 0),
    ("topics", 0, "centroid"),
    ("topics", 0, "centroid", 3),
    ("topics", 0, "parent"),
    ("themes", 0, "label"),
    ("papers",),
    ("assign_threshold",),
    ("embed",),
    ("embed", "model"),
    ("embed", "max_tokens"),
    ("labeller",),
    ("unknown",),
]


def put(data: dict, spot: tuple, value: object) -> object:
    if not spot:
        return value
    target = data
    for key in spot[:-1]:
        target = target[key]
    target[spot[-1]] = value
    return data


@bounded(150)
@given(spot=st.sampled_from(SPOTS), value=json_values)
def test_state_loader_on_damaged_fields(spot, value):
    data = put(base_state(), spot, value)
    with scratch() as folder:
        (folder / "state.json").write_text(json.dumps(data), "utf-8")
        result = read(folder)
    assert isinstance(result, (RunState, TaxonomyError))


@bounded(150)
@given(data=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_state_loader_on_any_bytes(data):
    with scratch() as folder:
        write(folder, "state.json", data)
        read(folder)


# --- the curation file -------------------------------------------------------------------------

FRAGMENTS = [
    "rename:\n",
    "renam:\n",
    "  topic-1: ",
    "merge:\n",
    "  - ids: [topic-1, topic-2]\n",
    "    label: ",
    "seeds:\n",
    "  - name: ",
    "exclude:\n  papers: ",
    "pin:\n  - paper: a\n    node: topic-1\n",
    "&a ",
    "*a",
    "&b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
    "<<: *a\n",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "\n",
    "  ",
    "'",
    '"\\x1b[31m\\0"',
    "\x1b]0;t\x07",
    "x" * 250,
    "!!python/object/apply:os.system ['true']",
]


def curation(path: Path):
    return outcome(lambda p: load_curation(p, required=True), path)


@bounded(150)
@given(parts=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=30))
def test_curation_loader_within_bounds(parts):
    with scratch() as folder:
        result = curation(write(folder, "taxonomy.yaml", "".join(parts).encode("utf-8", "replace")))
    assert isinstance(result, (Edits, TaxonomyError))
    if isinstance(result, Edits):
        labels = [*result.spec.rename.values(), *(s.name for s in result.spec.seeds)]
        for label in labels:
            assert label.isprintable() and len(label) <= 200, label
