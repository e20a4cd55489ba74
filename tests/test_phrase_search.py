"""The joined-text phrase search equals searching text by text (the plain definition)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from taxonomy.keyphrases import count_phrases
from taxonomy.phrase_search import _WORD, neighbours, written_forms

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"


def neighbours_text_by_text(phrase: str, texts: list[str]) -> tuple[int, Counter, Counter]:
    core = r"[\s\-]+".join(re.escape(w) for w in phrase.split())
    pattern = re.compile(
        rf"(?:\b({_WORD})(\s+|-))?\b{core}\b(?:(\s+|-)({_WORD})\b)?", re.IGNORECASE
    )
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    total = 0
    for text in texts:
        for match in pattern.finditer(text):
            total += 1
            if match.group(1):
                before[match.group(1).lower() + ("-" if match.group(2) == "-" else "")] += 1
            if match.group(4):
                after[match.group(4).lower()] += 1
    return total, before, after


def forms_text_by_text(phrase: str, texts: list[str]) -> Counter:
    core = r"[\s\-]+".join(re.escape(w) for w in phrase.split())
    pattern = re.compile(rf"\b{core}\b", re.IGNORECASE)
    return Counter(" ".join(m.split()) for text in texts for m in pattern.findall(text))


EDGE_TEXTS = [
    "model model model",  # repeated phrase: non-overlapping matches as in one text
    "In-context examples help. in context learning; context-examples",
    "KV cache ends here",
    "starts the KV cache",  # neighbours never cross from one text into the next
    "",
    "kv-cache and KV  cache",
]


@pytest.mark.parametrize("phrase", ["model", "context examples", "kv cache", "cache", "in"])
def test_neighbours_equal_text_by_text_on_edge_cases(phrase):
    assert neighbours(phrase, EDGE_TEXTS) == neighbours_text_by_text(phrase, EDGE_TEXTS)
    assert written_forms(phrase, EDGE_TEXTS) == forms_text_by_text(phrase, EDGE_TEXTS)


@pytest.mark.parametrize("index_from", [10_000, 1])  # scanned whole / through the word index
def test_neighbours_and_forms_equal_text_by_text_on_the_seeds(monkeypatch, index_from):
    import taxonomy.phrase_search as kp
    from taxonomy.ingest import read_corpus

    monkeypatch.setattr(kp, "INDEX_MIN_TEXTS", index_from)

    texts = read_corpus([SEEDS]).texts[:120]
    _, vocab = count_phrases(texts, 3)
    phrases = [str(term) for term in vocab[:: max(1, len(vocab) // 80)]]
    assert len(phrases) >= 80
    for phrase in phrases:
        assert neighbours(phrase, texts) == neighbours_text_by_text(phrase, texts), phrase
        assert written_forms(phrase, texts) == forms_text_by_text(phrase, texts), phrase


def test_non_ascii_texts_take_the_case_folding_search():
    texts = ["Über KV cache", "ÆON kv-cache and the kv cache", "no match here", "xkv cache"]
    for phrase in ("kv cache", "cache", "über kv"):
        assert neighbours(phrase, texts) == neighbours_text_by_text(phrase, texts)
        assert neighbours(phrase, texts[2:]) == neighbours_text_by_text(phrase, texts[2:])


def test_a_phrase_inside_a_longer_word_is_not_found_but_a_later_one_is():
    texts = ["ba a a", "mkv cache kv cache", "kv caches"]
    for phrase in ("a a", "kv cache"):
        assert neighbours(phrase, texts) == neighbours_text_by_text(phrase, texts)


def test_the_word_index_of_long_lists_finds_the_same(monkeypatch):
    import taxonomy.phrase_search as kp

    texts = [f"paper {i} on the kv cache of LLMs" if i % 7 == 0 else f"note {i}" for i in range(60)]
    texts += ["mkv cache", "don't stop", "kv-cache and kv  cache", "the cache of kv"]
    phrases = ["kv cache", "cache", "don't stop", "kv", "absent words", "of"]
    plain = {p: (neighbours(p, texts), written_forms(p, texts)) for p in phrases}
    monkeypatch.setattr(kp, "INDEX_MIN_TEXTS", 1)
    kp._NEW.clear()
    kp._AGAIN.clear()
    for phrase in phrases:
        assert (neighbours(phrase, texts), written_forms(phrase, texts)) == plain[phrase]
        assert neighbours(phrase, texts) == neighbours_text_by_text(phrase, texts)
    assert kp._joined(texts).postings is not None  # the index was used


def test_the_word_index_keeps_what_ignorecase_finds_beyond_lower_casing(monkeypatch):
    import taxonomy.phrase_search as kp

    texts = ["the \u212av cache (Kelvin K)", "naïve kv cache", "cla\u017fs loss", "é only", "kv"]
    monkeypatch.setattr(kp, "INDEX_MIN_TEXTS", 1)
    kp._NEW.clear()
    kp._AGAIN.clear()
    for phrase in ("kv cache", "class loss", "kv", "naïve"):
        assert neighbours(phrase, texts) == neighbours_text_by_text(phrase, texts), phrase
        assert written_forms(phrase, texts) == forms_text_by_text(phrase, texts), phrase
    assert neighbours("kv cache", texts)[0] == 2


@pytest.mark.parametrize("odd", ["", "\u017f"])  # searched lower-cased / with IGNORECASE
def test_random_texts_give_what_text_by_text_search_gives(odd):
    """Word soup of repeats, hyphens, underscores, digits and non-ASCII letters (final sigma,
    é): the literal scan of the lower-cased texts takes the matches the pattern takes."""
    import random

    import taxonomy.phrase_search as kp

    rng = random.Random(7)
    words = ["model", "Model", "kv", "KV", "cache", "in", "a", "b", "ab", "3d", "x_y", "modèl"]
    words += ["MODEL", "\u03c2", "\u03a3", "ai", "said", odd]
    seps = [" ", "  ", "-", " - ", "\n", ", ", ". ", "_", "", "\t", "\u00a0", "é"]
    phrases = ["model", "kv cache", "cache", "in", "a b", "a a", "ai", "model model", "in-context"]
    for _ in range(400):
        texts = [
            "".join(rng.choice(words) + rng.choice(seps) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(1, 4))
        ]
        kp._NEW.clear()
        kp._AGAIN.clear()
        for phrase in phrases:
            assert neighbours(phrase, texts) == neighbours_text_by_text(phrase, texts), texts
            assert written_forms(phrase, texts) == forms_text_by_text(phrase, texts), texts


def test_lower_casing_keeps_positions_and_classes_but_for_the_odd_letters():
    """Why the lower-cased texts may be searched instead (phrase_search._Joined.folded)."""
    import unicodedata

    word, space = re.compile(r"\w"), re.compile(r"\s")
    odd = set()
    for code in range(0x30000):
        char = chr(code)
        if unicodedata.category(char) == "Cs":
            continue
        low = char.lower()
        if (
            len(low) != 1
            or bool(word.match(char)) != bool(word.match(low))
            or bool(space.match(char)) != bool(space.match(low))
            or (not char.isascii() and low.isascii())
            or (not char.isascii() and re.match("[a-z]", char, re.IGNORECASE))
        ):
            odd.add(char)
    assert odd == {"\u0130", "\u0131", "\u017f", "\u212a"}
