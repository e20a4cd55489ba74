"""Bad input through the command line: exit code 2 and one line naming the file, no traceback.

Each case below is a run that must stop before embedding (so these are fast); one case also
runs as a real subprocess to check stderr/stdout separately.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from taxonomy.cli import app

REPO = Path(__file__).resolve().parents[1]

# name -> (file name, bytes, text the message must contain besides the file name)
BAD_INPUTS = {
    "binary": ("notes.txt", bytes(range(256)) * 4, "binary file"),
    "empty": ("empty.csv", b"", "file is empty"),
    "header only": ("papers.csv", b"title,abstract\n", "no abstracts found"),
    "bad json line": ("papers.jsonl", b'{"abstract": "ok"}\n{"abstract": \n', ":2: malformed JSON"),
    "deep json": ("deep.jsonl", b"[" * 100_000, "nested too deeply"),
    "unclosed bibtex": (
        "refs.bib",
        b"\n@article{k, abstract={never closed",
        ":2: malformed BibTeX",
    ),
    # Rich markup in a file name or quoted text is printed as is (and "[/red]" cannot crash).
    "markup in name": ("[bold]x.csv", b"title\nT\n", "no 'abstract' column"),
    "markup in text": ("x.txt", b"Title: t\n[/red] stray\nAbstract: y\n", "got '[/red] stray'"),
    "bad gzip": ("papers.csv.gz", b"not gzip at all", "not a valid gzip file"),
    "bad parquet": ("papers.parquet", b"PAR1 nope", "cannot read Parquet file"),
}


def invoke(tmp_path: Path, config: dict | str, *extra: str):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config if isinstance(config, str) else yaml.safe_dump(config), "utf-8")
    args = ["run", "--config", str(cfg), "--out", str(tmp_path / "out"), *extra]
    return CliRunner().invoke(app, args), cfg


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "\n" not in text and text.startswith("error: "), text
    assert (
        "Traceback" not in text
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    for needle in needles:
        assert needle in text, (needle, text)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_file(tmp_path, case):
    name, data, needle = BAD_INPUTS[case]
    path = tmp_path / name
    path.write_bytes(data)
    result, _ = invoke(
        tmp_path, {"cache_dir": str(tmp_path / "c"), "input": {"paths": [str(path)]}}
    )
    assert_one_line_error(result, name, needle)
    assert not (tmp_path / "out").exists()


CONFIGS = {
    "python tag": ("seed: !!python/object/apply:os.system ['true']\n", "refused"),
    "random bytes": (bytes(range(256)).decode("latin-1"), "c"),
    "not a mapping": ("- a\n- b\n", "mapping of sections"),
    "unknown key": ("embed:\n  batchsize: 3\n", "embed.batchsize: unknown setting"),
    "nul in path": ('output:\n  dir: "a\\0b"\n', "output.dir: not a usable path"),
    "missing input": ("input:\n  paths: [/no/such/folder]\n", "no such file or folder"),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config(tmp_path, case):
    text, needle = CONFIGS[case]
    result, cfg = invoke(tmp_path, text)
    assert_one_line_error(result, needle)
    assert str(cfg) in result.output or "/no/such/folder" in result.output


def test_real_process_prints_one_line_on_stderr(tmp_path):
    bad = tmp_path / "papers.json"
    bad.write_text(json.dumps([{"abstract": "fine"}, "not an object"]), "utf-8")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"cache_dir": str(tmp_path), "input": {"paths": [str(bad)]}}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "taxonomy.cli", "run", "-c", str(cfg), "-o", str(tmp_path / "o")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {bad}:1: expected a JSON object, got str")
