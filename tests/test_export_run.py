"""What `run` exports besides the tables: report.html, trends.csv, map.png/svg, the title
setting, and RunResult.to_bertopic (fake embedder, 90 dated papers)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from tests.helpers.small_run import small_run


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    return small_run(tmp, tmp / "cache")


def title_of(page: str) -> str:
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1)


def test_run_writes_report_trends_and_figure(done):
    out = done.out_dir
    for kind, name in {
        "report": "report.html",
        "trends": "trends.csv",
        "figure": "map.png",
        "figure_svg": "map.svg",
        "map": "map.html",
    }.items():
        assert done.files[kind] == out / name and (out / name).stat().st_size > 0
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (out / "map.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "Topics in papers" in svg
    # The title defaults to the first input's name, on every page.
    for name in ("map.html", "report.html"):
        assert title_of((out / name).read_text(encoding="utf-8")) == "Topics in papers"
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="fig-similarity"' in report  # topic centroids of the run's embeddings


def test_trends_csv_matches_documents_csv(done):
    docs = pd.read_csv(done.out_dir / "documents.csv", dtype=str, keep_default_na=False)
    trends = pd.read_csv(done.out_dir / "trends.csv", dtype={"papers": int}, keep_default_na=False)
    assert set(trends["month"]) == {f"2024-{m:02d}" for m in range(1, 7)}
    for level in ("topic", "theme"):
        expected = docs[docs[f"{level}_id"] != ""].groupby([f"{level}_id", "year_month"]).size()
        got = trends[trends["level"] == level].set_index(["id", "month"])["papers"]
        assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()
        # every node has a row for every month, zeros included
        assert len(got) == docs[f"{level}_id"].replace("", np.nan).nunique() * 6


def test_title_setting_and_outputs_off(tmp_path, done):
    result = small_run(
        tmp_path, done.config.cache_dir, title="KV <caches> & co", report=False, figure=False
    )
    names = {p.name for p in result.out_dir.iterdir()}
    assert not names & {"report.html", "trends.csv", "map.png", "map.svg"}
    page = (result.out_dir / "map.html").read_text(encoding="utf-8")
    assert title_of(page) == "KV &lt;caches&gt; &amp; co"


def test_result_holds_embeddings_and_topic_vectors(done):
    assert done.embeddings is not None and done.embeddings.shape[0] == len(done.corpus)
    vectors = done.topic_vectors()
    assert set(vectors) == set(done.taxonomy.ids[0])
    centroid = done.embeddings[done.topic_of == 0].mean(axis=0)
    assert np.allclose(vectors[done.taxonomy.ids[0][0]], centroid / np.linalg.norm(centroid))


@pytest.mark.slow  # importing bertopic takes ~20 s
def test_to_bertopic_sizes_and_terms_agree(done):
    from taxonomy.interop import topic_id_map

    model = done.to_bertopic()
    mapping = topic_id_map(model, done.topic_of)
    info = model.get_topic_info().set_index("Topic")
    for t, topic_id in enumerate(done.taxonomy.ids[0]):
        theirs = mapping[t]
        assert info.loc[theirs, "Count"] == int((done.topic_of == t).sum())
        assert info.loc[theirs, "CustomName"] == done.taxonomy.labels[topic_id]
        # BERTopic's c-TF-IDF terms and our keywords describe the same subject.
        terms = {term for term, _ in model.get_topic(theirs)[:10]}
        ours = {w.lower() for k in done.taxonomy.keywords[topic_id] for w in k.split()}
        assert terms & ours, (topic_id, terms, ours)
    assert model.topic_embeddings_.shape[1] == done.embeddings.shape[1]


def test_map_points_setting_reaches_the_map(tmp_path, done, monkeypatch):
    import taxonomy.export

    seen = {}
    real = taxonomy.export.write_outputs

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(taxonomy.export, "write_outputs", spy)
    small_run(tmp_path, done.config.cache_dir, map_points=5000, report=False, figure=False)
    assert seen["map_points"] == 5000


def test_labels_come_from_a_sample_of_a_large_corpus(tmp_path, done, monkeypatch):
    from taxonomy import label

    seen = []
    real = label.label_taxonomy

    def spy(*args, **kwargs):
        seen.append(kwargs["sample"])
        return real(*args, **kwargs)

    monkeypatch.setattr(label, "LABEL_SAMPLE", 60)
    monkeypatch.setattr(label, "label_taxonomy", spy)
    result = small_run(tmp_path, tmp_path / "cache", report=False, figure=False)
    (sample,) = seen
    assert len(sample) == 60 and len(set(sample.tolist())) == 60
    assert all(result.taxonomy.labels[i] for i in result.taxonomy.ids[0])
