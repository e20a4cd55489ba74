"""Fuzzing the config, curation and labels loaders with hypothesis.

Contract: any file content ends in a loaded value or one TaxonomyError line naming the file.
Cases per test are fixed with `fuzz(max_examples)` (derandomised): config and curation file
500 YAML-shaped + 250 random-byte files, labels file 200 -- 950 generated inputs -- plus fixed
cases for python tags, deep nesting, encodings and edge values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxonomy.config import Config, load_config
from taxonomy.errors import TaxonomyError
from tests.helpers.fuzzing import (
    ENCODINGS,
    FRAGMENTS,
    MB,
    fuzz,
    glued,
    loader_outcome,
    scratch,
    write,
)

# --- the config loader ---------------------------------------------------------------------

CONFIG_FRAGMENTS = [
    "seed: ",
    "cache_dir: ",
    "input:\n  paths: ",
    "cluster:\n  min_size: ",
    "embed:\n  batch_size: ",
    "output:\n  dir: ",
    "hierarchy:\n  n_themes: ",
    "\n",
    "  ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "auto",
    "42",
    "-1",
    "1e400",
    ".nan",
    "~",
    "'",
    '"',
    "&a ",
    "*a",
    "<<: *a",
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system",
    "!!binary aGk=",
    "!!set {a}",
    "? [a]\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "\t",
    "\x00",
    "é",
    "\\0",
    '"\\0"',
]


def load_outcome(path: Path) -> Config | TaxonomyError:
    return loader_outcome(load_config, path)


@pytest.mark.parametrize(
    "text",
    [
        "seed: !!python/object/apply:os.system ['touch {marker}']\n",
        "input:\n  paths: [!!python/object/apply:os.system ['touch {marker}']]\n",
        "!!python/object/new:os.system ['touch {marker}']\n",
        "output: !!python/object:argparse.Namespace {{dir: '{marker}'}}\n",
        "seed: !!python/name:os.system\n",
    ],
)
def test_python_tags_are_refused_and_never_run(tmp_path, text):
    marker = tmp_path / "ran"
    path = write(tmp_path, "c.yaml", text.format(marker=marker).encode())
    err = load_outcome(path)
    assert isinstance(err, TaxonomyError) and "invalid YAML" in str(err)
    assert "refused" in str(err)
    assert not marker.exists()


def test_config_in_utf16_and_latin1_is_read(tmp_path):
    text = "output:\n  dir: sortie_é\n"
    for encoding in ("utf-16", "utf-8-sig", "latin-1"):
        path = write(tmp_path, f"{encoding}.yaml", text.encode(encoding))
        assert load_config(path).output.dir == "sortie_é"


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "a:\n" + "  " * 5000 + "b", 'cache_dir: "a\\0b"\n', "output:\n  dir: ' '\n"],
)
def test_config_edge_cases_are_errors(tmp_path, text):
    assert isinstance(load_outcome(write(tmp_path, "c.yaml", text.encode())), TaxonomyError)


def test_override_into_a_non_mapping_section(tmp_path):
    path = write(tmp_path, "c.yaml", b"cluster: 5\n")
    with pytest.raises(TaxonomyError, match="c.yaml: cluster: must be a mapping"):
        load_config(path, {"cluster.min_size": 3})


# --- the curation file (configs/taxonomy.yaml) ------------------------------------------------

CURATION_FRAGMENTS = [
    "rename:\n  ",
    "merge:\n  - ",
    "split:\n  - ",
    "move:\n  - ",
    "delete: ",
    "pin:\n  - ",
    "seeds:\n  - ",
    "exclude:\n  papers: ",
    "exclude:\n  sources: ",
    "topic-3",
    "theme-1",
    "topic-0",
    "nodes: [topic-1, topic-2]",
    "node: topic-4",
    "into: theme-2",
    "label: ",
    "keywords: [a, b]",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "\n",
    "  ",
    "- ",
    "&a ",
    "*a",
    "!!python/object/apply:os.system ['true']",
    "1.0",
    "~",
    "'",
    '"',
    "é",
    "\t",
]


def curation_outcome(path: Path) -> object:
    from taxonomy.curate.edits import load_curation

    return loader_outcome(lambda p: load_curation(p, required=True), path)


# The two YAML files a user edits: (loader, fragments, file name).
YAML_LOADERS = {
    "config": (load_outcome, CONFIG_FRAGMENTS, "c.yaml"),
    "curation": (curation_outcome, CURATION_FRAGMENTS, "taxonomy.yaml"),
}


@fuzz(500)
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS))
def test_yaml_loaders_on_yaml_shaped_text(data, encoding):
    load, fragments, name = YAML_LOADERS[data.draw(st.sampled_from(sorted(YAML_LOADERS)))]
    text = data.draw(glued(fragments), label="text")
    with scratch() as folder:
        load(write(folder, name, text.encode(encoding, errors="replace")))


@fuzz(250)
@given(which=st.sampled_from(sorted(YAML_LOADERS)), data=st.binary(max_size=2000))
def test_yaml_loaders_on_random_bytes(which, data):
    load, _, name = YAML_LOADERS[which]
    with scratch() as folder:
        load(write(folder, name, data))


@pytest.mark.parametrize("text", ["[" * 100_000, "rename:\n" + "  " * 5000 + "x"])
def test_curation_file_edge_cases(tmp_path, text):
    result = curation_outcome(write(tmp_path, "taxonomy.yaml", text.encode()))
    assert isinstance(result, TaxonomyError)


# --- the evaluation labels file (taxonomy eval --labels) --------------------------------------

LABEL_FRAGMENTS = [
    '{"theme": ',
    '"abstract": ',
    '"id": ',
    '"also_acceptable": ',
    "theme,abstract\n",
]


@fuzz(200)
@given(
    name=st.sampled_from(["labels.jsonl", "labels.csv"]),
    text=glued(LABEL_FRAGMENTS + FRAGMENTS),
    encoding=st.sampled_from(ENCODINGS),
)
def test_labels_file_never_crashes(name, text, encoding):
    from taxonomy.evaluate.labels import load_labels

    with scratch() as folder:
        loader_outcome(load_labels, write(folder, name, text.encode(encoding, errors="replace")))


@pytest.mark.parametrize("name", ["labels.jsonl", "labels.csv"])
def test_labels_file_edge_cases(tmp_path, name):
    from taxonomy.evaluate.labels import load_labels

    for data in (b"", b"[" * 100_000, bytes(range(256)) * 8, b'"' * MB):
        path = write(tmp_path, name, data)
        with pytest.raises(TaxonomyError, match=str(path)):
            load_labels(path)
