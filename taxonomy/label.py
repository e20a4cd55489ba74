"""Label stage: groups of papers -> readable phrase labels, keywords and representative papers.

Candidates are the group's top c-TF-IDF phrases that occur in a fair share of its papers (so a
label describes the group, not one paper). When a phrase embedder is given, candidates are
re-ranked KeyBERT-style by similarity to the group's centroid and keywords are picked with
maximal marginal relevance (MMR) so they are not near-synonyms of each other. Labels are made
unique across all nodes: a node whose best phrase is taken uses its next best.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize

from taxonomy.keyphrases import (
    as_label,
    class_tfidf,
    complete_phrase,
    count_phrases,
    modifier_share,
    surface_form,
)
from taxonomy.tree import THEME, TOPIC, Taxonomy, group_centroids

PhraseEmbedder = Callable[[list[str]], np.ndarray]
# Bumped whenever the choice of labels changes: automatic labels kept from a run made by an
# older labeller are chosen afresh (user labels from the curation file always stay).
LABELLER_VERSION = 3
N_CANDIDATES = 30
MIN_GROUP_SHARE = 0.15  # a label phrase must occur in at least this share of the group's papers
# Multi-word phrases name a topic better than single words ("code generation" vs "constraints").
NGRAM_BONUS = {1: 1.0, 2: 1.3, 3: 1.4}
# A longer phrase containing the best one replaces it if it still covers this share of the
# papers the best one covers ("instruction" -> "instruction following").
EXTEND_SHARE = 0.35
GENERIC_EXTEND_SHARE = 0.15
# A phrase used by more than this share of the whole corpus ("language", "training") says
# nothing about one group: it may be a keyword but not a label.
GENERIC_SHARE = 0.2
# A label names a subject; a lone adjective ("Comprehensive", "Generative") or a phrase ending
# in a modifier ("high level", "graph based") describes one without naming it, so such
# phrases are tried only after every noun-like candidate.
# A theme is named by one phrase only if that many of its papers use it; otherwise by its two
# largest topics ("Speech & image generation").
THEME_LABEL_SHARE = 0.6
# A theme of several topics is named by one phrase if it covers this share of it (the mean of
# the share of its papers using the phrase and the share in topics where TOPIC_COVER of the
# papers use it); otherwise by two distinct phrases that together cover more of it.
THEME_COVER = 0.35
# A phrase followed by a content word in at least this share of its uses modifies the
# subject instead of naming it ("Computational", "Clinical" of "clinical notes").
MODIFIER_FOLLOWED = 0.5
MAX_THEME_WORDS = 4
# Words agreeing in their first ROOT letters count as one word in a name.
ROOT = 6
TOPIC_COVER = 0.25
# Large corpora: a topic with fewer sampled papers than this is labelled from all its papers.
MIN_SAMPLED = 10
ADJECTIVE_ENDINGS = ("ive", "ous", "ful", "less", "able", "ible")
MODIFIER_WORDS = {"based", "aware", "level", "driven", "oriented", "free", "wise"}
# Alone, these name a field or a property shared by whole corpora, not one topic ("AI",
# "Image", "Survey"): they may be keywords, and a longer phrase containing them may be a label
# ("Image generation"), but not a label by themselves. Compared after _label_key (lower case,
# no plural s, hyphens as spaces).
GENERIC_LABELS = frozenset(
    " ".join(item.split())
    for item in """
    ai, artificial intelligence, image, imaging, feature, memory, human, phrase, feedback,
    instruction, energy, symbolic, deep learning, deep neural network, neural network, visual,
    vision, 3d, 2d, survey, domain specific, retrieval augmented, retrieval, data, learning,
    language, model, system, network, text, training, information, knowledge, benchmark,
    dataset, evaluation, application, agent, token, machine learning, representation,
    generation, optimization, algorithm, analysis, quality, accuracy, efficiency, user,
    high throughput, billion of parameter, parameter, scale, robustness, multimodal, modality,
    natural language processing, nlp, large language model, language model, llm, foundation
    model, pre trained, pretrained, fine tuning, inference, reasoning, computer vision,
    embedding, method, approach, framework, task, problem, result, performance, work,
    research, design, development, intelligence, participant, formulation, construction,
    fidelity, environment, prediction,
    """.split(",")
    if item.strip()
)


def is_generic(label: str) -> bool:
    """Whether a label, on its own, is one of GENERIC_LABELS ("AI", "Images", "Domain-specific")."""
    return _label_key(label) in GENERIC_LABELS


def names_nothing(phrase: str) -> bool:
    """Whether a (lower-case, space-separated) phrase is an adjective or ends in a modifier."""
    words = phrase.split()
    if not words:
        return True
    if words[-1] in MODIFIER_WORDS:
        return True
    return len(words) == 1 and len(words[0]) > 5 and words[0].endswith(ADJECTIVE_ENDINGS)


@dataclass
class GroupLabel:
    label: str
    keywords: list[str]
    representatives: list[int]  # indices into the corpus, most typical first
    terms: list[str]  # raw (lower-case) phrases behind the label and keywords


def _candidates(scores: np.ndarray, doc_share: np.ndarray, vocab: np.ndarray) -> list[int]:
    order = np.argsort(-scores, kind="stable")[: N_CANDIDATES * 3]
    good = [int(i) for i in order if scores[i] > 0 and doc_share[i] >= MIN_GROUP_SHARE]
    rest = [int(i) for i in order if scores[i] > 0 and doc_share[i] < MIN_GROUP_SHARE]
    return (good + rest)[:N_CANDIDATES]


def _mmr(similarity: np.ndarray, relevance: np.ndarray, k: int, diversity: float) -> list[int]:
    """Maximal marginal relevance over a candidate x candidate similarity matrix."""
    chosen: list[int] = []
    remaining = list(range(len(relevance)))
    while remaining and len(chosen) < k:
        if chosen:
            redundancy = similarity[np.ix_(remaining, chosen)].max(axis=1)
        else:
            redundancy = np.zeros(len(remaining))
        mmr = (1 - diversity) * relevance[remaining] - diversity * redundancy
        pick = remaining[int(np.argmax(mmr))]
        chosen.append(pick)
        remaining.remove(pick)
    return chosen


def _extend(
    best: str, phrases: list[str], share: dict[str, float], extend_share: float = EXTEND_SHARE
) -> str:
    """The longest well-used phrase containing `best` ("languages" -> "low-resource languages").

    Longer phrases qualify if used by at least EXTEND_SHARE of the papers using `best`; of
    those within 80 % of the most used, the longest wins.
    """
    padded = f" {best} "
    longer = [p for p in phrases if len(p) > len(best) and padded in f" {p} "]
    floor = MIN_GROUP_SHARE * min(1.0, extend_share / EXTEND_SHARE)
    longer = [p for p in longer if share[p] >= max(extend_share * share[best], floor)]
    if not longer:
        return best
    top = max(share[p] for p in longer)
    return max((p for p in longer if share[p] >= 0.8 * top), key=lambda p: (len(p.split()), p))


def _stem(phrase: str) -> str:
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in phrase.split())


def _rank_group(
    cand: list[int],
    scores: np.ndarray,
    doc_share: np.ndarray,
    generic: np.ndarray,
    vocab: np.ndarray,
    centroid: np.ndarray | None,
    phrase_vecs: dict[str, np.ndarray] | None,
    n_keywords: int,
) -> tuple[list[str], list[str]]:
    """Return (label candidates best first, keywords)."""
    if not cand:  # no usable phrase in the group (stop words only, non-Latin script)
        return [], []
    phrases = [str(vocab[i]) for i in cand]
    share = {p: float(doc_share[i]) for p, i in zip(phrases, cand, strict=True)}
    lexical = scores[cand] / max(scores[cand].max(), 1e-12)
    bonus = np.array([NGRAM_BONUS.get(len(p.split()), 1.2) for p in phrases])
    if phrase_vecs is not None and centroid is not None:
        vecs = np.stack([phrase_vecs[p] for p in phrases])
        relevance = 0.5 * lexical + 0.5 * (vecs @ centroid)
    else:
        vecs = np.eye(len(phrases))
        relevance = lexical
    # Near-duplicates ("instruction"/"instructions") count as one keyword.
    stems = [_stem(p) for p in phrases]
    same = np.array([[a == b for b in stems] for a in stems], dtype=float)
    # Corpus-wide words ("language") are demoted below every specific candidate.
    specific = np.array([not generic[i] for i in cand])
    keyword_relevance = np.where(specific, relevance, relevance - 10.0)
    keywords_idx = _mmr(
        np.maximum(vecs @ vecs.T, same), keyword_relevance, n_keywords, diversity=0.3
    )
    # Specific phrases used by a fair share of the group first, then rarer ones, then
    # adjectives/modifiers; corpus-wide words last (in the same order among themselves).
    order = [int(i) for i in np.argsort(-(relevance * bonus), kind="stable")]
    # A generic word ("image") is extended more readily ("image generation").
    extended = [
        _extend(p, phrases, share, GENERIC_EXTEND_SHARE if is_generic(p) else EXTEND_SHARE)
        for p in phrases
    ]
    tier = [
        (
            bool(generic[cand[i]]),
            names_nothing(extended[i]) or is_generic(extended[i]),
            bool(doc_share[cand[i]] < MIN_GROUP_SHARE),
        )
        for i in order
    ]
    order = [i for _, i in sorted(zip(tier, order, strict=True), key=lambda pair: pair[0])]
    ranked = list(dict.fromkeys(extended[i] for i in order))  # drop repeats, keep order
    return ranked, [phrases[i] for i in keywords_idx]


def label_groups(
    groups: np.ndarray,
    n_groups: int,
    counts: sparse.csr_matrix,
    vocab: np.ndarray,
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    n_keywords: int = 10,
    n_representatives: int = 8,
    embed_phrases: PhraseEmbedder | None = None,
    doc_embeddings: np.ndarray | None = None,
    taken: set[str] | None = None,
    allowed_terms: list[set[str]] | None = None,
    fallback_labels: list[str] | None = None,
    min_label_share: float = 0.0,
) -> list[GroupLabel]:
    """Label each group 0..n_groups-1 of `groups` (an id per paper, -1 = none).

    `allowed_terms[g]`, when given, restricts group g's candidates (used to derive a parent's
    label from its children's keywords); if the best of them is used by fewer than
    `min_label_share` of the group's papers, `fallback_labels[g]` is used instead.
    `taken` holds labels already used elsewhere.
    """
    taken = taken if taken is not None else set()
    scores = class_tfidf(counts, groups, n_groups)
    binary = counts.copy()
    binary.data[:] = 1
    unit = normalize(vectors)
    sem = normalize(doc_embeddings) if doc_embeddings is not None else None
    members = [np.flatnonzero(groups == g) for g in range(n_groups)]
    generic = np.asarray(binary.mean(axis=0)).ravel() > GENERIC_SHARE
    cands: list[list[int]] = []
    shares: list[np.ndarray] = []  # share of the group's papers using each term
    for g in range(n_groups):
        share = np.asarray(binary[members[g]].mean(axis=0)).ravel()
        row = scores[g].copy()
        if allowed_terms is not None:
            mask = (
                np.isin(vocab, sorted(allowed_terms[g]))
                if allowed_terms[g]
                else np.ones_like(row, bool)
            )
            row = np.where(mask, row, 0.0)
        cands.append(_candidates(row, share, vocab))
        shares.append(share)
    phrase_vecs = None
    if embed_phrases is not None and sem is not None:
        wanted = sorted({str(vocab[i]) for c in cands for i in c})
        phrase_vecs = (
            dict(zip(wanted, normalize(embed_phrases(wanted)), strict=True)) if wanted else {}
        )

    vocab_index = {str(term): i for c in cands for term, i in ((vocab[j], j) for j in c)}
    centers = group_centroids(unit, groups, n_groups)
    sem_centroids = group_centroids(sem, groups, n_groups) if sem is not None else None
    results: list[GroupLabel | None] = [None] * n_groups
    # Bigger groups choose first: they have the strongest claim to a generic phrase.
    for g in sorted(range(n_groups), key=lambda g: (-len(members[g]), g)):
        centroid = sem_centroids[g] if sem_centroids is not None and len(members[g]) else None
        ranked, keywords = _rank_group(
            cands[g], scores[g], shares[g], generic, vocab, centroid, phrase_vecs, n_keywords
        )
        group_texts = [texts[i] for i in members[g]]
        best_share = max((shares[g][vocab_index[p]] for p in ranked[:1]), default=0.0)
        if fallback_labels is not None and best_share < min_label_share:
            ranked = [fallback_labels[g], *ranked]
        label = _unique_label(ranked, keywords, group_texts, taken, g)
        taken.add(label.lower())
        typical = members[g][np.argsort(-(unit[members[g]] @ centers[g]), kind="stable")]
        results[g] = GroupLabel(
            label=label,
            keywords=[surface_form(k, group_texts[:200]) for k in keywords],
            representatives=[int(i) for i in typical[:n_representatives]],
            terms=sorted(set(keywords) | set(ranked[:3])),
        )
    return [r for r in results if r is not None]


def join_labels(child_labels: list[str]) -> str:
    """Parent name from its (largest first) children's labels: 'Speech & image generation'.

    The second half is the next label sharing no word with the first (so never "Survey &
    survey"); its first letter is lower-cased unless it is part of an acronym ("LoRA").
    """
    if len(child_labels) == 1:
        return child_labels[0]
    first = child_labels[0]
    words = set(_roots(first))
    second = next((c for c in child_labels[1:] if not words & set(_roots(c))), None)
    if second is None:
        return first
    return f"{first} & {_inside(second)}"


def _inside(label: str) -> str:
    """A label as the second half of a name: its capital first letter lower-cased unless the
    label has other capitals ("KV cache", "Spoken Language Understanding") or is an acronym."""
    if label[1:] == label[1:].lower() and label[1:2].isalpha():
        return label[:1].lower() + label[1:]
    return label


def _roots(label: str) -> list[str]:
    """The label's words cut to ROOT letters: "equilibrium" and "equilibria" are one word."""
    return [w[:ROOT] for w in _label_key(label).split()]


def repeats_word(label: str) -> bool:
    """Whether a label uses a word twice, up to plurals and endings ("Survey & surveys",
    "Equilibrium & equilibria")."""
    words = _roots(label)
    return len(words) != len(set(words))


@dataclass
class _ThemeCandidate:
    term: int  # vocabulary index
    coverage: float  # share of the theme's papers using it, averaged with topic coverage
    papers: np.ndarray  # bool per theme paper: uses the term
    score: float


def _theme_candidates(
    theme: int,
    theme_of_row: np.ndarray,
    topic_of_row: np.ndarray,
    binary: sparse.csr_matrix,
    terms: set[int],
    corpus_generic: np.ndarray,
    vocab: np.ndarray,
) -> list[_ThemeCandidate]:
    """The theme's candidate phrases scored by coverage x distinctiveness, best first.

    coverage: the mean of (share of the theme's papers using the phrase) and (share of the
    theme's papers in topics where at least TOPIC_COVER of the papers use it), so a phrase
    of every topic beats one of the largest topic; distinctiveness: the share of the phrase's
    users (assigned papers) that are in this theme.
    """
    inside = theme_of_row == theme
    assigned = theme_of_row >= 0
    if not inside.any() or not terms:
        return []
    cols = np.array(sorted(terms))
    sub = binary[:, cols]
    used_in = np.asarray(sub[inside].sum(axis=0)).ravel()
    used_all = np.asarray(sub[assigned].sum(axis=0)).ravel()
    n_in = int(inside.sum())
    share = used_in / n_in
    distinct = used_in / np.maximum(used_all, 1)
    topic_cover = np.zeros(len(cols))
    kids = np.unique(topic_of_row[inside & (topic_of_row >= 0)])
    for t in kids:
        rows = topic_of_row == t
        topic_share = np.asarray(sub[rows].mean(axis=0)).ravel()
        topic_cover += (topic_share >= TOPIC_COVER) * rows.sum() / n_in
    coverage = 0.5 * (share + topic_cover)
    bonus = np.array([NGRAM_BONUS.get(1 + int(s.count(" ")), 1.2) for s in vocab[cols]])
    score = coverage * distinct * bonus
    dense = sub[inside].toarray() > 0
    out = [
        _ThemeCandidate(int(c), float(coverage[i]), dense[:, i], float(score[i]))
        for i, c in enumerate(cols)
        if used_in[i] > 0 and not corpus_generic[c]
    ]
    return sorted(out, key=lambda c: (-c.score, c.term))


def _similarity_to(
    center: np.ndarray, embed_phrases: PhraseEmbedder
) -> Callable[[list[str]], np.ndarray]:
    return lambda items: normalize(embed_phrases(items)) @ center


def name_theme(
    candidates: list[_ThemeCandidate],
    vocab: np.ndarray,
    texts: list[str],
    child_labels: list[str],
    taken: set[str],
    relevance: Callable[[list[str]], np.ndarray] | None = None,
) -> str | None:
    """A name for a theme of several topics: the best-scoring phrase that covers it (at least
    THEME_COVER), else, as a last resort, two phrases with no word in common that together
    cover most of it ("Speech & image generation"). Never a child's label as it is, a
    generic word (GENERIC_LABELS), a name that repeats a word or one already taken. None
    when nothing qualifies (the caller falls back on the children's labels).

    `relevance` (phrases -> cosine similarity to the theme's centroid embedding), when given,
    re-ranks the usable candidates by score x similarity, KeyBERT-style, so a phrase of the
    theme's subject beats a frequent word of its prose ("self-attention" over "length")."""
    sample = texts[:300]
    children = {_label_key(c) for c in child_labels}
    usable: list[tuple[_ThemeCandidate, str, str]] = []  # (candidate, label, surface form)
    child_hit: tuple[_ThemeCandidate, str] | None = None  # best phrase that is a child label
    for cand in candidates[: 3 * N_CANDIDATES]:
        phrase = str(vocab[cand.term])
        if names_nothing(phrase):
            continue
        form = surface_form(complete_phrase(phrase, sample), sample)
        label = as_label(form)
        key = _label_key(label)
        if child_hit is None and not usable and key in children and not is_generic(label):
            child_hit = (cand, next(c for c in child_labels if _label_key(c) == key))
        if (
            len(key.split()) > MAX_THEME_WORDS
            or (" " not in form and modifier_share(form, sample) >= MODIFIER_FOLLOWED)
            or key in children
            or is_generic(label)
            or repeats_word(label)
            or clashes(label, taken)
            or any(key == _label_key(u) for _, u, _ in usable)
        ):
            continue
        usable.append((cand, label, form))
        if len(usable) >= 12:
            break
    if not usable and child_hit is None:
        return None
    if relevance is not None and usable:
        similarity = relevance([form for _, _, form in usable])
        order = np.argsort(
            [
                -c.score * max(float(sim), 0.0)
                for (c, _, _), sim in zip(usable, similarity, strict=True)
            ],
            kind="stable",
        )
        usable = [usable[i] for i in order]
    if child_hit is not None and child_hit[0].coverage >= THEME_COVER:
        # One topic's subject runs through the whole theme ("Attention" in a theme of
        # attention, KV cache, attention scores): that label and the best distinct phrase
        # (a multi-word one, else another topic's label, else any).
        hit_label = child_hit[1]
        words = set(_roots(hit_label))
        distinct = [
            (form, label)
            for u, label, form in usable
            if not words & set(_roots(label))
            and len(_label_key(label).split()) <= 3
            and u.papers.mean() >= MIN_GROUP_SHARE
        ]
        others = [c for c in child_labels if c != hit_label and not words & set(_roots(c))]
        second = next((form for form, _ in distinct if " " in form), None)
        second = second or (others[0] if others else None)
        second = second or (distinct[0][0] if distinct else None)
        if second is not None:
            if second in others:
                second = _inside(second)
            return f"{hit_label} & {second}"
    if not usable:
        return None
    best, best_label, _ = usable[0]
    if best.coverage >= THEME_COVER:
        return best_label
    # Last resort: the pair of distinct phrases covering most of the theme's papers.
    pair, pair_cover = None, best.papers.mean()
    for i, (a, label_a, _) in enumerate(usable):
        for b, label_b, form_b in usable[i + 1 :]:
            if set(_roots(label_a)) & set(_roots(label_b)):
                continue
            if len(_label_key(label_a).split()) + len(_label_key(label_b).split()) > 5:
                continue
            cover = (a.papers | b.papers).mean()
            if cover > pair_cover + 0.1:
                pair, pair_cover = (label_a, form_b), cover
    if pair is None:
        return best_label
    return f"{pair[0]} & {pair[1]}"


def _label_key(label: str) -> str:
    """Lower-case words without plural 's' or possessive ("God's" -> "god")."""
    words = re.findall(r"[a-z0-9]+", label.lower().replace("'s", ""))
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words)


def clashes(label: str, taken: set[str]) -> bool:
    """Whether `label` reads as one already taken: same words up to plurals and possessives,
    or, for single words of 5+ letters, one a prefix of the other ("Homosexual"/"Homosexuality",
    "Window"/"Windows")."""
    key = _label_key(label)
    keys = {_label_key(t) for t in taken}
    if key in keys:
        return True
    if " " in key or len(key) < 5:
        return False
    return any(
        " " not in k and len(k) >= 5 and (k.startswith(key) or key.startswith(k)) for k in keys
    )


def _unique_label(
    ranked: list[str], keywords: list[str], texts: list[str], taken: set[str], g: int
) -> str:
    sample = texts[:200]
    forms: list[str] = []  # one by one: usually the first is free (75k: 1000s of calls)
    for phrase in ranked[:N_CANDIDATES]:  # lazily: completing a phrase scans the texts
        forms.append(surface_form(complete_phrase(phrase, sample), sample))
        label = as_label(forms[-1])
        if (
            not clashes(label, taken)
            and not is_generic(label)
            and not repeats_word(label)
            and (" " in forms[-1] or modifier_share(forms[-1], sample) < MODIFIER_FOLLOWED)
        ):
            return label
    for form in forms:  # only generic phrases are free: the best of them
        if not clashes(as_label(form), taken):
            return as_label(form)
    if len(forms) >= 2:  # every single phrase is taken: combine the two best
        label = f"{as_label(forms[0])}: {forms[1]}"
        if label.lower() not in taken:
            return label
    base = as_label(forms[0]) if forms else f"Topic {g + 1}"
    suffix = 2
    while f"{base} ({suffix})".lower() in taken:
        suffix += 1
    return f"{base} ({suffix})"


def label_rows(
    sample: np.ndarray | None, topic_of: np.ndarray, min_sampled: int = MIN_SAMPLED
) -> np.ndarray:
    """Papers the labels are computed from: the fitted sample, plus every paper of a topic that
    has fewer than `min_sampled` sampled papers (small or curated topics). Phrase statistics of
    a 20k sample name topics as well as all 75k papers do, at a fixed cost."""
    if sample is None:
        return np.arange(len(topic_of))
    in_sample = np.zeros(len(topic_of), bool)
    in_sample[sample] = True
    ids = topic_of[topic_of >= 0]
    sampled = np.bincount(
        topic_of[in_sample & (topic_of >= 0)], minlength=ids.max() + 1 if len(ids) else 0
    )
    thin = np.flatnonzero(sampled < min_sampled)
    return np.flatnonzero(in_sample | np.isin(topic_of, thin))


def _settle(
    labels: list[GroupLabel], ids: Sequence[str], preset: dict[str, str], fixed: Mapping[str, str]
) -> dict[str, str]:
    """Put the preset labels on the nodes; return the automatic label by node id: what
    labelling chose for nodes the user named (`fixed`), the kept label for the others."""
    auto = {}
    for group, node in zip(labels, ids, strict=True):
        auto[node] = group.label if node in fixed else preset.get(node, group.label)
        group.label = preset.get(node, group.label)
    return auto


def label_taxonomy(
    taxonomy: Taxonomy,
    texts: Sequence[str],
    vectors: np.ndarray,
    embeddings: np.ndarray,
    settings: Any,
    *,
    preset: dict[str, str],
    fixed: Mapping[str, str],
    sample: np.ndarray | None = None,
    embed_phrases: PhraseEmbedder | None = None,
) -> tuple[Taxonomy, dict[str, str]]:
    """(the taxonomy with labels, keywords and representatives; automatic label by node id).

    `preset` labels (the user's, kept ones) are used as they are; `fixed` are the user's own,
    whose nodes keep the automatic label chosen here for the record. A theme is named from its
    topics' terms when one covers THEME_LABEL_SHARE of its papers, else from its two largest
    topics' labels.
    """
    rows = label_rows(sample, taxonomy.topic_of)
    row_texts = [texts[i] for i in rows]
    counts, vocab = count_phrases(row_texts, settings.max_ngram)
    common = dict(
        counts=counts,
        vocab=vocab,
        texts=row_texts,
        vectors=vectors[rows],
        n_keywords=settings.n_keywords,
        n_representatives=settings.n_representatives,
        embed_phrases=embed_phrases,
        doc_embeddings=embeddings[rows],
    )
    taken: set[str] = {label.lower() for label in preset.values()}
    topic_groups = taxonomy.topic_of[rows]
    topics = label_groups(topic_groups, taxonomy.n_nodes(TOPIC), taken=taken, **common)
    topic_auto = _settle(topics, taxonomy.ids[TOPIC], preset, fixed)
    n_themes = taxonomy.n_nodes(THEME)
    children = [taxonomy.children(THEME, j) for j in range(n_themes)]
    theme_rows = taxonomy.layer(THEME)[rows]
    # Keywords and representatives of a theme come from its own papers; its name from the
    # phrases of its topics and its own c-TF-IDF (name_theme).
    themes = label_groups(theme_rows, n_themes, taken=set(taken), **common)
    binary = counts.copy().tocsr()
    binary.data[:] = 1
    corpus_generic = np.asarray(binary.mean(axis=0)).ravel() > GENERIC_SHARE
    index = {str(term): i for i, term in enumerate(vocab)}
    sizes = np.bincount(theme_rows[theme_rows >= 0], minlength=n_themes)
    for j in sorted(range(n_themes), key=lambda j: (-sizes[j], j)):
        kids = children[j]
        child_labels = [topics[t].label for t in kids]
        if len(kids) == 1:
            name = child_labels[0]
        else:
            terms = {index[term] for t in kids for term in topics[t].terms if term in index}
            # and the theme's own multi-word phrases (single words of its own are too often
            # words of its prose: "finally", "length")
            terms |= {index[term] for term in themes[j].terms if " " in term and term in index}
            candidates = _theme_candidates(
                j, theme_rows, topic_groups, binary, terms, corpus_generic, vocab
            )
            theme_texts = [row_texts[i] for i in np.flatnonzero(theme_rows == j)]
            relevance = None
            if embed_phrases is not None and len(theme_texts):
                center = normalize(embeddings[rows][theme_rows == j].mean(axis=0)[None])[0]
                relevance = _similarity_to(center, embed_phrases)
            name = name_theme(
                candidates, vocab, theme_texts, child_labels, taken, relevance=relevance
            )
            if name is None:
                name = join_labels(child_labels)
        themes[j].label = name
        taken.add(name.lower())
    theme_auto = _settle(themes, taxonomy.ids[THEME], preset, fixed)
    labelled: dict[str, GroupLabel] = {}
    for groups, ids in ((topics, taxonomy.ids[TOPIC]), (themes, taxonomy.ids[THEME])):
        for group, node in zip(groups, ids, strict=True):
            group.representatives = [int(rows[i]) for i in group.representatives]
            labelled[node] = group
    result = taxonomy.replace(
        labels={node: g.label for node, g in labelled.items()},
        keywords={node: tuple(g.keywords) for node, g in labelled.items()},
        representatives={node: tuple(g.representatives) for node, g in labelled.items()},
    )
    return result, topic_auto | theme_auto
