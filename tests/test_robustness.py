"""Regression tests for the breaks of the attack run (issue 18) and key suggestions (issue 16).

Each test reproduces one attack; against the code before the fix it fails (a traceback, a
stall, gigabytes of memory, or text written as is). Runs use the deterministic stand-in
embedder (helpers/fake_embed.py) on fewer than 30 papers, so none fits UMAP: seconds each.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

from taxonomy.cli import app
from taxonomy.errors import TaxonomyError, printable

REPO = Path(__file__).resolve().parents[1]
MiB = 1024**2


def one_line_error(result) -> str:
    """The CLI's single `error: ...` line (exit code 2, no traceback)."""
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "\n" not in text and text.startswith("error: "), text
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return text


def write_config(folder: Path, **settings) -> Path:
    cfg = {"cache_dir": str(folder / "cache"), "curation": None, **settings}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), "utf-8")
    return path


@pytest.fixture
def no_embedding(monkeypatch):
    """Embedding must not start: these errors come before it."""
    import taxonomy.embed

    def refuse(*_args, **_kwargs):
        raise AssertionError("embedding started before the error")

    monkeypatch.setattr(taxonomy.embed, "embed_texts", refuse)


@pytest.fixture
def fake_embeddings(fake_embedder):
    return fake_embedder


TOPICS = [
    "compressing the KV cache of transformer decoders for long context generation",
    "retrieval augmented generation with dense passage retrievers and rerankers",
    "diffusion models for text to image generation with classifier free guidance",
]


def papers(n: int, titles: list[str] | None = None) -> pd.DataFrame:
    titles = titles or []
    return pd.DataFrame(
        {
            "title": [titles[i] if i < len(titles) else f"Paper {i}" for i in range(n)],
            "abstract": [f"Paper {i} studies {TOPICS[i % 3]} in setting {i}." for i in range(n)],
        }
    )


# --- 1. curation YAML aliases -----------------------------------------------------------------


def alias_bomb(depth: int) -> str:
    """Nested aliases: 9**depth paths below the last key, from a few hundred bytes."""
    names = "abcdefghijklmnop"
    text = "a: &a [x,x,x,x,x,x,x,x,x]\n"
    for level in range(1, depth + 1):
        prev, name = names[level - 1], names[level]
        text += f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n"
    return text


def test_curation_alias_bomb_is_refused_without_walking_it(tmp_path):
    from taxonomy.curate.edits import load_curation

    path = tmp_path / "taxonomy.yaml"
    path.write_text(alias_bomb(5), "utf-8")  # 59,049 paths: ~15 MB to walk before the fix
    tracemalloc.start()
    try:
        with pytest.raises(TaxonomyError) as caught:
            load_curation(path, required=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * MiB, peak
    assert str(caught.value).startswith(f"{path}:1: invalid YAML: anchors (&name) are not allowed")


def test_curation_alias_bomb_through_the_cli_exits_2_in_seconds(tmp_path):
    # The file: ~340 bytes, depth 9 -- a MemoryError traceback after 79 s before.
    bomb = tmp_path / "taxonomy.yaml"
    bomb.write_text(alias_bomb(9), "utf-8")
    assert len(bomb.read_bytes()) < 400
    data = tmp_path / "papers.csv"
    papers(4).to_csv(data, index=False)
    config = write_config(tmp_path, curation=str(bomb), input={"paths": [str(data)]})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "taxonomy.cli", "run", "-c", str(config), "-o", str(tmp_path / "o")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - start < 30
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {bomb}:1: invalid YAML: anchors")


def test_curation_aliases_anywhere_are_refused():
    from taxonomy.curate.edits import parse_curation

    text = "delete: [topic-1]\nrename: {topic-2: *x}\n"
    with pytest.raises(TaxonomyError, match=r"c.yaml:2: invalid YAML: aliases \(\*name\)"):
        parse_curation(text, "c.yaml")


# --- 2. formula injection in documents.csv --------------------------------------------------

HOSTILE_TITLES = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "'quoted already",
    "=1+1",
]


@pytest.mark.parametrize("text", [*HOSTILE_TITLES, "\tTab", "\rCR", "plain", "", "'", "''x"])
def test_csv_escape_round_trips(text):
    from taxonomy.export.csv_safe import FORMULA_START, escape_cell, unescape_cell

    escaped = escape_cell(text)
    assert not escaped.startswith(FORMULA_START)
    assert unescape_cell(escaped) == text


def test_documents_csv_is_safe_in_a_spreadsheet_and_read_back_exactly(tmp_path, fake_embeddings):
    from taxonomy.evaluate import read_documents
    from taxonomy.pipeline import run

    data = tmp_path / "papers.csv"
    papers(12, HOSTILE_TITLES).to_csv(data, index=False)
    out = tmp_path / "out"
    run(write_config(tmp_path, input={"paths": [str(data)]}), out=out)
    raw = (out / "documents.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(raw)))
    for row in rows:
        for column, cell in row.items():
            if column not in ("x", "y"):
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)
    assert {row["title"] for row in rows} >= {"'" + t for t in HOSTILE_TITLES}
    docs = read_documents(out / "documents.csv")  # what `taxonomy eval` reads
    assert set(docs["title"]) >= set(HOSTILE_TITLES)

    # `taxonomy assign` reads documents.csv and writes it back: escaped once, not twice.
    new = tmp_path / "new.csv"
    pd.DataFrame(
        {"title": ["=cmd()"], "abstract": ["Paper new studies retrieval augmented generation."]}
    ).to_csv(new, index=False)
    result = CliRunner().invoke(
        app, ["assign", str(new), "-c", str(tmp_path / "config.yaml"), "--run", str(out)]
    )
    assert result.exit_code == 0, result.output
    after = (out / "documents.csv").read_text("utf-8").splitlines()
    assert after[: len(raw.splitlines())] == raw.splitlines()
    assert len(after) == len(raw.splitlines()) + 1 and ",'=cmd()," in after[-1]
    assert set(read_documents(out / "documents.csv")["title"]) >= {*HOSTILE_TITLES, "=cmd()"}


# --- 5. decompression bombs ---------------------------------------------------------------------


def test_a_gzip_bomb_of_newlines_fails_fast_in_little_memory(tmp_path):
    from taxonomy.ingest import read_corpus

    bomb = tmp_path / "papers.csv.gz"
    bomb.write_bytes(gzip.compress(b"title,abstract\n" + b"\n" * 65_000_000, 9, mtime=0))
    assert bomb.stat().st_size < 70_000  # the 65 KB file
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(TaxonomyError) as caught:
            read_corpus([bomb])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 5
    assert peak < 48 * MiB, peak  # before: the whole 65 MB, then its text, then lines
    message = str(caught.value)
    assert message.startswith(f"{bomb}: decompresses to more than 100 times its size")
    assert "input.max_ratio" in message


def test_a_bomb_through_the_cli_is_one_line(tmp_path, no_embedding):
    bomb = tmp_path / "papers.csv.gz"
    bomb.write_bytes(gzip.compress(b"\n" * 65_000_000, 9, mtime=0))
    config = write_config(tmp_path, input={"paths": [str(bomb)]})
    result = CliRunner().invoke(app, ["run", "-c", str(config), "-o", str(tmp_path / "o")])
    assert f"{bomb}: decompresses to more than" in one_line_error(result)
    assert not (tmp_path / "o").exists()


LIMIT_CASES = [
    ({"max_lines": 10}, "a.csv", b"abstract\n" + b"An abstract.\n" * 20, "more than 10 lines"),
    ({"max_lines": 10}, "a.csv.gz", b"abstract\n" + b"An abstract.\n" * 20, "more than 10"),
    ({"max_bytes": 100}, "a.csv", b"abstract\n" + b"An abstract.\n" * 20, "larger than 100"),
    ({"max_bytes": 100}, "a.jsonl.gz", b'{"abstract": "x"}\n' * 20, "100 bytes decompressed"),
    ({"max_bytes": 100}, "a.txt", b"Abstract: " + b"x" * 200, "input.max_bytes"),
]


def limited_input(tmp_path: Path, settings: dict, name: str, data: bytes) -> tuple[Path, Path]:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return path, write_config(tmp_path, input={"paths": [str(path)], **settings})


@pytest.mark.parametrize(("settings", "name", "data", "needle"), LIMIT_CASES)
def test_input_limits_are_settings(tmp_path, settings, name, data, needle):
    from taxonomy.config import load_config
    from taxonomy.ingest import ReadLimits, read_corpus

    path, config = limited_input(tmp_path, settings, name, data)
    limits = ReadLimits.from_config(load_config(config).input)
    with pytest.raises(TaxonomyError) as caught:
        read_corpus([path], limits=limits)
    assert str(caught.value).startswith(f"{path}: ") and needle in str(caught.value)
    assert len(read_corpus([path]).papers) >= 1  # the defaults read it


@pytest.mark.parametrize(("settings", "name", "data", "needle"), LIMIT_CASES[:1])
def test_input_limits_reach_assign(tmp_path, no_embedding, settings, name, data, needle):
    from taxonomy.atomic import publish

    path, config = limited_input(tmp_path, settings, name, data)
    out = tmp_path / "out"
    publish(out, {"state.json": json.dumps(valid_state()).encode(), "documents.csv": b"id\n"})
    result = CliRunner().invoke(app, ["assign", str(path), "-c", str(config), "--run", str(out)])
    line = one_line_error(result)
    assert line.startswith(f"error: {path}: ") and needle in line, line


@pytest.mark.parametrize(("settings", "name", "data", "needle"), LIMIT_CASES[:1])
def test_input_limits_reach_run(tmp_path, fake_embeddings, settings, name, data, needle):
    path, config = limited_input(tmp_path, settings, name, data)
    result = CliRunner().invoke(app, ["run", "-c", str(config), "-o", str(tmp_path / "o")])
    line = one_line_error(result)
    assert line.startswith(f"error: {path}: ") and needle in line, line


def test_default_limits_match_the_config_and_pass_real_files(tmp_path):
    from taxonomy.config import InputConfig
    from taxonomy.ingest import ReadLimits, read_corpus

    assert ReadLimits.from_config(InputConfig()) == ReadLimits()
    ordinary = tmp_path / "papers.csv.gz"  # repetitive text far past the ratio floor is fine
    ordinary.write_bytes(gzip.compress(papers(20).to_csv(index=False).encode(), mtime=0))
    assert len(read_corpus([ordinary])) == 20


def test_parquet_row_limit(tmp_path):
    from taxonomy.ingest import ReadLimits, read_corpus

    path = tmp_path / "p.parquet"
    papers(20).to_parquet(path)
    with pytest.raises(TaxonomyError, match=r"p.parquet: more than 5 rows \(20\)"):
        read_corpus([path], limits=ReadLimits(max_lines=5))


# --- 7. tracebacks instead of one-line errors -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("seed: -5\n", "seed: must be ≥ 0"),
        ("seed: 1.0e+23\n", "seed:"),
        ("seed: 1e23\n", "seed:"),
        ("seed: 4294967296\n", "seed: must be ≤ 4294967295"),
    ],
)
def test_bad_seeds_are_config_errors(tmp_path, no_embedding, text, needle):
    data = tmp_path / "papers.csv"
    papers(4).to_csv(data, index=False)
    config = tmp_path / "config.yaml"
    config.write_text(text + f"input:\n  paths: [{data}]\n", "utf-8")
    result = CliRunner().invoke(app, ["run", "-c", str(config), "-o", str(tmp_path / "o")])
    line = one_line_error(result)
    assert line.startswith(f"error: {config}:1: ") and needle in line, line


def valid_state() -> dict:
    from taxonomy.curate.ids import NodeRecord, RunState, state_json

    centroid = [1.0] + [0.0] * 383

    def node(node_id: str, parent: str | None = None) -> NodeRecord:
        return NodeRecord(node_id, ["p1", "p2"], centroid, "Label", "Label", parent)

    state = RunState(
        next_id={"topic": 3, "theme": 2},
        raw_topics=[node("topic-1"), node("topic-2")],
        raw_themes=[node("theme-1")],
        topics=[node("topic-1", "theme-1"), node("topic-2", "theme-1")],
        themes=[node("theme-1")],
        papers=2,
        assign_threshold=0.25,
        embed={"model": "all-MiniLM-L6-v2", "max_tokens": 256},
        labeller=3,
    )
    return json.loads(state_json(state))


def damaged(change) -> str:
    data = valid_state()
    change(data)
    return json.dumps(data)


STATE_CASES = {
    "null": ("null", "(top level): expected a JSON object, got null"),
    "a string": ('"x"', '(top level): expected a JSON object, got str "x"'),
    "a list": ("[1]", "(top level): expected a JSON object, got list"),
    "NaN threshold": (
        damaged(lambda d: d.update(assign_threshold=float("nan"))),
        "assign_threshold: must be a finite number",
    ),
    "centroid size": (
        damaged(lambda d: d["topics"][1].update(centroid=[0.5, 0.5])),
        "topics[1].centroid: has 2 numbers, expected 384",
    ),
    "NaN centroid": (
        damaged(lambda d: d["themes"][0]["centroid"].__setitem__(5, float("nan"))),
        "themes[0].centroid[5]: must be a finite number",
    ),
    "max_tokens text": (
        damaged(lambda d: d["embed"].update(max_tokens="abc")),
        "embed.max_tokens:",
    ),
    "empty model": (
        damaged(lambda d: d["embed"].update(model="")),
        "embed.model: expected non-empty text",
    ),
    "next_id text": (
        damaged(lambda d: d["next_id"].update(topic="x")),
        'next_id.topic: expected a whole number, got str "x"',
    ),
    "next_id reuses": (
        damaged(lambda d: d["next_id"].update(topic=2)),
        "next_id.topic: 2 would reuse the id topic-2",
    ),
    "next_id missing": (damaged(lambda d: d.update(next_id={})), "next_id.topic: missing"),
    "members": (
        damaged(lambda d: d["raw_topics"][0].update(members="p1")),
        "raw_topics[0].members: expected a list of paper ids",
    ),
    "node not object": (
        damaged(lambda d: d["topics"].__setitem__(0, 7)),
        "topics[0]: expected an object, got int 7",
    ),
    "unknown field": (damaged(lambda d: d.update(extra=1)), "extra: unknown field"),
    "version": (damaged(lambda d: d.update(version=2)), "version: unknown version int 2"),
    "papers": (damaged(lambda d: d.update(papers=-1)), "papers: must be >= 0"),
}


def test_a_valid_state_reads_back(tmp_path):
    from taxonomy.curate.ids import read_state, state_json

    (tmp_path / "state.json").write_text(json.dumps(valid_state()), "utf-8")
    state = read_state(tmp_path)
    assert json.loads(state_json(state)) == valid_state()


@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_damaged_state_is_one_line_naming_the_field(tmp_path, case):
    from taxonomy.curate.ids import read_state

    text, needle = STATE_CASES[case]
    (tmp_path / "state.json").write_text(text, "utf-8")
    with pytest.raises(TaxonomyError) as caught:
        read_state(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'state.json'}: run state is damaged: {needle}")


def test_damaged_state_through_assign_is_one_line(tmp_path, no_embedding):
    from taxonomy.atomic import publish

    out = tmp_path / "out"
    state = STATE_CASES["centroid size"][0].encode()
    publish(out, {"state.json": state, "documents.csv": b"id,title,abstract\n"})
    new = tmp_path / "new.csv"
    papers(2).to_csv(new, index=False)
    config = write_config(tmp_path)
    result = CliRunner().invoke(app, ["assign", str(new), "-c", str(config), "--run", str(out)])
    assert "state.json: run state is damaged: topics[1].centroid" in one_line_error(result)


@pytest.mark.parametrize(
    ("block", "setting"),
    [
        ("cache", "cache_dir"),
        ("cache/embeddings", "cache_dir"),
        ("cache/stages", "cache_dir"),
        ("o", "--run"),
        ("parent", "--run"),
    ],
)
def test_blocked_folders_fail_before_embedding(tmp_path, no_embedding, block, setting):
    data = tmp_path / "papers.csv"
    papers(4).to_csv(data, index=False)
    config = write_config(tmp_path, input={"paths": [str(data)]})
    (tmp_path / block).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / block).write_text("a file in the way")
    out = tmp_path / "parent" / "o" if block == "parent" else tmp_path / "o"
    result = CliRunner().invoke(app, ["run", "-c", str(config), "-o", str(out)])
    line = one_line_error(result)
    assert line.startswith(f"error: {config}: {setting}: {tmp_path / block}")
    assert "is a file, not a folder" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_fails_before_embedding(tmp_path, no_embedding):
    data = tmp_path / "papers.csv"
    papers(4).to_csv(data, index=False)
    config = write_config(tmp_path, input={"paths": [str(data)]})
    out = tmp_path / "o"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = CliRunner().invoke(app, ["run", "-c", str(config), "-o", str(out)])
    finally:
        out.chmod(0o700)
    assert "--out: cannot write in" in one_line_error(result)


# --- 8. terminal escapes ------------------------------------------------------------------------


def test_control_characters_in_messages_are_shown_escaped():
    err = TaxonomyError("bad \x07 value \x9b", path="evil\x1b]0;pwned\x07.csv", line=3)
    assert str(err) == "evil\\x1b]0;pwned\\x07.csv:3: bad \\x07 value \\x9b"
    assert printable("a\u202eb\x00") == "a\\u202eb\\x00"


def test_escape_sequences_in_a_file_name_reach_the_terminal_escaped(tmp_path, no_embedding):
    name = "evil\x1b]0;pwned\x07\x1b[2J.csv"
    (tmp_path / name).write_bytes(b"title\nno abstract column\n")
    config = write_config(tmp_path, input={"paths": [str(tmp_path / name)]})
    result = CliRunner().invoke(app, ["run", "-c", str(config), "-o", str(tmp_path / "o")])
    line = one_line_error(result)
    assert "\x1b" not in line and "\x07" not in line
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J.csv" in line


@pytest.mark.parametrize(
    ("label", "needle"),
    [
        ("Nice\x1b[31m red\x00", "control character '\\x1b' not allowed"),
        ("two\nlines", "control character '\\n' not allowed"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_curation_labels_are_printable_single_lines(tmp_path, label, needle):
    from taxonomy.curate.edits import load_curation

    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump({"rename": {"topic-1": label}}), "utf-8")
    with pytest.raises(TaxonomyError) as caught:
        load_curation(path, required=True)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and "rename.topic-1: " in message
    assert needle in message and "\x1b" not in message and "\x00" not in message
    for kind in ("merge", "seeds"):
        spec = (
            {"merge": [{"ids": ["topic-1", "topic-2"], "label": label}]}
            if kind == "merge"
            else {"seeds": [{"name": label}]}
        )
        path.write_text(yaml.safe_dump(spec), "utf-8")
        with pytest.raises(TaxonomyError, match="not allowed|at most 200"):
            load_curation(path, required=True)


# --- 9. silent acceptance -----------------------------------------------------------------------


def _parquet_cases() -> dict:
    import datetime

    import pyarrow as pa

    return {
        "int": pa.array([1, 2]),
        "list": pa.array([[1, 2], [3]]),
        "bytes": pa.array([b"\x00\xff", b"ab"]),
        "struct": pa.array([{"a": 1}, {"a": 2}]),
        "timestamp": pa.array([datetime.datetime(2020, 1, 1)] * 2),
    }


@pytest.mark.parametrize("kind", ["int", "list", "bytes", "struct", "timestamp"])
@pytest.mark.parametrize("column", ["abstract", "title"])
def test_parquet_text_columns_of_other_types_are_errors(tmp_path, kind, column):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from taxonomy.ingest import read_corpus

    text = pa.array(["An abstract about attention.", "Another one about retrieval."])
    columns = {"title": pa.array(["T1", "T2"]), "abstract": text}
    columns[column] = _parquet_cases()[kind]
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(TaxonomyError) as caught:
        read_corpus([path])
    assert str(caught.value).startswith(f"{path}: column {column!r} (input.{column}_column) holds")
    assert str(caught.value).endswith("not text")


def test_parquet_text_and_dictionary_columns_still_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from taxonomy.ingest import read_corpus

    path = tmp_path / "p.parquet"
    abstracts = pa.array(["An abstract about attention.", "Another one about retrieval."])
    title = pa.array(["T1", None]).dictionary_encode()
    pq.write_table(pa.table({"title": title, "abstract": abstracts}), path)
    assert [p.title for p in read_corpus([path]).papers] == ["T1", None]


def test_short_csv_rows_are_counted_in_a_warning(tmp_path, caplog):
    from taxonomy.ingest import read_corpus

    path = tmp_path / "ragged.csv"
    path.write_text(
        "title,abstract\nA,An abstract about attention.\nB\nC\nD,Another about retrieval.\n"
    )
    with caplog.at_level(logging.WARNING, logger="taxonomy.ingest"):
        corpus = read_corpus([path])
    assert len(corpus) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{path}: skipped 2 row(s) without a 'abstract' field (fewer fields than the header, "
        "or no such key), first at line 3"
    ]


# --- issue 16: suggestions for unknown keys --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sed: 3\n", "sed: unknown setting; did you mean 'seed'?"),
        (
            "embed:\n  batchsize: 3\n",
            "embed.batchsize: unknown setting; did you mean 'batch_size'?",
        ),
        ("input:\n  max_byte: 3\n", "input.max_byte: unknown setting; did you mean 'max_bytes'?"),
        ("zzz: 1\n", "zzz: unknown setting"),
    ],
)
def test_config_suggests_close_keys(tmp_path, text, needle):
    from taxonomy.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(TaxonomyError) as caught:
        load_config(path)
    assert needle in str(caught.value)
    if "did you" not in needle:
        assert "did you" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("renam:\n  topic-1: x\n", "renam: unknown key; did you mean 'rename'?"),
        ("exclude:\n  paper: [a]\n", "exclude.paper: unknown key; did you mean 'papers'?"),
        ("merge:\n  - ids: [topic-1, topic-2]\n    lable: x\n", "did you mean 'label'?"),
        ("seeds:\n  - name: kv\n    keyword: [a]\n", "did you mean 'keywords'?"),
    ],
)
def test_curation_suggests_close_keys(text, needle):
    from taxonomy.curate.edits import parse_curation

    with pytest.raises(TaxonomyError) as caught:
        parse_curation(text, "taxonomy.yaml")
    assert needle in str(caught.value)
