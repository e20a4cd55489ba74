"""Label anchors on the map (taxonomy.export.anchors): a theme's label goes on its largest dense
region of papers, not between its islands or on another theme's island."""

from __future__ import annotations

import numpy as np

from taxonomy.export.anchors import ANCHOR_SAMPLE, label_anchor


def two_islands(rng, big: int, small: int):
    """One theme as two islands ten apart (`big` papers at x=0, `small` at x=10) with six stray
    papers halfway, and another theme's island between them (x=5, y=1.5)."""
    main = rng.normal([0.0, 0.0], 0.3, size=(big, 2))
    other_island = rng.normal([10.0, 0.0], 0.3, size=(small, 2))
    strays = np.array([[4.5, 0.9], [5.0, 1.1], [5.5, 0.9], [5.0, 0.8], [4.8, 1.2], [5.2, 1.0]])
    neighbour = rng.normal([5.0, 1.5], 0.3, size=(40, 2))
    layout = np.vstack([main, other_island, strays, neighbour])
    members = np.arange(big + small + len(strays))
    return layout, members, main


def test_a_theme_label_sits_on_its_largest_island():
    rng = np.random.default_rng(0)
    layout, members, main = two_islands(rng, 51, 49)
    anchor = label_anchor(layout, members)
    # The plain mean, and even the medoid (the most central member: a stray paper halfway),
    # lie between the islands, on the other theme's island.
    assert np.linalg.norm(layout[members].mean(axis=0) - [5.0, 0.0]) < 1.0
    total = np.linalg.norm(layout[members][:, None] - layout[members][None], axis=2).sum(axis=1)
    assert np.argmin(total) >= 100  # the medoid is one of the strays
    # The anchor is one of the theme's papers, inside its larger island.
    assert any(np.array_equal(anchor, p) for p in layout[members])
    assert np.linalg.norm(anchor - main.mean(axis=0)) < 0.5
    distance = np.linalg.norm(layout - anchor, axis=1)
    nearest = np.argsort(distance)[1:11]
    assert (nearest < len(main)).all()  # its ten nearest papers: all of the same island


def test_a_large_theme_uses_a_sample_and_still_sits_on_its_largest_island():
    rng = np.random.default_rng(1)
    layout, members, main = two_islands(rng, 620, 580)
    assert len(members) > ANCHOR_SAMPLE
    anchor = label_anchor(layout, members)
    assert np.linalg.norm(anchor - main.mean(axis=0)) < 0.5
    assert np.array_equal(label_anchor(layout, members), anchor)  # deterministic


def test_small_nodes():
    layout = np.array([[0.0, 0.0], [2.0, 4.0], [9.0, 9.0]])
    assert np.array_equal(label_anchor(layout, [1]), [2.0, 4.0])
    assert np.array_equal(label_anchor(layout, [0, 1]), [1.0, 2.0])
    # 0 and 1 are each other's nearest: the tie goes to 1, the nearer to all three
    assert np.array_equal(label_anchor(layout, [0, 1, 2]), [2.0, 4.0])
