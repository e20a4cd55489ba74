"""End-to-end runs on the bundled seeds and on small files in each format (slow: they embed)."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from taxonomy.cli import app
from taxonomy.pipeline import run

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "data/seeds"
COLUMNS = (
    "id,title,abstract,source,arxiv_id,year_month,topic_id,topic_label,theme_id,theme_label,x,y"
)
pytestmark = pytest.mark.slow


def seed_config(tmp_path: Path, cache_dir: Path, **extra) -> Path:
    cfg = {"cache_dir": str(cache_dir), "input": {"paths": [str(SEEDS)]}, **extra}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("seedrun")
    return run(seed_config(tmp, cache_dir), out=tmp / "out")


def test_seed_run_writes_the_three_outputs(seed_run):
    out = seed_run.out_dir
    assert {p.name for p in out.iterdir()} >= {"taxonomy.yaml", "documents.csv", "map.html"}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    docs = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False)
    assert ",".join(docs.columns) == COLUMNS
    assert len(docs) == 461 and docs["id"].is_unique
    unassigned = (docs["topic_id"] == "").mean()
    assert unassigned <= 0.02
    assert ((docs["topic_id"] == "") == (docs["theme_id"] == "")).all()


def test_seed_taxonomy_has_two_levels_and_unique_labels(seed_run):
    doc = yaml.safe_load((seed_run.out_dir / "taxonomy.yaml").read_text())
    themes = doc["themes"]
    assert len(themes) >= 2
    topics = [t for theme in themes for t in theme["children"]]
    assert 10 <= len(topics) <= 60
    # unique within each level, and across levels but for a theme of one topic, which is
    # named as its topic (issue 14's rule for theme names)
    for level in (themes, topics):
        labels = [n["label"].lower() for n in level]
        assert len(labels) == len(set(labels)), labels
    topic_labels = {t["label"].lower() for t in topics}
    for theme in themes:
        if len(theme["children"]) > 1:
            assert theme["label"].lower() not in topic_labels, theme["label"]
    fields = {"id", "label", "keywords", "size", "papers", "children"}
    for node in themes + topics:
        assert set(node) == fields | ({"named_by"} if node in themes else set())
        assert node["keywords"] and node["papers"] and node["size"] > 0
    assert {t["named_by"] for t in themes} <= {"corpus", "ml-areas", "arxiv-cs"}
    for theme in themes:
        assert theme["size"] == sum(t["size"] for t in theme["children"])
    assert doc["papers"] == 461
    assert sum(t["size"] for t in themes) + doc["unassigned"] == 461


def test_labels_are_phrases_not_stop_words(seed_run):
    stop = {"the", "and", "of", "we", "in", "to", "a", "model", "models", "language"}
    for topic in seed_run.topics:
        assert topic.label.lower() not in stop
        assert not any(k.lower() in stop for k in topic.keywords)
    # n-gram phrases are in play ("KV cache", "Knowledge distillation"), not only single words.
    multi = sum(len(t.label.split()) > 1 for t in seed_run.topics)
    assert multi >= len(seed_run.topics) // 4


def test_rerun_is_deterministic_and_uses_the_cache(seed_run, tmp_path, cache_dir):
    again = run(seed_config(tmp_path, cache_dir), out=tmp_path / "out")
    assert again.newly_embedded == 0
    for name in ("taxonomy.yaml", "documents.csv"):
        assert (again.out_dir / name).read_bytes() == (seed_run.out_dir / name).read_bytes()


def test_other_formats_end_to_end(tmp_path, cache_dir):
    rows = [
        {"title": f"Paper {i}", "abstract": text}
        for i, text in enumerate(
            ["We compress the KV cache of transformers to speed up decoding."] * 4
            + ["Retrieval-augmented generation grounds answers in retrieved passages."] * 4
        )
    ]
    for i, row in enumerate(rows):  # make every abstract distinct
        row["abstract"] += f" Variant {i}."
    (tmp_path / "a.csv").write_text(pd.DataFrame(rows[:3]).to_csv(index=False))
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows[3:6]) + "\n")
    bib = "".join(
        f"@article{{k{i}, title={{{r['title']}}}, abstract={{{r['abstract']}}}}}\n"
        for i, r in enumerate(rows[6:])
    )
    (tmp_path / "c.bib").write_text(bib)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump({"cache_dir": str(cache_dir), "input": {"paths": [str(tmp_path)]}})
    )
    result = run(cfg, out=tmp_path / "out")
    docs = pd.read_csv(tmp_path / "out/documents.csv", dtype=str, keep_default_na=False)
    assert len(docs) == 8
    assert set(docs["source"]) == {"a.csv", "b.jsonl", "c.bib"}
    assert len(result.themes) >= 1 and (docs["topic_id"] != "").all()


def test_cli_run_prints_summary(tmp_path, cache_dir):
    cfg = seed_config(tmp_path, cache_dir)
    res = CliRunner().invoke(app, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    for word in ("papers", "themes", "topics", "unassigned", "embed (s)", "taxonomy.yaml"):
        assert word in res.output


def test_cli_bad_config_exits_2_without_outputs(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("cluster:\n  min_size: 1\n")
    res = CliRunner().invoke(app, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "cluster.min_size: must be ≥ 2" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_cli_unreadable_input_exits_2(tmp_path, cache_dir):
    bad = tmp_path / "notes.txt"
    bad.write_bytes(b"\x00\x01 binary junk \xff\xfe")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"cache_dir": str(cache_dir), "input": {"paths": [str(bad)]}}))
    res = CliRunner().invoke(app, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "notes.txt" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_cli_help_on_every_command():
    runner = CliRunner()
    for args in (["--help"], ["run", "--help"], ["eval", "--help"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and "Usage" in res.output


def test_fit_in_memory_from_texts_and_given_embeddings(fake_embedder, tmp_path):
    from taxonomy.pipeline import fit
    from tests.helpers.fake_embed import FakeEmbedder

    texts = [f"{w} {w} model study {i}" for i, w in enumerate(["cache", "speech", "code"] * 8)]
    result = fit(texts, config=None, cache_dir=str(tmp_path / "cache"))
    assert result.taxonomy.n_papers == len(texts) and result.themes
    assert result.out_dir is None and not result.files
    vectors = FakeEmbedder().encode(texts)
    calls = fake_embedder.calls
    again = fit(texts, embeddings=vectors, cache_dir=str(tmp_path / "cache"))
    assert fake_embedder.calls == calls  # the papers' vectors were used as given
    assert (again.topic_of == result.topic_of).all()
