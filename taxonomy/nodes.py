"""Assemble TaxonomyNode trees from per-paper assignments and group labels."""

from __future__ import annotations

import numpy as np

from taxonomy.label import GroupLabel
from taxonomy.models import TaxonomyNode


def build_nodes(
    topic_of: np.ndarray,
    theme_of_topic: np.ndarray,
    topic_labels: list[GroupLabel],
    theme_labels: list[GroupLabel],
    topic_ids: list[str] | None = None,
    theme_ids: list[str] | None = None,
) -> list[TaxonomyNode]:
    """Themes (largest first), each with its topics (largest first) as children.

    Node ids default to `topic-N`/`theme-N` by index; the pipeline passes stable ids.
    """
    topic_ids = topic_ids or [f"topic-{t + 1}" for t in range(len(topic_labels))]
    theme_ids = theme_ids or [f"theme-{j + 1}" for j in range(len(theme_labels))]
    themes: list[TaxonomyNode] = []
    for j, theme_label in enumerate(theme_labels):
        children = []
        for t in np.flatnonzero(theme_of_topic == j):
            members = [int(i) for i in np.flatnonzero(topic_of == t)]
            lab = topic_labels[t]
            children.append(
                TaxonomyNode(
                    id=topic_ids[t],
                    label=lab.label,
                    keywords=lab.keywords,
                    members=members,
                    representatives=lab.representatives,
                )
            )
        children.sort(key=lambda node: (-node.size, node.id))
        members = sorted(i for child in children for i in child.members)
        themes.append(
            TaxonomyNode(
                id=theme_ids[j],
                label=theme_label.label,
                keywords=theme_label.keywords,
                members=members,
                representatives=theme_label.representatives,
                children=children,
            )
        )
    themes.sort(key=lambda node: (-node.size, node.id))
    return themes
