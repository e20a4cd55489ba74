"""`taxonomy assign` on a small synthetic run (deterministic stand-in embeddings, no model).

Slow only because UMAP's first call in a process compiles (numba).
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from taxonomy.cli import app
from taxonomy.pipeline import run

pytestmark = pytest.mark.slow
POOLS = {
    "cache": "kv cache memory eviction decoding tokens compression attention keys values",
    "speech": "speech audio recognition acoustic spoken waveform transcription speaker voice asr",
    "code": "code program synthesis python unit tests compiler functions repository bugs",
}


@pytest.fixture(autouse=True)
def _fake_embeddings(fake_embedder):
    return fake_embedder


def abstracts(pool: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    words = POOLS[pool].split()
    return [
        {"title": f"{pool} paper {seed}-{i}", "abstract": " ".join(rng.choices(words, k=20))}
        for i in range(n)
    ]


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def fitted(tmp_path) -> Path:
    rows = [r for k, pool in enumerate(POOLS) for r in abstracts(pool, 25, k)]
    data = write_csv(tmp_path / "papers.csv", rows)
    cfg = {"cache_dir": str(tmp_path / "cache"), "curation": None, "input": {"paths": [str(data)]}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    run(tmp_path / "config.yaml", out=tmp_path / "out")
    return tmp_path


def assign(folder: Path, rows: list[dict], name: str):
    new = write_csv(folder / name, rows)
    args = ["assign", str(new), "-c", str(folder / "config.yaml"), "--run", str(folder / "out")]
    return CliRunner().invoke(app, args)


def test_assign_places_near_papers_and_buckets_the_rest(fitted):
    out = fitted / "out"
    before = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False)
    yaml_before = (out / "taxonomy.yaml").read_bytes()
    odd = {"title": "Odd one", "abstract": "zebra quartz volcano tulip saxophone glacier"}
    typical = [{"title": f"Speech {i}", "abstract": POOLS["speech"] * (i + 1)} for i in range(2)]
    res = assign(fitted, [*typical, odd], "new.csv")
    assert res.exit_code == 0, res.output
    assert "unassigned / possibly new theme" in res.output
    after = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False)
    assert len(after) == len(before) + 3 and after.iloc[: len(before)].equals(before)
    new = after.iloc[len(before) :].set_index("title")
    speech = before["title"].str.startswith("speech")
    speech_topics = set(before.loc[speech, "topic_id"]) - set(before.loc[~speech, "topic_id"])
    for title in ("Speech 0", "Speech 1"):
        assert new.loc[title, "topic_id"] in speech_topics
    assert new.loc["Odd one", "topic_id"] == "unassigned"
    assert new.loc["Odd one", "topic_label"] == "Unassigned / possibly new theme"
    assert (out / "taxonomy.yaml").read_bytes() == yaml_before
    assert "Odd one" in (out / "map.html").read_text(encoding="utf-8")
    # a second batch reuses the bucket; papers already in the run are skipped
    other = {"title": "Odder", "abstract": "marmalade trombone cactus nebula"}
    res = assign(fitted, [odd, other], "more.csv")
    assert res.exit_code == 0, res.output
    final = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False)
    assert len(final) == len(after) + 1
    assert (final["topic_id"] == "unassigned").sum() == 2
    assert final.groupby("theme_id")["theme_label"].nunique().max() == 1
