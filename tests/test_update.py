"""A run over an earlier run updates its taxonomy instead of refitting it (taxonomy.curate.update).

Small corpora (under 30 papers: PCA instead of UMAP) and the bag-of-words stand-in embedder,
so each run takes about a second.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxonomy.pipeline import run

POOLS = {
    "cache": "kv cache memory eviction decoding tokens compression attention keys values",
    "rag": "retrieval passages dense retriever reranking grounding search index documents",
    "code": "code program synthesis python unit tests compiler functions repository bugs",
}
NEW_POOL = "speech audio recognition acoustic spoken waveform transcription speaker voice asr"


def papers(pool: str, words: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    vocab = words.split()
    return [
        {
            "arxiv_id": f"2401.{seed:02d}{i:03d}",
            "title": f"{pool} paper {seed}-{i}",
            "abstract": " ".join(rng.choices(vocab, k=18)),
        }
        for i in range(n)
    ]


def corpus(extra: list[dict] | None = None) -> list[dict]:
    rows = [r for k, (pool, words) in enumerate(POOLS.items()) for r in papers(pool, words, 8, k)]
    return rows + (extra or [])


def setup(tmp_path: Path, rows: list[dict], curation: dict | None = None, **cfg) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(data / "papers.csv", index=False)
    (tmp_path / "curation.yaml").write_text(yaml.safe_dump(curation or {}))
    config = {
        "cache_dir": str(tmp_path / "cache"),
        "curation": str(tmp_path / "curation.yaml"),
        "input": {"paths": [str(data)]},
        **cfg,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def documents(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False).set_index("id")


@pytest.fixture(autouse=True)
def _fake(fake_embedder):
    return fake_embedder


def test_unchanged_input_updates_to_the_same_files(tmp_path):
    config, out = setup(tmp_path, corpus()), tmp_path / "out"
    first = run(config, out=out)
    assert first.changes["run"]["mode"] == "fit"
    before = {n: (out / n).read_bytes() for n in ("taxonomy.yaml", "documents.csv", "map.html")}
    second = run(config, out=out)
    assert second.changes["run"]["mode"] == "update"
    assert {n: (out / n).read_bytes() for n in before} == before
    assert "Updated the previous taxonomy" in (out / "changes.md").read_text()
    refit = run(config, out=out, refit=True)  # a full fit again, ids matched: the same files
    assert refit.changes["run"]["reason"] == "--refit asked for"
    assert {n: (out / n).read_bytes() for n in before} == before


def test_excluding_a_paper_moves_no_other_paper(tmp_path):
    rows = corpus()
    config, out = setup(tmp_path, rows), tmp_path / "out"
    run(config, out=out)
    before = documents(out)
    gone = rows[5]["arxiv_id"]
    run(setup(tmp_path, rows, {"exclude": {"papers": [gone]}}), out=out)
    after = documents(out)
    assert gone not in after.index and len(after) == len(before) - 1
    columns = ["topic_id", "theme_id", "topic_label", "x", "y"]
    assert after[columns].equals(before.drop(index=gone)[columns])


def test_a_new_subject_becomes_a_proposed_topic_under_a_theme(tmp_path):
    config, out = setup(tmp_path, corpus()), tmp_path / "out"
    run(config, out=out)
    old_topics = set(documents(out)["topic_id"])
    new_rows = papers("speech", NEW_POOL, 6, 9)
    result = run(setup(tmp_path, corpus(new_rows)), out=out)
    after = documents(out)
    placed = after.loc[[r["arxiv_id"] for r in new_rows]]
    assert placed["topic_id"].nunique() == 1
    topic = placed["topic_id"].iloc[0]
    assert topic not in old_topics and placed["theme_id"].iloc[0]
    assert result.changes["run"]["emerging"] == [6]
    assert "new topic proposed from 6 papers" in (out / "changes.md").read_text()
    kept = after.loc[documents(out).index.isin(old_topics) | ~after.index.isin(placed.index)]
    assert set(kept["topic_id"]) - {topic} <= old_topics


def test_changed_fit_settings_or_refit_flag_fit_afresh_and_say_why(tmp_path):
    rows, out = corpus(), tmp_path / "out"
    run(setup(tmp_path, rows), out=out)
    result = run(setup(tmp_path, rows, cluster={"min_size": 4}), out=out)
    assert result.changes["run"]["reason"] == "settings the fit depends on changed: cluster"
    result = run(setup(tmp_path, rows, cluster={"min_size": 4}), out=out, refit=True)
    assert result.changes["run"]["reason"] == "--refit asked for"
    label_only = run(
        setup(tmp_path, rows, cluster={"min_size": 4}, label={"n_keywords": 5}), out=out
    )
    assert label_only.changes["run"]["mode"] == "update"  # labels are chosen on every run anyway


def test_a_fit_sample_above_the_corpus_size_does_not_refit(tmp_path):
    from taxonomy.curate.update import FORMER_FIT_SAMPLE, _digest

    rows, out = corpus(), tmp_path / "out"
    run(setup(tmp_path, rows), out=out)
    larger = run(setup(tmp_path, rows, compute={"fit_sample": 5000}), out=out)
    assert larger.changes["run"]["mode"] == "update"  # every paper is fitted either way
    # a state written when the default was 20,000 held that setting's own hash
    state = json.loads((out / "state.json").read_text())
    state["fit"]["settings"]["fit_sample"] = _digest(FORMER_FIT_SAMPLE)
    (out / "state.json").write_text(json.dumps(state))
    assert run(setup(tmp_path, rows), out=out).changes["run"]["mode"] == "update"


def test_fit_sample_counts_where_it_is_below_the_corpus_size():
    from taxonomy.config import resolve_config
    from taxonomy.curate.update import fit_settings

    def sample_hash(fit_sample: int | None, papers: int) -> str:
        cfg = resolve_config(None, {"compute.fit_sample": fit_sample})
        return fit_settings(cfg, papers)["fit_sample"]

    assert sample_hash(5000, 461) == sample_hash(10_000, 461) == sample_hash(None, 461)
    assert sample_hash(5000, 20_000) != sample_hash(10_000, 20_000) != sample_hash(None, 20_000)


EDITS = st.lists(
    st.sampled_from(["rename", "delete", "merge", "exclude", "add", "drop"]), max_size=3
)


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(EDITS, min_size=1, max_size=3))
def test_changes_agree_with_the_taxonomy_after_any_edits(tmp_path_factory, steps):
    """Property: after any sequence of edits and corpus changes, changes.json is consistent
    with taxonomy.yaml: removed / merged-away / split ids are absent, added ids present, and
    the paper counts add up."""
    tmp = tmp_path_factory.mktemp("prop")
    rows, out, extra = corpus(), tmp / "out", 0
    run(setup(tmp, rows), out=out)
    for step in steps:
        doc = yaml.safe_load((out / "taxonomy.yaml").read_text())
        topics = [t["id"] for th in doc["themes"] for t in th["children"]]
        curation: dict = {}
        for edit in step:
            if edit == "rename":
                curation.setdefault("rename", {})[topics[0]] = "Renamed"
            elif edit == "delete" and len(topics) > 2:
                curation["delete"] = [topics[-1]]
            elif edit == "merge" and len(topics) > 3:
                curation["merge"] = [{"ids": [topics[1], topics[2]]}]
            elif edit == "exclude":
                curation["exclude"] = {"papers": [rows[3]["arxiv_id"]]}
            elif edit == "add":
                rows = rows + papers("speech", NEW_POOL, 4, 20 + extra)
                extra += 1
            elif edit == "drop":
                rows = rows[2:]
        if "delete" in curation and "merge" in curation:
            curation.pop("merge")
        run(setup(tmp, rows, curation), out=out)
        check_consistency(out)


def check_consistency(out: Path) -> None:
    changes = json.loads((out / "changes.json").read_text())
    doc = yaml.safe_load((out / "taxonomy.yaml").read_text())
    ids = {
        "themes": {th["id"] for th in doc["themes"]},
        "topics": {t["id"] for th in doc["themes"] for t in th["children"]},
    }
    for level in ("themes", "topics"):
        diff = changes[level]
        assert all(n["id"] not in ids[level] for n in diff["removed"]), diff["removed"]
        assert all(n["id"] in ids[level] for n in diff["added"]), diff["added"]
        for merge in diff["merged"]:
            assert merge["id"] in ids[level]
            assert all(s["id"] not in ids[level] or s["id"] == merge["id"] for s in merge["from"])
        for split in diff["split"]:
            parts = {p["id"] for p in split["into"]}
            assert split["id"] not in ids[level] or split["id"] in parts
            assert parts <= ids[level]
    sizes = sum(t["size"] for th in doc["themes"] for t in th["children"])
    assert sizes + doc["unassigned"] == doc["papers"] == changes["papers"]["current"]
    assert changes["papers"]["unassigned"] == doc["unassigned"]


@pytest.mark.slow
def test_rerunning_unchanged_seeds_embeds_nothing_new(tmp_path, fake_embedder):
    # Themes keeping their names are not named again: doing so asked the model for written
    # forms the fit had not embedded, and a warm re-run loaded it (~4 s) for four phrases.
    seeds = Path(__file__).resolve().parents[1] / "data/seeds"
    settings = {"cache_dir": str(tmp_path / "cache"), "input.paths": [str(seeds)]}
    first = run(None, out=tmp_path / "out", **settings)
    embedded = fake_embedder.calls
    second = run(None, out=tmp_path / "out", **settings)
    assert second.changes["run"]["mode"] == "update"
    assert fake_embedder.calls == embedded
    assert second.taxonomy.labels == first.taxonomy.labels
