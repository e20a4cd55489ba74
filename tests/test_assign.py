"""`taxonomy assign` (taxonomy/assign.py): refusals that keep a run folder consistent."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from taxonomy.cli import app
from taxonomy.pipeline import run

WORDS = {
    "cache": "kv cache memory eviction decoding tokens compression attention keys values",
    "code": "code program synthesis python unit tests compiler functions repository bugs",
}


def corpus(tmp_path, name: str, offset: int):
    rows = [
        {"title": f"{k} {name} {i}", "abstract": f"{w} {name} number {i + offset}"}
        for k, w in WORDS.items()
        for i in range(10)
    ]
    folder = tmp_path / name
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "papers.csv", index=False)
    cfg = {
        "cache_dir": str(tmp_path / "cache"),
        "curation": None,
        "input": {"paths": [str(folder)]},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def test_a_state_file_from_another_corpus_is_refused(tmp_path, fake_embedder):
    one, two = corpus(tmp_path, "one", 0), corpus(tmp_path, "two", 100)
    run(one / "config.yaml", out=one / "out")
    run(two / "config.yaml", out=two / "out")
    shutil.copy(two / "out" / "state.json", one / "out" / "state.json")
    before = (one / "out" / "documents.csv").read_bytes()
    new = tmp_path / "new.csv"
    pd.DataFrame([{"title": "New", "abstract": "kv cache eviction tokens"}]).to_csv(
        new, index=False
    )
    args = ["assign", str(new), "-c", str(one / "config.yaml"), "--run", str(one / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "state.json does not belong to documents.csv" in result.output
    assert (one / "out" / "documents.csv").read_bytes() == before


@pytest.mark.parametrize("missing", ["topic_id", "x"])
def test_a_documents_file_without_its_columns_is_refused(tmp_path, fake_embedder, missing):
    one = corpus(tmp_path, "one", 0)
    run(one / "config.yaml", out=one / "out")
    docs = pd.read_csv(one / "out" / "documents.csv", dtype=str, keep_default_na=False)
    docs.drop(columns=[missing]).to_csv(one / "out" / "documents.csv", index=False)
    new = tmp_path / "new.csv"
    pd.DataFrame([{"title": "New", "abstract": "kv cache eviction tokens"}]).to_csv(
        new, index=False
    )
    args = ["assign", str(new), "-c", str(one / "config.yaml"), "--run", str(one / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and f"missing column(s) {missing}" in result.output
