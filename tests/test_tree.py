"""The one taxonomy value: layers, parents, compaction, centroids, the tree view."""

import numpy as np
import pytest

from taxonomy.tree import THEME, TOPIC, Taxonomy, by_size, group_centroids, level_of, relabel


def sample() -> Taxonomy:
    # papers 0-2 topic-1, 3-4 topic-2, 5 unassigned, 6-8 topic-3; topics 1,2 in theme-1
    topic_of = np.array([0, 0, 0, 1, 1, -1, 2, 2, 2])
    return Taxonomy(
        topic_of,
        ([0, 0, 1],),
        (["topic-1", "topic-2", "topic-3"], ["theme-1", "theme-2"]),
        {"topic-2": "Two"},
    )


def test_layers_members_sizes_children():
    tax = sample()
    assert tax.layer(TOPIC).tolist() == [0, 0, 0, 1, 1, -1, 2, 2, 2]
    assert tax.layer(THEME).tolist() == [0, 0, 0, 0, 0, -1, 1, 1, 1]
    assert [m.tolist() for m in tax.members(THEME)] == [[0, 1, 2, 3, 4], [6, 7, 8]]
    assert tax.sizes(TOPIC).tolist() == [3, 2, 3] and tax.unassigned == 1
    assert tax.children(THEME, 0) == [0, 1] and tax.index("topic-3") == 2


def test_value_is_frozen():
    tax = sample()
    with pytest.raises(ValueError):
        tax.topic_of[0] = 2
    with pytest.raises(AttributeError):
        tax.ids = ()  # type: ignore[misc]


def test_compact_drops_removed_and_empty_nodes_and_renumbers():
    tax = sample().compact(["topic-1", "topic-3"])
    assert tax.ids == (("topic-1", "topic-3"), ("theme-1", "theme-2"))
    assert tax.topic_of.tolist() == [0, 0, 0, -1, -1, -1, 1, 1, 1]
    assert tax.labels == {}  # topic-2's label went with it
    gone = sample().replace(topic_of=np.array([0, 0, 0, 0, 0, -1, 0, 0, 0])).compact()
    assert gone.ids == (("topic-1",), ("theme-1",))


def test_tree_orders_by_size_and_carries_labels():
    themes = sample().tree()
    assert [t.id for t in themes] == ["theme-1", "theme-2"]
    assert [c.id for c in themes[0].children] == ["topic-1", "topic-2"]
    assert themes[0].members == [0, 1, 2, 3, 4] and themes[0].children[1].label == "Two"


def test_centroids_are_unit_means_and_zero_for_empty_groups():
    vectors = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    out = group_centroids(vectors, np.array([0, 1, 0]), 3)
    assert np.allclose(out, [[1, 0], [0, 1], [0, 0]])


def test_relabel_and_by_size_and_level_of():
    groups = np.array([2, 2, -1, 0, 1, 1, 1])
    assert by_size(groups) == [1, 2, 0]
    assert relabel(groups, by_size(groups)).tolist() == [1, 1, -1, 2, 0, 0, 0]
    assert level_of("theme-2.1") == THEME and level_of("topic-3") == TOPIC
    with pytest.raises(ValueError):
        level_of("paper-1")
