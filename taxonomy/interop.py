"""Hand our topics to BERTopic: a fitted `BERTopic` whose topics are exactly ours.

This is BERTopic's "manual topic modelling": dimensionality reduction and clustering are
skipped (`BaseDimensionalityReduction`, `BaseCluster`) and our per-paper assignment is passed as
`y`, so BERTopic only computes its c-TF-IDF representations, topic embeddings (from our
embeddings) and representative documents. BERTopic users then keep `get_topic_info`,
`visualize_*`, `topics_over_time`, `save`/`load`.

BERTopic renumbers topics by size (largest = 0; -1 stays the outlier topic); `topic_id_map`
gives our topic -> BERTopic topic. bertopic is imported only when called (importing it takes
~20 s).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["to_bertopic", "topic_id_map", "UNASSIGNED_LABEL"]

UNASSIGNED_LABEL = "Unassigned"


def to_bertopic(
    texts: Sequence[str],
    topic_of: Sequence[int] | np.ndarray,
    embeddings: np.ndarray,
    labels: Mapping[int, str] | None = None,
    *,
    vectorizer_model: Any = None,
    embedding_model: Any = None,
) -> Any:
    """A fitted `bertopic.BERTopic` holding our topics.

    `texts[i]` is paper i's text, `topic_of[i]` its topic (ours, -1: unassigned = BERTopic's
    outlier topic), `embeddings[i]` its vector. `labels` (our topic -> label) become BERTopic's
    custom labels (`get_topic_info()["CustomName"]`, `visualize_*(custom_labels=True)`); the
    outlier topic is labelled "Unassigned". `vectorizer_model` defaults to a CountVectorizer
    with English stop words; `embedding_model` is only needed to `transform` new texts.
    """
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.feature_extraction.text import CountVectorizer

    y = np.asarray(topic_of, dtype=np.int64)
    vectors = np.asarray(embeddings)
    if len(texts) != len(y) or len(y) != len(vectors):
        raise ValueError(
            f"texts ({len(texts)}), topic_of ({len(y)}) and embeddings ({len(vectors)}) "
            "must have one row per paper"
        )
    if (y < -1).any():
        raise ValueError("topic ids must be >= 0, or -1 for unassigned papers")
    if vectorizer_model is None:
        vectorizer_model = CountVectorizer(stop_words="english")
    model = BERTopic(
        embedding_model=embedding_model,
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        vectorizer_model=vectorizer_model,
        calculate_probabilities=False,
    )
    model.fit(list(texts), embeddings=vectors, y=y)
    if labels is not None:
        ours_to_theirs = topic_id_map(model, y)
        custom = {
            ours_to_theirs[t]: str(label) for t, label in labels.items() if t in ours_to_theirs
        }
        if -1 in ours_to_theirs and -1 not in labels:
            custom[-1] = UNASSIGNED_LABEL
        model.set_topic_labels(custom)
    return model


def topic_id_map(model: Any, topic_of: Sequence[int] | np.ndarray) -> dict[int, int]:
    """Our topic id -> the fitted model's topic id (BERTopic numbers topics by size)."""
    ours = np.asarray(topic_of, dtype=np.int64)
    theirs = np.asarray(model.topics_, dtype=np.int64)
    mapping: dict[int, int] = {}
    for a, b in zip(ours.tolist(), theirs.tolist(), strict=True):
        if mapping.setdefault(a, b) != b:
            raise ValueError(f"topic {a} was split by BERTopic ({mapping[a]} and {b})")
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("BERTopic merged some of our topics")
    return mapping
