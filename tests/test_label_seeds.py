"""Labels of a labelling run on the bundled seeds: no topic label or theme name is a generic
word alone, repeats a word, or is written otherwise than the corpus most often writes it.

Topics and themes come from a quick k-means of the seeds' TF-IDF vectors (no sentence model):
what is tested is the labeller on real abstracts, not the clustering."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from sklearn.cluster import KMeans

from taxonomy.ingest import read_corpus
from taxonomy.label import label_taxonomy
from taxonomy.lexical import tfidf_vectors
from taxonomy.naming import GENERIC_LABELS, is_generic, label_problems
from taxonomy.tree import THEME, TOPIC, Taxonomy, group_centroids
from tests.generic_words import GENERIC_WORDS

SEEDS = Path(__file__).resolve().parents[1] / "data/seeds"


def test_the_labeller_knows_every_generic_word():
    missing = [w for w in GENERIC_WORDS if not is_generic(w)]
    assert not missing, missing
    assert len(GENERIC_LABELS) > len(GENERIC_WORDS) / 2


def test_label_problems_finds_each_kind():
    texts = ["We study the KV cache of decoders.", "A KV cache and the text embedding model."]
    problems = label_problems(
        ["Memory", "Survey & surveys", "Kv cache", "KV cache", "Text Embedding"],
        texts,
        GENERIC_WORDS,
    )
    assert problems["generic"] == ["Memory", "Survey & surveys"]
    assert problems["repeats"] == ["Survey & surveys"]
    assert problems["casing"] == ["Memory", "Survey & surveys", "Kv cache", "Text Embedding"]


@pytest.fixture(scope="module")
def seeds_labelled():
    texts = read_corpus([SEEDS]).texts
    vectors = tfidf_vectors(texts, 64, 0)
    topic_of = KMeans(30, n_init=2, random_state=0).fit_predict(vectors)
    centroids = group_centroids(vectors, topic_of, 30)
    theme_of_topic = KMeans(8, n_init=4, random_state=0).fit_predict(centroids)
    taxonomy = Taxonomy.numbered(topic_of, theme_of_topic)
    settings = SimpleNamespace(n_keywords=8, n_representatives=3, max_ngram=3)
    out, _ = label_taxonomy(
        taxonomy, texts, vectors, vectors, settings, preset={}, fixed={}, embed_phrases=None
    )
    return texts, out


def test_seed_labels_are_specific_and_written_as_authors_write_them(seeds_labelled):
    texts, out = seeds_labelled
    labels = [out.labels[i] for i in (*out.ids[TOPIC], *out.ids[THEME])]
    problems = label_problems(labels, texts, GENERIC_WORDS)
    assert problems == {"generic": [], "repeats": [], "casing": []}, problems
    for level in (TOPIC, THEME):
        names = [out.labels[i] for i in out.ids[level]]
        assert len(set(names)) == len(names), names


def test_seed_theme_names_copy_no_topic_label(seeds_labelled):
    _, out = seeds_labelled
    for j, theme in enumerate(out.ids[THEME]):
        kids = [out.labels[out.ids[TOPIC][t]] for t in out.children(THEME, j)]
        if len(kids) > 1:
            assert out.labels[theme] not in kids, (out.labels[theme], kids)
        # without a phrase embedder no reference scheme is used
        assert out.named_by[theme] == "corpus"
