"""to_bertopic (taxonomy.interop): a fitted BERTopic holding our topics, sizes exactly ours,
representative terms from our topics' words, our labels as custom labels, -1 the outliers.
Marked slow: importing bertopic takes ~20 s."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SUBJECTS = {
    0: (
        "Protein folding",
        "protein folding structure amino residues enzyme binding molecular",
    ),
    1: (
        "Galaxy surveys",
        "galaxy stellar telescope redshift cosmic survey dark halo",
    ),
    2: (
        "Soccer tactics",
        "soccer football match goal striker midfield league coach",
    ),
}
FILLER = "we study new results show method approach paper".split()


def corpus(n_per_topic=(26, 19, 15), n_unassigned=4, dim=24, seed=0):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    texts, topic_of, vectors = [], [], []
    centres = {t: nrng.normal(0, 1, dim) * 4 for t in SUBJECTS}
    for t, n in enumerate(n_per_topic):
        words = SUBJECTS[t][1].split()
        for _ in range(n):
            text = " ".join(rng.choice(words) for _ in range(8)) + " " + rng.choice(FILLER)
            texts.append(text)
            topic_of.append(t)
            vectors.append(centres[t] + nrng.normal(0, 0.3, dim))
    for _ in range(n_unassigned):
        texts.append(" ".join(rng.choice(FILLER) for _ in range(8)) + " misc notes")
        topic_of.append(-1)
        vectors.append(nrng.normal(0, 1, dim))
    order = rng.sample(range(len(texts)), len(texts))  # interleave topics
    return (
        [texts[i] for i in order],
        np.array([topic_of[i] for i in order]),
        np.array([vectors[i] for i in order], dtype=np.float32),
    )


def test_to_bertopic_holds_our_topics():
    from taxonomy.interop import UNASSIGNED_LABEL, to_bertopic, topic_id_map

    texts, topic_of, embeddings = corpus()
    labels = {t: name for t, (name, _) in SUBJECTS.items()}
    model = to_bertopic(texts, topic_of, embeddings, labels)
    mapping = topic_id_map(model, topic_of)
    assert set(mapping) == {-1, 0, 1, 2} and mapping[-1] == -1
    # Every paper keeps its topic.
    assert [mapping[t] for t in topic_of] == list(model.topics_)
    info = model.get_topic_info().set_index("Topic")
    for ours, theirs in mapping.items():
        assert info.loc[theirs, "Count"] == int((topic_of == ours).sum())
    assert info.loc[-1, "CustomName"] == UNASSIGNED_LABEL
    for ours, (name, words) in SUBJECTS.items():
        theirs = mapping[ours]
        assert info.loc[theirs, "CustomName"] == name
        terms = [term for term, _ in model.get_topic(theirs)][:10]
        ours_words = set(words.split()) | set(name.lower().split())
        assert len(ours_words & set(terms)) >= 5, (name, terms)
        # None of another subject's words leak into the top terms.
        others = {w for t, (_, ws) in SUBJECTS.items() if t != ours for w in ws.split()}
        assert not others & set(terms), (name, terms)
    # BERTopic's own tools work on it.
    assert model.topic_embeddings_.shape == (4, embeddings.shape[1])
    fig = model.visualize_barchart(custom_labels=True)
    assert len(fig.data) == 3


def test_to_bertopic_checks_lengths():
    from taxonomy.interop import to_bertopic

    texts, topic_of, embeddings = corpus()
    with pytest.raises(ValueError, match="one row per paper"):
        to_bertopic(texts[:-1], topic_of, embeddings)
