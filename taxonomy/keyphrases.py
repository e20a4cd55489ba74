"""Candidate key phrases per group of documents: n-gram counting and class-based TF-IDF.

Phrases are 1-3 word n-grams that neither start nor end with a stop word (so "mixture of
experts" survives but "of the" does not). Scores are BERTopic's c-TF-IDF: term frequency within
the group, weighted by how rare the term is across groups.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from taxonomy.phrase_search import neighbours, written_forms

# Words that carry no topic in abstracts of any field: scaffolding of academic prose.
ACADEMIC_STOP_WORDS = frozenset(
    """
    paper papers propose proposed proposes present presents introduce introduces approach
    approaches method methods result results show shows shown demonstrate demonstrates study
    studies work works novel new existing based using use used uses achieve achieves achieved
    performance improve improves improved improvement improvements significantly significant
    state art task tasks different various however furthermore moreover additionally including
    provide provides effective effectively efficient model models framework frameworks
    experiments experimental extensive outperforms outperform compared comparison recent
    recently also well et al e g i via respectively available github https http com www
    first second three two one set wide range key challenges challenge problem problems able
    make makes made way ways large small better best strong new number
    ability capabilities abilities evaluated analysis
    llms llm lms lm large-scale paradigm technique techniques aim aims given leads
    leading despite remains remain often many across within without while whether thus
    achieving achieve improving enhancing enhance enhances release released publicly open
    """.split()
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | ACADEMIC_STOP_WORDS
# Stop words allowed inside a phrase ("mixture of experts", "chain of thought").
INNER_WORDS = frozenset({"of"})
MAX_VOCABULARY = 60_000
_TOKEN = re.compile(r"[a-z][a-z0-9]*(?:'[a-z]+)?|\d+[a-z]+[a-z0-9]*")
# Phrases never span punctuation or numbers ("processing (NLP)", "EXAONE 3.0 instruction").
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"/|]|\b\d+(?:\.\d+)*%?(?=\s|$|[^\w])")
# Breaks and tokens in one left-to-right scan (count_phrases): the same segments and tokens as
# splitting at _BREAK and tokenizing the parts; a break holds no letter, a token does.
_PIECE = re.compile(f"(?:{_BREAK.pattern})|(?:{_TOKEN.pattern})")
_LETTER = re.compile("[a-z]")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; hyphens split words so 'fine-tuning' == 'fine tuning'.

    A possessive 's is dropped ("god's" -> "god"); other contractions ("don't") stay whole and
    are stop words.
    """
    return [t[:-2] if t.endswith("'s") else t for t in _TOKEN.findall(text.lower())]


def segments(text: str) -> list[list[str]]:
    """Token runs between punctuation marks and bare numbers."""
    return [tokens for part in _BREAK.split(text.lower()) if (tokens := tokenize(part))]


def phrases(text: str, max_ngram: int = 3) -> list[str]:
    out: list[str] = []
    for tokens in segments(text):
        _segment_phrases(tokens, max_ngram, out)
    return out


def _segment_phrases(tokens: list[str], max_ngram: int, out: list[str]) -> None:
    n_tokens = len(tokens)
    for i, first in enumerate(tokens):
        if first in STOP_WORDS or len(first) < 2 or "'" in first:
            continue
        out.append(first)
        for n in range(2, max_ngram + 1):
            if i + n > n_tokens:
                break
            last = tokens[i + n - 1]
            inner = tokens[i + 1 : i + n - 1]
            if any((w in STOP_WORDS and w not in INNER_WORDS) or "'" in w for w in inner):
                break
            if last in STOP_WORDS or len(last) < 2 or "'" in last:
                continue
            out.append(" ".join(tokens[i : i + n]))


def count_phrases(texts: list[str], max_ngram: int = 3) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Document x phrase count matrix and the phrase vocabulary (sorted, so deterministic).

    The same matrix and vocabulary as a CountVectorizer with `phrases` as analyzer, min_df 2
    (1 below 20 texts) and MAX_VOCABULARY features, computed with arrays: each text is
    tokenized once into word ids, and the n-grams `phrases` keeps (no stop word first or last,
    only INNER_WORDS inside, none across punctuation) are found for all texts at once.
    """
    min_df = 2 if len(texts) >= 20 else 1
    empty = sparse.csr_matrix((len(texts), 0), dtype=np.float32), np.array([], dtype=object)
    # One pass of one regex per text: words and breaks (a break holds no letter), then one
    # hash of all of them (pandas.factorize, in C) instead of a dictionary lookup per word.
    pieces: list[str] = []
    ends = np.zeros(len(texts), np.int64)
    for d, text in enumerate(texts):
        pieces.extend(_PIECE.findall(text.lower()))
        pieces.append(",")
        ends[d] = len(pieces)
    codes, uniques = pd.factorize(np.array(pieces, dtype=object), sort=False)
    words: dict[str, int] = {}
    piece_word = np.empty(len(uniques), np.int64)
    for u, piece in enumerate(uniques.tolist()):
        if _LETTER.search(piece) is None:  # a break
            piece_word[u] = -1
        else:
            word = piece[:-2] if piece.endswith("'s") else piece
            piece_word[u] = words.setdefault(word, len(words))
    if not words:
        return empty
    n_words = len(words)
    ids = piece_word[codes]
    ids[ids < 0] = n_words  # the separator: neither an edge nor an inner word
    edge = np.zeros(n_words + 1, bool)
    inner = np.zeros(n_words + 1, bool)
    for word, i in words.items():
        plain = "'" not in word
        edge[i] = plain and word not in STOP_WORDS and len(word) >= 2
        inner[i] = plain and (word not in STOP_WORDS or word in INNER_WORDS)
    doc = np.repeat(np.arange(len(texts)), np.diff(ends, prepend=0))
    length = len(ids)
    rows, cols, starts, sizes = [], [], [], []
    offset = 0
    seq = ids.copy()  # seq[i]: an id of the n words from position i (any words)
    inner_run = np.ones(length, bool)  # words i+1 .. i+n-2 all inner words
    for n in range(1, max_ngram + 1):
        m = length - n + 1
        if m <= 0:
            break
        if n > 1:
            pair = seq[:m] * (n_words + 1) + ids[n - 1 : n - 1 + m]
            seq = pd.factorize(pair, sort=False)[0]
            if n > 2:
                inner_run = inner_run[:m] & inner[ids[n - 2 : n - 2 + m]]
            else:
                inner_run = inner_run[:m]
        ok = edge[ids[:m]] & edge[ids[n - 1 : n - 1 + m]] & inner_run
        at = np.flatnonzero(ok)
        key = seq[at]
        col, uniq = pd.factorize(key, sort=False)
        where = np.empty(len(uniq), np.int64)
        where[col] = at  # a position of each phrase (any: they hold the same words)
        rows.append(doc[at])
        cols.append(col + offset)
        starts.append(where)
        sizes.append(np.full(len(uniq), n))
        offset += len(uniq)
    if not offset:
        return empty
    counts = sparse.csr_matrix(
        (
            np.ones(sum(len(r) for r in rows), np.float32),
            (np.concatenate(rows), np.concatenate(cols)),
        ),
        shape=(len(texts), offset),
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=offset)
    keep = np.flatnonzero(df >= min_df)
    if not len(keep):
        return empty
    start, size = np.concatenate(starts)[keep], np.concatenate(sizes)[keep]
    names = list(words)
    vocab = [
        " ".join(names[w] for w in ids[i : i + k].tolist())
        for i, k in zip(start.tolist(), size.tolist(), strict=True)
    ]
    order = sorted(range(len(vocab)), key=vocab.__getitem__)
    counts = counts[:, keep[order]]
    vocab_sorted = np.array([vocab[i] for i in order], dtype=object)
    if len(vocab_sorted) > MAX_VOCABULARY:  # CountVectorizer's rule, ties and all
        tfs = np.asarray(counts.sum(axis=0)).ravel()
        top = np.sort((-tfs).argsort()[:MAX_VOCABULARY])
        counts, vocab_sorted = counts[:, top], vocab_sorted[top]
    counts = counts.tocsr()
    counts.sort_indices()
    return counts, vocab_sorted


def _count_phrases_reference(texts: list[str], max_ngram: int = 3):
    """The CountVectorizer formulation count_phrases reproduces (kept for the tests)."""
    min_df = 2 if len(texts) >= 20 else 1
    vectorizer = CountVectorizer(
        analyzer=lambda t: phrases(t, max_ngram),
        min_df=min_df,
        max_features=MAX_VOCABULARY,
        dtype=np.float32,
    )
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # empty vocabulary: texts of stop words only
        return sparse.csr_matrix((len(texts), 0), dtype=np.float32), np.array([], dtype=object)
    return counts.tocsr(), vectorizer.get_feature_names_out()


def class_tfidf(counts: sparse.csr_matrix, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """c-TF-IDF [n_groups, n_terms]: L1-normalised group term counts x log(1 + A / f_t)."""
    membership = sparse.csr_matrix(
        (np.ones(int((groups >= 0).sum())), (groups[groups >= 0], np.flatnonzero(groups >= 0))),
        shape=(n_groups, counts.shape[0]),
    )
    tf = np.asarray((membership @ counts).todense(), dtype=np.float64)
    totals = tf.sum(axis=1, keepdims=True)
    avg_words = totals.mean() if len(totals) else 1.0
    term_freq = tf.sum(axis=0)
    idf = np.log1p(avg_words / np.maximum(term_freq, 1e-9))
    return (tf / np.maximum(totals, 1e-9)) * idf


def surface_form(phrase: str, texts: list[str], fallback: list[str] | None = None) -> str:
    """The way authors most often write `phrase` ('kv cache' -> 'KV cache', 'lora' -> 'LoRA')
    in `texts`, or in `fallback` (a group's own papers) when `texts` never write it."""
    seen = written_forms(phrase, texts)
    if not seen:
        return surface_form(phrase, fallback) if fallback else phrase

    # Authors capitalise a phrase at a sentence start or inside a name ("Massive Text Embedding
    # Benchmark"); such Title-Case forms count half, so "text embedding" beats "Text Embedding"
    # while acronyms and inner capitals ("KV cache", "LoRA") keep their full weight.
    def rank(form: str) -> tuple[float, str]:
        words = form.split()
        title_case = all(w[:1].isupper() and w[1:].islower() for w in words if w[:1].isalpha())
        weight = seen[form] * (0.5 if title_case else 1.0)
        return (-weight, form)

    return min(seen, key=rank)


# Academic words that may end a label as its head noun ("retrieval-augmented language models").
HEAD_NOUNS = frozenset(
    "model models framework frameworks method methods technique techniques task tasks llm llms "
    "lm lms paradigm approach approaches".split()
)
COMPLETE_SHARE = 0.6  # a neighbour word this common around a phrase belongs to it
MODIFIER_SHARE = 0.8
MAX_LABEL_WORDS = 5


def complete_phrase(phrase: str, texts: list[str]) -> str:
    """Extend a fragment to the phrase authors actually write around it.

    n-grams cut at stop words or at the n-gram limit yield fragments ("retrieval augmented
    language" of "retrieval-augmented language models", "context examples" of "in-context
    examples"). A word that precedes or follows at least COMPLETE_SHARE of the phrase's
    occurrences is added: after it, any content word or head noun ("models"); before it, a
    content word, or any word joined by a hyphen ("in-"). A phrase ending in a participle
    that content words follow in MODIFIER_SHARE of its uses takes the commonest of them if it
    follows in MODIFIER_SHARE * COMPLETE_SHARE of the uses.
    """
    words = phrase.split()
    while len(words) < MAX_LABEL_WORDS:
        total, before, after = neighbours(" ".join(words), texts)
        if total < 2:
            break
        extended = False
        if after:
            # "model" and "models" count as one word; the commoner form is added.
            stems: Counter[str] = Counter()
            for w, c in after.items():
                stems[w[:-1] if w.endswith("s") and len(w) > 3 else w] += c
            stem, count = stems.most_common(1)[0]
            word = max((w for w in after if w == stem or w == stem + "s"), key=after.get)
            content = word not in STOP_WORDS or word in HEAD_NOUNS
            # A phrase ending in a participle ("retrieval-augmented") modifies a noun: when
            # content words follow nearly always, the commonest of them is added even if it
            # is not dominant ("retrieval-augmented generation" over "... language").
            modifier = words[-1].endswith("ed") and (
                sum(c for w, c in after.items() if w not in STOP_WORDS or w in HEAD_NOUNS)
                >= MODIFIER_SHARE * total
            )
            share = MODIFIER_SHARE * COMPLETE_SHARE if modifier else COMPLETE_SHARE
            if count >= share * total and content and word not in words[-1:]:
                words.append(word)
                extended = True
        if before and len(words) < MAX_LABEL_WORDS:
            word, count = before.most_common(1)[0]
            hyphen = word.endswith("-")
            word = word.rstrip("-")
            if count >= COMPLETE_SHARE * total and (hyphen or word not in STOP_WORDS):
                words.insert(0, word)
                extended = True
        if not extended:
            break
    return " ".join(words)


def as_label(form: str) -> str:
    """Capitalise the first letter only, so acronyms and inner capitals ('KV cache') survive."""
    return form[:1].upper() + form[1:] if form[:1].islower() else form


def modifier_share(phrase: str, texts: list[str]) -> float:
    """Share of the uses of `phrase` followed by a content word ("computational cost",
    "clinical notes"): high for adjectives and verbs, low for the nouns a label should name."""
    total, _, after = neighbours(phrase, texts)
    if total == 0:
        return 0.0
    content = sum(c for w, c in after.items() if w not in STOP_WORDS or w in HEAD_NOUNS)
    return content / total


# Words that stand before a verb far more often than before a noun ("we discuss", "to perform").
VERB_CUES = frozenset(
    "i you he she we they it can could will would may might must should to also which that".split()
)


def verb_share(word: str, texts: list[str]) -> float:
    """Share of the uses of a single `word` right after a subject or modal ("we discuss", "to
    perform", "can search"): high for verbs, low for the nouns a name should be."""
    total, before, _ = neighbours(word, texts)
    if total == 0:
        return 0.0
    return sum(c for w, c in before.items() if w in VERB_CUES) / total
