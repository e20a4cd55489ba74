"""Labels-file joining and the run-level reports (metrics: test_metrics.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from taxonomy.errors import TaxonomyError
from taxonomy.evaluate import (
    UNASSIGNED,
    coherence_report,
    evaluate_run,
    format_label_check,
    format_report,
    join_labels,
    label_check,
    load_labels,
    read_documents,
    read_topic_keywords,
)
from taxonomy.evaluate.datasets import newsgroups_rows

REAL_LABELS = Path(__file__).resolve().parents[2] / "shared/eval/seeds_dev_labels.jsonl"

# ---------------------------------------------------------------- labels files


def _docs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["2303.11366", "1911.02150", "h0123456789ab", "h999"],
            "title": ["Reflexion", "Fast decoding", "", "Speech"],
            "abstract": [
                "Agents that reflect.",
                "Multi-query attention.",
                "A  plain\nabstract.",
                "Speech models.",
            ],
            "arxiv_id": ["2303.11366", "1911.02150", "", ""],
            "topic_id": ["t1", "t2", "t2", ""],
            "theme_id": ["h1", "h2", "h2", ""],
        }
    )


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_join_by_id_arxiv_id_and_abstract(tmp_path):
    labels_file = _write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"id": "2303.11366", "theme": "agents"},
            {"arxiv_id": "1911.02150v2", "abstract": None, "theme": "inference"},
            {
                "title": None,
                "arxiv_id": None,
                "abstract": "A plain abstract.",
                "theme": "misc",
                "also_acceptable": ["other"],
            },
            {"arxiv_id": "2401.00001", "theme": "nowhere"},
            {"id": "2303.11366", "theme": "agents-again"},
        ],
    )
    labels = load_labels(labels_file)
    join = join_labels(_docs(), labels)
    assert list(join.documents["label"]) == ["agents", "inference", "misc", ""]
    assert join.documents["also_acceptable"][2] == ["other"]
    assert join.n_labels == 5 and join.n_matched == 3
    assert join.unmatched_lines == [4] and join.n_unmatched == 1
    assert join.duplicate_lines == [5]


def test_csv_labels_and_label_field(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        'arxiv_id,abstract,label,gold\n2303.11366v1,,agents,A\n,"A plain\nabstract.",misc,B\n',
        encoding="utf-8",
    )
    labels = load_labels(path)  # no `theme` column: falls back to `label`
    assert list(labels["label"]) == ["agents", "misc"]
    assert list(labels["line"]) == [2, 3]
    assert list(load_labels(path, label_field="gold")["label"]) == ["A", "B"]
    join = join_labels(_docs(), labels)
    assert list(join.documents["label"]) == ["agents", "", "misc", ""]


def test_missing_labels_file(tmp_path):
    with pytest.raises(TaxonomyError, match="not found") as err:
        load_labels(tmp_path / "nope.jsonl")
    assert err.value.path == str(tmp_path / "nope.jsonl")


def test_bad_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"id": "a", "theme": "x"}\n\n{"id": "b", "theme": \n', encoding="utf-8")
    with pytest.raises(TaxonomyError) as err:
        load_labels(path)
    assert err.value.line == 3
    assert f"{path}:3" in str(err.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "b"}', "missing value for label field"),
        ('{"theme": "x"}', "no id, arxiv_id or abstract"),
        ('["id", "b"]', "expected a JSON object"),
    ],
)
def test_bad_records(tmp_path, line, message):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"id": "a", "theme": "x"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message) as err:
        load_labels(path)
    assert err.value.line == 2


def test_no_label_field(tmp_path):
    path = _write_jsonl(tmp_path / "labels.jsonl", [{"id": "a", "topic": "x"}])
    with pytest.raises(TaxonomyError, match="no label field"):
        load_labels(path)


def test_read_documents_keeps_ids_as_text(tmp_path):
    path = tmp_path / "documents.csv"
    _docs().to_csv(path, index=False)
    frame = read_documents(path)
    assert frame["arxiv_id"][1] == "1911.02150"
    assert frame["topic_id"][3] == ""
    with pytest.raises(TaxonomyError, match="not found"):
        read_documents(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("id,abstract\n1,x\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="missing column"):
        read_documents(tmp_path / "bad.csv")


@pytest.mark.skipif(not REAL_LABELS.is_file(), reason="shared dev labels not available")
def test_real_dev_labels_file_loads():
    labels = load_labels(REAL_LABELS)
    assert len(labels) > 0
    assert (labels["label"] != "").all()
    assert not labels["arxiv_id"].str.contains(r"v\d+$").any()


# ---------------------------------------------------------------- run reports


def _labelled(topic_ids, theme_ids, labels) -> pd.DataFrame:
    n = len(labels)
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "title": [""] * n,
            "abstract": [f"abstract {i}" for i in range(n)],
            "arxiv_id": [""] * n,
            "topic_id": topic_ids,
            "theme_id": theme_ids,
            "label": labels,
        }
    )


def test_evaluate_run_perfect_and_unassigned_cluster():
    docs = _labelled(["t1", "t1", "", ""], ["h1", "h1", "h1", "h1"], list("aabb"))
    result = evaluate_run(docs, None)
    topic = result["levels"]["topic"]
    # Unassigned papers form one cluster (b b), so the topic level is perfect...
    assert topic["nmi"] == pytest.approx(1.0) and topic["harmonic_purity"] == pytest.approx(1.0)
    assert topic["coverage"] == pytest.approx(0.5) and topic["n_clusters"] == 1
    # ... while one theme for everything is a constant clustering.
    theme = result["levels"]["theme"]
    assert theme["nmi"] == pytest.approx(0.0) and theme["coverage"] == pytest.approx(1.0)
    assert theme["purity"] == pytest.approx(0.5)
    assert result["n_labelled"] == 4 and result["n_classes"] == 2
    json.dumps(result, allow_nan=False)  # JSON-ready


def test_ignore_label_excluded():
    labels = ["a", "a", "b", "b", "other", "Other"]
    docs = _labelled(["t1", "t1", "t2", "t2", "t1", ""], ["h"] * 6, labels)
    result = evaluate_run(docs, None)
    assert result["n_labelled"] == 4 and result["n_ignored"] == 2
    assert result["levels"]["topic"]["nmi"] == pytest.approx(1.0)
    assert result["levels"]["topic"]["coverage"] == pytest.approx(1.0)
    assert result["levels"]["topic"]["coverage_all"] == pytest.approx(5 / 6)
    kept = evaluate_run(docs, None, ignore_labels=())
    assert kept["n_labelled"] == 6 and kept["levels"]["topic"]["nmi"] < 1.0


def test_evaluate_run_with_labels_frame(tmp_path):
    path = _write_jsonl(
        tmp_path / "l.jsonl",
        [
            {"id": "2303.11366", "theme": "x"},
            {"arxiv_id": "1911.02150", "theme": "y"},
            {"arxiv_id": "0000.00000", "theme": "z"},
        ],
    )
    result = evaluate_run(_docs(), load_labels(path))
    assert result["labels"]["n_unmatched"] == 1 and result["labels"]["unmatched_lines"] == [3]
    assert result["levels"]["topic"]["nmi"] == pytest.approx(1.0)
    table = format_report(result)
    assert table.row_count == 8
    with pytest.raises(ValueError):
        evaluate_run(_docs(), None)


def test_evaluate_run_no_labelled_papers():
    result = evaluate_run(_labelled(["t1"], ["h1"], ["other"]), None)
    assert result["levels"]["topic"]["nmi"] is None
    assert UNASSIGNED not in result["levels"]["topic"]


def test_coherence_report():
    docs = pd.DataFrame(
        {
            "title": ["Fine-tuning", "KV cache", "Fine-Tuning again", "Nothing"],
            "abstract": ["adapters everywhere", "memory saving", "more adapters", "here"],
        }
    )
    keywords = {
        "t1": ["fine-tuning", "adapters"],
        "t2": ["kv cache", "memory", "adapters"],
        "t3": [],
    }
    result = coherence_report(docs, keywords)
    # t1: "fine tuning" and "adapters" are both in papers 0 and 2 only -> 1.
    assert result["npmi"]["t1"] == pytest.approx(1.0)
    # t2: (kv cache, memory) = 1, (kv cache, adapters) = -1, (memory, adapters) = -1.
    assert result["npmi"]["t2"] == pytest.approx(-1 / 3)
    assert result["npmi"]["t3"] is None
    assert result["mean_npmi"] == pytest.approx((1 - 1 / 3) / 2)
    # 5 keywords, "adapters" twice -> 4 unique of 5.
    assert result["diversity"] == pytest.approx(4 / 5)
    json.dumps(result, allow_nan=False)
    assert format_report(result).row_count == 5


def test_read_topic_keywords(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text(
        "papers: 3\nthemes:\n- id: h1\n  keywords: [x]\n  children:\n"
        "  - id: t1\n    keywords: [kv cache, memory]\n  - id: t2\n    keywords: []\n",
        encoding="utf-8",
    )
    assert read_topic_keywords(path) == {"t1": ["kv cache", "memory"], "t2": []}
    path.write_text("themes: [\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="invalid YAML"):
        read_topic_keywords(path)


def test_unassigned_papers_are_one_cluster_hand_computed():
    # gold a a b b / topics t1 t1 t2 "" -> clusters x x y U. Cells: a:x2, b:y1 U1.
    # sum C(n_ij,2) = 1; rows C(2,2)+C(2,2) = 2; cols C(2,2) = 1; C(4,2) = 6.
    # expected = 2*1/6 = 1/3; max = (2 + 1)/2 = 3/2; ARI = (1 - 1/3)/(3/2 - 1/3) = 4/7.
    docs = _labelled(["t1", "t1", "t2", ""], ["h1", "h1", "h2", ""], list("aabb"))
    topic = evaluate_run(docs, None)["levels"]["topic"]
    assert topic["ari"] == pytest.approx(4 / 7)
    # purity: columns x, y, U -> 2 + 1 + 1 = 4/4; inverse: rows a 2, b 1 -> 3/4.
    assert topic["purity"] == pytest.approx(1.0)
    assert topic["inverse_purity"] == pytest.approx(0.75)
    assert topic["coverage"] == pytest.approx(0.75) and topic["n_clusters"] == 2


def test_label_check_names_the_topic_holding_most_of_each_class():
    true = ["a"] * 4 + ["b"] * 3 + ["c"]
    ids = ["t1", "t1", "t2", "", "t2", "t2", "t3", "t3", "t9"]
    names = ["KV cache", "KV cache", "Speech", "", "Speech", "Speech", "Code", "Code", "x"]
    rows = label_check(true, (ids, names), scored=list(range(8)), min_papers=3)
    # a: t1 twice, t2 once, one unassigned -> t1; b: t2 twice (docs 4, 5), t3 once -> t2;
    # c has 1 paper (< 3) -> no row.
    assert [(r["class"], r["topic_label"], r["in_topic"], r["papers"]) for r in rows] == [
        ("a", "KV cache", 2, 4),
        ("b", "Speech", 2, 3),
    ]
    assert rows[0]["share"] == pytest.approx(0.5)
    # Next topics holding 2+ of the class's papers: none here (a has t2 once, b has t3 once).
    assert [r["also"] for r in rows] == [[], []]
    wide = label_check(
        ["a"] * 7, (["t1"] * 3 + ["t2"] * 2 + ["t3"] * 2, list("AAABBCC")), list(range(7)), 3
    )
    assert wide[0]["topic_label"] == "A" and wide[0]["also"] == [("B", 2), ("C", 2)]
    # A tie goes to the topic id first in sorted order.
    tie = label_check(["a", "a"], (["t2", "t1"], ["B", "A"]), scored=[0, 1], min_papers=2)
    assert tie[0]["topic_label"] == "A"


def test_evaluate_run_reports_label_check_when_topics_have_labels():
    docs = _labelled(["t1"] * 8 + ["t2"] * 2, ["h1"] * 10, ["a"] * 9 + ["b"])
    docs["topic_label"] = ["Alpha"] * 8 + ["Beta"] * 2
    result = evaluate_run(docs, None)
    assert result["label_check"] == [
        {
            "class": "a",
            "papers": 9,
            "topic_id": "t1",
            "topic_label": "Alpha",
            "in_topic": 8,
            "share": pytest.approx(8 / 9),
            "also": [],
        }
    ]
    assert format_label_check(result).row_count == 1
    assert "label_check" not in evaluate_run(docs.drop(columns="topic_label"), None)


def test_newsgroup_posts_are_stripped_like_scikit_learn():
    post = (
        "From: someone@example.com\nSubject: engines\n\n"
        "> quoted reply line\nIn article <1@x> someone writes:\n"
        "The rotary engine is light and smooth.\n\n-- \nsig line\n"
    )
    frame = pd.DataFrame(
        {
            "split": ["test", "test", "train"],
            "text": [post, "Subject: hi\n\nok then", post],
            "label_name": ["rec.autos", "misc.forsale", "rec.autos"],
        }
    )
    rows = newsgroups_rows(frame, "test")
    # Header, quote, "In article" line and signature go; a 2-word post is dropped.
    assert rows == [("The rotary engine is light and smooth.\n", "rec.autos")]
