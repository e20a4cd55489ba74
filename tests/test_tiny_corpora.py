"""Tiny corpora through the whole pipeline: 0 papers is a clear error, 1-20 a valid taxonomy.

Below 30 papers reduce falls back to PCA and cluster to one topic; these tests check that
label, hierarchy and export still produce a parseable taxonomy.yaml, documents.csv and map.
Embeddings come from the deterministic stand-in in helpers/fake_embed.py (no model load).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from taxonomy.cli import app
from taxonomy.errors import TaxonomyError
from taxonomy.pipeline import run

ABSTRACTS = [
    "We compress the KV cache of transformer decoders to cut memory during long generation.",
    "Quantizing the key-value cache to four bits keeps decoding accuracy at half the memory.",
    "Speculative decoding drafts tokens with a small model and verifies them with a large one.",
    "Retrieval-augmented generation grounds answers in passages fetched from a search index.",
    "A dense retriever trained with hard negatives improves open-domain question answering.",
    "Reranking retrieved passages with a cross-encoder raises answer accuracy on benchmarks.",
    "Diffusion models generate images by reversing a gradual noising process step by step.",
    "Latent diffusion runs the denoising process in a compressed space to save compute.",
    "Text-to-image diffusion is guided by classifier-free guidance for sharper samples.",
    "Speech recognition with self-supervised audio encoders needs little labelled speech.",
    "A streaming speech recognizer transcribes audio with low latency on mobile devices.",
    "Text-to-speech synthesis with neural vocoders produces natural sounding voices.",
    "Reinforcement learning from human feedback aligns language models with preferences.",
    "Direct preference optimization replaces the reward model with a classification loss.",
    "Reward hacking appears when the policy exploits flaws of the learned reward model.",
    "Graph neural networks pass messages along edges to predict molecular properties.",
    "Protein structure prediction uses attention over residue pairs and multiple alignments.",
    "Robots learn manipulation skills from demonstrations with diffusion policies.",
    "Vision-language-action models map camera images and instructions to robot actions.",
    "Code generation models are evaluated by running unit tests on generated programs.",
]
EXPECTED = {"taxonomy.yaml", "documents.csv", "map.html"}


@pytest.fixture(autouse=True)
def _fake_embeddings(fake_embedder):
    return fake_embedder


def make_config(tmp_path: Path, abstracts: list[str], **extra) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    pd.DataFrame({"abstract": abstracts}).to_csv(data / "papers.csv", index=False)
    cfg = {"cache_dir": str(tmp_path / "cache"), "input": {"paths": [str(data)]}, **extra}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def check_outputs(out: Path, n_papers: int) -> dict:
    assert EXPECTED <= {p.name for p in out.iterdir()}
    doc = yaml.safe_load((out / "taxonomy.yaml").read_text(encoding="utf-8"))
    assert doc["papers"] == n_papers and len(doc["themes"]) >= 1
    assert sum(t["size"] for t in doc["themes"]) + doc["unassigned"] == n_papers
    for theme in doc["themes"]:
        assert theme["label"] and theme["children"]
        assert theme["size"] == sum(t["size"] for t in theme["children"])
        for topic in theme["children"]:
            assert topic["label"] and topic["size"] >= 1 and topic["papers"]
    docs = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False)
    assert len(docs) == n_papers and docs["id"].is_unique
    page = (out / "map.html").read_text(encoding="utf-8")
    blob = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S)
    assert blob and len(json.loads(blob.group(1))["id"]) == n_papers
    return doc


@pytest.mark.parametrize("n", [1, 2, 3, 5, 20])
def test_tiny_corpus_gives_a_valid_taxonomy_and_map(tmp_path, n):
    result = run(make_config(tmp_path, ABSTRACTS[:n]), out=tmp_path / "out")
    check_outputs(result.out_dir, n)
    assert result.unassigned <= 0.02 * n  # cluster.max_unassigned


def test_abstracts_without_english_words(tmp_path):
    # No token the TF-IDF and phrase vocabularies accept: still one labelled theme.
    abstracts = ["深度学习用于图像识别。", "机器翻译的神经网络方法。", "The and of it is to."]
    check_outputs(run(make_config(tmp_path, abstracts), out=tmp_path / "out").out_dir, 3)


def test_all_duplicates_is_one_paper(tmp_path):
    result = run(make_config(tmp_path, [ABSTRACTS[0]] * 7), out=tmp_path / "out")
    assert result.corpus.n_records == 7
    check_outputs(result.out_dir, 1)


def test_zero_papers_is_a_clear_error_and_writes_nothing(tmp_path):
    cfg = make_config(tmp_path, ["", "  "])
    with pytest.raises(TaxonomyError, match=r"papers\.csv: no abstracts found in this file"):
        run(cfg, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_empty_folder_via_cli_exits_2_with_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"cache_dir": str(tmp_path), "input": {"paths": [str(empty)]}}))
    res = CliRunner().invoke(app, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "Traceback" not in res.output
    assert f"no abstracts found in {empty}" in res.output


@pytest.mark.slow
def test_real_model_on_tiny_corpora(tmp_path, monkeypatch):
    monkeypatch.undo()  # the real sentence model, not the stand-in
    for n in (1, 3, 20):
        folder = tmp_path / str(n)
        folder.mkdir()
        result = run(make_config(folder, ABSTRACTS[:n]), out=folder / "out")
        check_outputs(result.out_dir, n)


@pytest.mark.slow  # 40 whole runs, ~13 s: kept out of the fast tier
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    records=st.lists(
        st.fixed_dictionaries(
            {"abstract": st.text(min_size=1, max_size=300), "title": st.text(max_size=40)}
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_text_gives_valid_outputs(records):
    # 40 generated corpora of arbitrary Unicode (controls, surrogates, RTL, emoji, ...).
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = [json.dumps(r) for r in records]
        (folder / "papers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        cfg = {"cache_dir": str(folder / "c"), "input": {"paths": [str(folder / "papers.jsonl")]}}
        (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
        try:  # embeddings: the autouse stand-in, active for every example
            result = run(folder / "config.yaml", out=folder / "out")
        except TaxonomyError as err:  # every abstract blank after cleaning
            assert "no abstracts found" in str(err)
            return
        check_outputs(result.out_dir, len(result.corpus))
