"""Topic labels and theme names (taxonomy/label.py): specific, written as authors write them,
never a generic word alone, never repeating a word or a child's label."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np

from taxonomy.keyphrases import count_phrases, modifier_share
from taxonomy.label import (
    GENERIC_LABELS,
    is_generic,
    join_labels,
    label_groups,
    label_taxonomy,
    repeats_word,
)
from taxonomy.tree import THEME, TOPIC, Taxonomy

# Labels that say nothing on their own (the issue's list); the labeller's own list must
# cover them, and no label may be one of them alone.
GENERIC = [
    "AI",
    "Image",
    "Feature",
    "Memory",
    "Human",
    "Phrase",
    "Feedback",
    "Instruction",
    "Energy",
    "Symbolic",
    "Deep learning",
    "Visual",
    "3D",
    "Survey",
    "Domain-specific",
    "Retrieval-Augmented",
    "Images",
    "Features",
]


def test_generic_list_covers_the_issue_list():
    for word in GENERIC:
        assert is_generic(word), word
    assert not is_generic("KV cache") and not is_generic("Image generation")
    assert "survey" in GENERIC_LABELS


def test_repeats_word():
    assert repeats_word("Survey & surveys") and repeats_word("Comprehensive survey & survey")
    assert repeats_word("Equilibrium & equilibria")
    assert not repeats_word("Speech & image generation")


def test_join_is_of_distinct_halves_and_keeps_capitals():
    assert join_labels(["Pre-training", "LoRA"]) == "Pre-training & LoRA"
    assert join_labels(["Sentence embeddings", "Text embedding", "Word vectors"]) == (
        "Sentence embeddings & word vectors"
    )
    assert join_labels(["Comprehensive survey", "Survey"]) == "Comprehensive survey"
    assert join_labels(["Attention", "KV cache"]) == "Attention & KV cache"


def test_modifier_share_tells_adjectives_from_nouns():
    texts = ["clinical notes are long", "clinical trials and clinical data", "the notes."]
    assert modifier_share("clinical", texts) == 1.0
    assert modifier_share("notes", texts) == 0.0


def test_a_generic_word_gives_way_to_a_specific_phrase():
    # "image" is in every paper of group 0 and is its top c-TF-IDF word; "image generation"
    # is in 8 of 12, "diffusion" in 5.
    group = [f"Image generation with diffusion model {i}. The image is sharp." for i in range(5)]
    group += [f"Image generation for the web {i}; the image looks real." for i in range(3)]
    group += [f"An image dataset number {i} for the image domain." for i in range(4)]
    other = [f"Speech recognition of spoken words {i} in audio." for i in range(12)]
    other += [f"Graph neural networks for molecules {i}." for i in range(12)]
    other += [f"Theorem proving with formal proofs {i}." for i in range(12)]
    texts = group + other
    counts, vocab = count_phrases(texts)
    groups = np.repeat(np.arange(4), 12)
    labels = label_groups(groups, 4, counts, vocab, texts, np.eye(48, dtype=np.float32))
    assert labels[0].label == "Image generation"


def _theme_corpus():
    """Two themes: attention (3 topics, "attention" in every paper) and speech (2 topics)."""
    topics = {
        0: "The attention mechanism with {w} attention heads and attention scores, case {i}.",
        1: "A KV cache for attention: the {w} KV cache saves memory at decoding, case {i}.",
        2: "Sparse attention patterns reduce the {w} attention cost of transformers, case {i}.",
        3: "Speech recognition of {w} spoken audio with acoustic models, case {i}.",
        4: "Speech synthesis makes {w} natural audio from text with vocoders, case {i}.",
    }
    words = ["fast", "long", "small", "deep", "wide", "new", "big", "odd"]
    texts, topic_of = [], []
    for t, template in topics.items():
        for i, w in enumerate(words):
            texts.append(template.format(w=w, i=i))
            topic_of.append(t)
    return texts, np.array(topic_of)


def test_theme_names_cover_the_theme_and_never_copy_a_child():
    texts, topic_of = _theme_corpus()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(texts), 8)).astype(np.float32)
    taxonomy = Taxonomy.numbered(topic_of, np.array([0, 0, 0, 1, 1]))
    settings = SimpleNamespace(n_keywords=5, n_representatives=3, max_ngram=3)
    out, _ = label_taxonomy(
        taxonomy, texts, vectors, vectors, settings, preset={}, fixed={}, embed_phrases=None
    )
    topic_labels = [out.labels[i] for i in out.ids[TOPIC]]
    theme_labels = [out.labels[i] for i in out.ids[THEME]]
    assert len(set(topic_labels)) == 5
    corpus = " ".join(texts)
    for label in topic_labels + theme_labels:
        assert not is_generic(label) and not repeats_word(label), label
        for half in label.split(" & "):
            body = r"[\s\-]+".join(re.escape(w) for w in half[1:].split())
            assert re.search(re.escape(half[:1]) + "?" + body, corpus, re.IGNORECASE), half
    kids = {0: topic_labels[:3], 1: topic_labels[3:]}
    for j, name in enumerate(theme_labels):
        assert name not in kids[j], (name, kids[j])
    assert "attention" in theme_labels[0].lower()
    assert "speech" in theme_labels[1].lower()
    # "KV cache" keeps its capitals wherever it appears.
    assert all("kv cache" not in label for label in topic_labels + theme_labels)


def test_a_theme_name_within_another_themes_name_reads_as_the_same_theme():
    from taxonomy.naming import within

    assert within("Pruning", ["Pruning and sparsity"])
    assert within("Model compression and pruning", ["Pruning", "Speech"])
    assert not within("Speech recognition", ["Speech processing"])
    assert not within("Retrieval-augmented generation", ["Dense retrieval and reranking"])


def test_names_nothing_for_adverbs_greetings_praise_and_compound_tails():
    from taxonomy.naming import names_nothing

    for phrase in ("finally", "cheers", "high-performing code", "high performing code"):
        assert names_nothing(phrase), phrase
    assert names_nothing("level code")  # the tail of "high-level code"
    for phrase in ("speech", "code generation", "knowledge distillation"):
        assert not names_nothing(phrase), phrase


def test_label_key_singular_of_ies_plurals():
    from taxonomy.naming import label_key

    assert label_key("Strategies") == label_key("strategy") == "strategy"
    assert is_generic("Strategies") and is_generic("Future research directions")
    assert label_key("Time series") == "time serie"  # not "time sery"


def _named(theme_rows: dict[str, tuple[int, ...]], n_in: int = 20, n_out: int = 40) -> str | None:
    """The name `name_theme` gives theme 0 of n_in papers beside a theme 1 of n_out, when
    phrase -> (papers of theme 0, papers of theme 1[, first paper of theme 0]) use it."""
    from scipy import sparse

    from taxonomy.naming import name_theme, theme_candidates

    vocab = np.array(sorted(theme_rows))
    n = n_in + n_out
    used = np.zeros((n, len(vocab)), np.int8)
    for j, phrase in enumerate(vocab):
        a, b, first = (*theme_rows[str(phrase)], 0)[:3]
        used[first : first + a, j] = 1
        used[n_in : n_in + b, j] = 1
    texts = [
        "We report "
        + "; ".join(f"the {p} of it" for p, u in zip(vocab, row, strict=True) if u)
        + "."
        for row in used
    ]
    theme_of = np.array([0] * n_in + [1] * n_out)
    topic_of = np.array([0] * (n_in // 2) + [1] * (n_in - n_in // 2) + [2] * n_out)
    candidates = theme_candidates(
        0,
        theme_of,
        topic_of,
        sparse.csr_matrix(used),
        set(range(len(vocab))),
        np.zeros(len(vocab), bool),
        vocab,
    )
    return name_theme(candidates, vocab, texts[:n_in], ["Teacher", "Student"], set())


def test_a_theme_is_named_by_what_most_of_it_uses_and_only_it():
    # a rare exact phrase (3 papers) loses to the word most of the theme uses
    assert _named({"distillation": (14, 4), "student model compression": (3, 0)}) == (
        "Distillation"
    )
    # a word every theme uses alike ("experiments") names nothing, however frequent
    name = _named({"experiments": (16, 32), "distillation": (5, 0), "quantization": (5, 0, 10)})
    assert name == "Distillation & quantization"
