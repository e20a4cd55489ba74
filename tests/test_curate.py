"""Curation building blocks on small synthetic data: the edits file, edits, ids, changes, seeds."""

import numpy as np
import pytest

from taxonomy.curate import exclude_papers, settle_labels
from taxonomy.curate.apply import apply_edits
from taxonomy.curate.changes import changes_markdown, diff_runs, summary_line
from taxonomy.curate.edits import Edits, load_curation, parse_curation
from taxonomy.curate.ids import STATE_FILE, NodeRecord, match_ids, read_state, state_json
from taxonomy.curate.seeds import apply_seeds
from taxonomy.errors import TaxonomyError
from taxonomy.models import Corpus, Paper
from taxonomy.placement import similarity_floor
from taxonomy.tree import Taxonomy


def edits(text: str) -> Edits:
    return parse_curation(text, "taxonomy.yaml")


def error_of(text: str) -> str:
    with pytest.raises(TaxonomyError) as info:
        edits(text)
    return str(info.value)


# -- the curation file ---------------------------------------------------------------------


def test_shipped_file_is_valid_and_empty():
    shipped = load_curation("configs/taxonomy.yaml", required=True)
    assert shipped.empty


def test_missing_optional_file_means_no_edits(tmp_path):
    assert load_curation(tmp_path / "none.yaml", required=False).empty
    with pytest.raises(TaxonomyError, match="curation file not found"):
        load_curation(tmp_path / "none.yaml", required=True)


def test_invalid_yaml_names_file_and_line():
    message = error_of("rename:\n  topic-1: New\n  topic-2: [unclosed\nmerge: []\n")
    assert message.startswith("taxonomy.yaml:") and "invalid YAML" in message
    assert "(entry: " in message


def test_arxiv_ids_need_no_quotes():
    spec = edits(
        "pin:\n  - paper: 2303.11360\n    node: topic-1\nexclude:\n  papers: [1910.1]\n"
    ).spec
    assert spec.pin[0].paper == "2303.11360" and spec.exclude.papers == ["1910.1"]


def test_unknown_key_and_bad_id_name_line_and_entry():
    assert error_of("delete: []\nrenmae: {}\n").startswith("taxonomy.yaml:2: renmae: unknown key")
    message = error_of("delete:\n  - topic-1\n  - topic-x\n")
    assert message.startswith("taxonomy.yaml:3: delete[1]:") and "topic-x" in message
    message = error_of("split:\n  - id: topic-2\n    into: 1\n")
    assert message.startswith("taxonomy.yaml:3: split[0].into:")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("delete: [topic-1]\nmerge:\n  - ids: [topic-2, topic-1]\n", 3, "merged and deleted"),
        ("merge:\n  - ids: [topic-1, theme-2]\n", 2, "topic with a theme"),
        ("merge:\n  - ids: [topic-1, topic-2]\n  - ids: [topic-3, topic-2]\n", 3, "already"),
        ("split:\n  - id: topic-1\nmerge:\n  - ids: [topic-1, topic-2]\n", 2, "split and merged"),
        ("move:\n  - id: theme-1\n    under: theme-2\n", 2, "topic id and a theme id"),
        (
            "pin:\n  - paper: '2301.00001'\n    node: topic-1\n"
            "  - paper: '2301.00001'\n    node: topic-2\n",
            4,
            "pinned to two nodes",
        ),
        ("exclude:\n  papers: [A title]\npin:\n  - paper: A title\n    node: topic-1\n", 4, "excl"),
        ("delete: [topic-1]\nrename:\n  topic-1: New\n", 3, "deleted"),
        ("seeds:\n  - name: KV cache\n  - name: kv cache\n", 3, "declared twice"),
    ],
)
def test_conflicts_are_reported_with_line_and_entry(text, line, words):
    message = error_of(text)
    assert message.startswith(f"taxonomy.yaml:{line}: ") and words in message
    assert "(entry: " in message


# -- edits on a synthetic taxonomy ----------------------------------------------------------


def corpus(n: int) -> Corpus:
    papers = [
        Paper(
            abstract=f"abstract {i}", source="a.csv", title=f"Title {i}", arxiv_id=f"2301.{i:05d}"
        )
        for i in range(n)
    ]
    return Corpus(papers=papers, n_records=n)


def toy() -> tuple[Taxonomy, np.ndarray, Corpus]:
    """Four topics of 6 papers around four axes; topics 0,1 in theme 0 and 2,3 in theme 1."""
    rng = np.random.default_rng(0)
    topic_of = np.repeat(np.arange(4), 6)
    vectors = np.eye(4)[topic_of] + 0.05 * rng.normal(size=(24, 4))
    vectors[6:9, 1] += 1.0  # topic-2 has two sub-groups (papers 6-8 and 9-11)
    vectors[6:9, 0] += 1.0
    draft = Taxonomy(
        topic_of=topic_of,
        parents=([0, 0, 1, 1],),
        ids=(["topic-1", "topic-2", "topic-3", "topic-4"], ["theme-1", "theme-2"]),
    )
    return draft, vectors, corpus(24)


def run_edits(text: str) -> Taxonomy:
    draft, vectors, papers = toy()
    return apply_edits(draft, edits(text), vectors, papers, seed=0)


def members(draft: Taxonomy, node: str) -> list[int]:
    return np.flatnonzero(draft.topic_of == draft.index(node)).tolist()


def test_no_edits_is_identity():
    draft, vectors, papers = toy()
    out = apply_edits(draft, Edits(), vectors, papers, seed=0)
    assert out.ids == draft.ids and (out.topic_of == draft.topic_of).all()


def test_delete_reassigns_to_nearest_topic():
    out = run_edits("delete: [topic-2]\n")
    assert "topic-2" not in out.ids[0]
    assert (out.topic_of >= 0).all()
    # papers 6-8 lean towards topic-1's axis, so that is where they go
    assert set(range(6, 9)) <= set(members(out, "topic-1"))


def test_delete_theme_removes_its_topics():
    out = run_edits("delete: [theme-2]\n")
    assert out.ids == (("topic-1", "topic-2"), ("theme-1",))
    assert (out.topic_of >= 0).all()


def test_merge_keeps_first_id_and_label():
    out = run_edits("merge:\n  - ids: [topic-3, topic-1]\n    label: Together\n")
    assert "topic-1" not in out.ids[0]
    assert members(out, "topic-3") == list(range(6)) + list(range(12, 18))
    assert out.labels == {"topic-3": "Together"}


def test_split_topic_into_parts_that_can_be_renamed():
    out = run_edits("split:\n  - id: topic-2\n    into: 2\nrename:\n  topic-2.2: Second half\n")
    assert "topic-2" not in out.ids[0]
    assert sorted(members(out, "topic-2.1") + members(out, "topic-2.2")) == list(range(6, 12))
    assert {tuple(members(out, "topic-2.1")), tuple(members(out, "topic-2.2"))} == {
        (6, 7, 8),
        (9, 10, 11),
    }
    assert out.labels == {"topic-2.2": "Second half"}


def test_split_theme_and_move_and_pin():
    out = run_edits(
        "split:\n  - id: theme-1\n    into: 2\n"
        "move:\n  - id: topic-3\n    under: theme-1.1\n"
        "pin:\n  - paper: Title 0\n    node: topic-4\n  - paper: '2301.00013'\n    node: theme-2\n"
    )
    assert "theme-1" not in out.ids[1] and {"theme-1.1", "theme-1.2"} <= set(out.ids[1])
    topic3 = out.ids[0].index("topic-3")
    assert out.ids[1][out.theme_of_topic[topic3]] == "theme-1.1"
    assert 0 in members(out, "topic-4")
    assert 13 in members(out, "topic-4")  # pinned to theme-2, whose only topic now is topic-4


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("delete: [topic-9]\n", "unknown id 'topic-9'"),
        ("merge:\n  - ids: [topic-1, topic-2]\nmove:\n  - id: topic-2\n    under: theme-1\n", "no"),
        ("pin:\n  - paper: 9999.99999\n    node: topic-1\n", "unknown paper '9999.99999'"),
        ("split:\n  - id: topic-1\n    into: 4\n", "too few"),
        ("delete: [theme-1, theme-2]\n", "no topics"),
    ],
)
def test_edit_errors_name_the_entry(text, words):
    with pytest.raises(TaxonomyError) as info:
        run_edits(text)
    assert str(info.value).startswith("taxonomy.yaml:") and words in str(info.value)


def test_pin_conflict_found_through_different_names():
    text = (
        "pin:\n  - paper: Title 3\n    node: topic-2\n  - paper: 2301.00003v2\n    node: topic-3\n"
    )
    with pytest.raises(TaxonomyError, match="pinned to two nodes"):
        run_edits(text)


def test_exclude_papers_and_sources():
    papers = corpus(5)
    papers.papers[4] = Paper(abstract="other", source="old.txt")
    out = exclude_papers(papers, edits("exclude:\n  papers: [Title 1]\n  sources: ['old.*']\n"))
    assert [p.title for p in out.papers] == ["Title 0", "Title 2", "Title 3"]
    with pytest.raises(TaxonomyError, match=r"taxonomy.yaml:2: exclude.sources\[0\]"):
        exclude_papers(papers, edits("exclude:\n  sources: [missing.csv]\n"))


# -- ids, labels, state, changes --------------------------------------------------------------


def node(node_id: str, papers: range, label: str = "", parent: str | None = None) -> NodeRecord:
    return NodeRecord(
        id=node_id,
        members=[f"p{i}" for i in papers],
        centroid=[1.0, 0.0],
        label=label,
        auto_label=label,
        parent=parent,
    )


def test_match_ids_keeps_overlapping_nodes_and_never_reuses():
    previous = [node("topic-1", range(0, 10)), node("topic-2", range(10, 20))]
    members = [[f"p{i}" for i in r] for r in (range(30, 40), range(11, 21), range(0, 9))]
    centroids = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    ids, next_id = match_ids(members, centroids, previous, "topic", 3)
    assert ids == ["topic-3", "topic-2", "topic-1"] and next_id == 4
    # a first run numbers by size
    ids, next_id = match_ids([["a"], ["b", "c"]], np.eye(2), [], "topic", 1)
    assert ids == ["topic-2", "topic-1"] and next_id == 3


def test_new_papers_do_not_count_against_a_match():
    previous = [node("topic-1", range(0, 6)), node("topic-2", range(6, 40))]
    # topic-1 keeps 5 of its 6 papers and gains 5 papers the first run did not have
    grown = [f"p{i}" for i in range(1, 6)] + [f"new{i}" for i in range(5)]
    members = [grown, [f"p{i}" for i in range(6, 40)] + ["p0"]]
    ids, _ = match_ids(members, np.array([[0.0, 1.0], [0.0, 1.0]]), previous, "topic", 3)
    assert ids == ["topic-1", "topic-2"]


def test_kept_and_fixed_labels():
    previous = [node("topic-1", range(10), "Old"), node("topic-2", range(10, 20), "Gone")]
    members = [[f"p{i}" for i in range(10)], [f"p{i}" for i in range(30, 40)]]
    settled = settle_labels(["topic-1", "topic-2"], members, {}, previous)
    assert settled == {"topic-1": "Old"}  # topic-2 lost its members: relabelled
    settled = settle_labels(["topic-1", "topic-2"], members, {"topic-2": "Old"}, previous)
    assert settled == {"topic-2": "Old"}  # a user label wins a clash


def test_labels_of_an_older_labeller_are_not_kept():
    from taxonomy.curate import labels_worth_keeping
    from taxonomy.curate.ids import RunState
    from taxonomy.label import LABELLER_VERSION

    topics, themes = [node("topic-1", range(3), "A")], [node("theme-1", range(3), "T")]
    current = RunState(topics=topics, themes=themes, labeller=LABELLER_VERSION)
    assert labels_worth_keeping(current) == (topics, themes)
    older = RunState(topics=topics, themes=themes, labeller=LABELLER_VERSION - 1)
    assert labels_worth_keeping(older) == ([], [])
    assert labels_worth_keeping(None) == ([], [])


def test_state_round_trip_and_damage(tmp_path):
    from taxonomy.curate.ids import RunState

    state = RunState(topics=[node("topic-1", range(3), "A")], papers=3, assign_threshold=0.5)
    (tmp_path / STATE_FILE).write_text(state_json(state), encoding="utf-8")
    assert read_state(tmp_path) == state
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(TaxonomyError, match="state.json: run state is damaged"):
        read_state(tmp_path)


def test_diff_finds_each_kind_of_change():
    prev_topics = [
        node("topic-1", range(0, 10), "A", "theme-1"),
        node("topic-2", range(10, 20), "B", "theme-1"),
        node("topic-3", range(20, 30), "C", "theme-1"),
        node("topic-4", range(30, 40), "D", "theme-1"),
        node("topic-5", range(40, 50), "E", "theme-1"),
        node("topic-6", range(50, 60), "F", "theme-1"),
    ]
    cur_topics = [
        node("topic-1", range(0, 10), "A renamed", "theme-1"),
        node("topic-2", range(10, 30), "B", "theme-1"),  # 2 + 3 merged
        node("topic-7", range(30, 35), "D1", "theme-1"),  # 4 split
        node("topic-8", range(35, 40), "D2", "theme-1"),
        node("topic-5", range(40, 50), "E", "theme-2"),  # moved
        node("topic-9", range(60, 70), "G", "theme-2"),  # added; 6 removed
    ]
    prev = ([node("theme-1", range(60), "T")], prev_topics, 60)
    themes = [node("theme-1", range(40), "T"), node("theme-2", range(40, 70), "U")]
    changes = diff_runs(prev, themes, cur_topics, 70)
    topics = changes["topics"]
    assert [n["id"] for n in topics["added"]] == ["topic-9"]
    assert [n["id"] for n in topics["removed"]] == ["topic-6"]
    assert [[s["id"] for s in n["from"]] for n in topics["merged"]] == [["topic-2", "topic-3"]]
    assert [[p["id"] for p in n["into"]] for n in topics["split"]] == [["topic-7", "topic-8"]]
    assert topics["renamed"] == [{"id": "topic-1", "from": "A", "to": "A renamed", "papers": 10}]
    assert [(n["id"], n["from"], n["to"]) for n in topics["moved"]] == [
        ("topic-5", "theme-1", "theme-2")
    ]
    # two thirds of theme-2 came from theme-1: that is a split, not an addition
    theme_split = changes["themes"]["split"]
    assert [[p["id"] for p in n["into"]] for n in theme_split] == [["theme-1", "theme-2"]]
    assert changes["themes"]["added"] == []
    text = changes_markdown(changes)
    assert "- merged: `topic-2` B (10 papers), `topic-3` C (10 papers) → `topic-2` B (20" in text
    assert summary_line(changes).startswith("topics: 1 added, 1 removed, 1 merged, 1 split")
    first = diff_runs(None, themes, cur_topics, 70)
    assert first["first_run"] and len(first["topics"]["added"]) == len(cur_topics)
    assert summary_line(first) == "first run"


# -- seeds and the assign floor ---------------------------------------------------------------


def test_seed_takes_supported_papers_and_nearby_topics():
    from taxonomy.curate.edits import Seed

    texts = ["the KV cache grows"] * 4 + ["other text"] * 4 + ["a KV cache note"] * 3 + ["x"] * 5
    topic_of = np.array([0] * 4 + [1] * 4 + [2] * 8)
    embeddings = np.tile([1.0, 0.0], (16, 1))
    embeddings[4:8] = [0.0, 1.0]
    embeddings[11:] = [0.0, 1.0]  # topic 2's other papers pull its centroid away from the seed
    texts[4] = "other text that uses a KV cache"  # mentions it, but sits squarely in topic 1
    seeds = [Seed(name="KV cache"), Seed(name="Quantum chromodynamics")]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]])
    out, names, outcomes = apply_seeds(topic_of, embeddings, texts, seeds, vectors, 3)
    # topic 0 (all evidence) joins whole; topic 2's three KV papers move (closer to the seed's
    # topic than to their own), the rest stay
    # topic 0 is left empty and dropped: topics 1, 2 and the seed's become 0, 1, 2
    assert np.flatnonzero(out == 2).tolist() == [0, 1, 2, 3, 8, 9, 10]
    assert out[4] == 0
    assert names == {2: "KV cache"}
    assert [(o.name, o.supported) for o in outcomes] == [
        ("KV cache", True),
        ("Quantum chromodynamics", False),
    ]
    assert sorted(set(out.tolist())) == [0, 1, 2]


def test_similarity_floor_is_a_low_quantile_of_leave_one_out_similarities():
    rng = np.random.default_rng(1)
    embeddings = np.vstack([[1, 0, 0] + 0.3 * rng.normal(size=(60, 3)), [[0, 1, 0]] * 3])
    topic_of = np.repeat([0, 1, 2], [60, 2, 1])  # topic 2 is a singleton: no evidence
    floor = similarity_floor(embeddings, topic_of)
    unit = embeddings[:60] / np.linalg.norm(embeddings[:60], axis=1, keepdims=True)
    loo = [unit[i] @ (rest := unit.sum(axis=0) - unit[i]) / np.linalg.norm(rest) for i in range(60)]
    assert 0 < floor < 1
    assert np.isclose(floor, np.quantile(loo + [1.0, 1.0], 0.05), atol=1e-5)


def test_assign_command_has_help():
    from typer.testing import CliRunner

    from taxonomy.cli import app

    res = CliRunner().invoke(app, ["assign", "--help"])
    assert res.exit_code == 0 and "Place new abstracts" in res.output


def test_diff_reports_a_deleted_node_as_removed():
    prev = [node("topic-1", range(0, 10), "A"), node("topic-2", range(10, 14), "B")]
    cur = [node("topic-1", range(0, 14), "A")]  # topic-2's papers all went to topic-1
    assert diff_runs((prev, prev, 14), cur, cur, 14)["topics"]["merged"]
    changes = diff_runs((prev, prev, 14), cur, cur, 14, deleted=frozenset({"topic-2"}))
    assert changes["topics"]["merged"] == []
    assert [n["id"] for n in changes["topics"]["removed"]] == ["topic-2"]


def test_a_user_split_is_reported_as_split_whatever_the_parts_sizes():
    prev = [node("topic-1", range(0, 30), "A"), node("topic-2", range(30, 40), "B")]
    # k-means cut off a small part (3 of 30 papers: under SPLIT_SHARE)
    cur = [
        node("topic-1.1", range(0, 27), "A"),
        node("topic-1.2", range(27, 30), "A2"),
        node("topic-2", range(30, 40), "B"),
    ]
    changes = diff_runs((prev, prev, 40), cur, cur, 40)["topics"]
    assert [n["id"] for n in changes["split"]] == ["topic-1"]
    assert [p["id"] for p in changes["split"][0]["into"]] == ["topic-1.1", "topic-1.2"]
    assert changes["removed"] == [] and changes["added"] == []


def test_a_kept_node_whose_papers_changed_is_listed():
    prev_topics = [
        node("topic-1", range(0, 10), "A", "theme-1"),
        node("topic-2", range(10, 20), "B", "theme-1"),
    ]
    cur_topics = [
        node("topic-1", range(0, 9), "A", "theme-1"),
        node("topic-2", range(10, 20), "B", "theme-1"),
    ]
    theme = node("theme-1", range(20), "T")
    changes = diff_runs(
        ([theme], prev_topics, 20), [node("theme-1", range(19), "T")], cur_topics, 19
    )
    topics, themes = changes["topics"], changes["themes"]
    assert topics["resized"] == [{"id": "topic-1", "label": "A", "from": 10, "to": 9}]
    assert topics["unchanged"] == 1 and themes["unchanged"] == 0
    assert [n["id"] for n in themes["resized"]] == ["theme-1"]
    assert "- papers changed: `topic-1` A (10 → 9 papers)" in changes_markdown(changes)
