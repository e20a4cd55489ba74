"""Label stage: groups of papers -> readable phrase labels, keywords and representative papers.

Candidates are the group's top c-TF-IDF phrases that occur in a fair share of its papers (so a
label describes the group, not one paper). When a phrase embedder is given, candidates are
re-ranked KeyBERT-style by similarity to the group's centroid and keywords are picked with
maximal marginal relevance (MMR) so they are not near-synonyms of each other. Labels are made
unique across all nodes: a node whose best phrase is taken uses its next best.
"""

from __future__ import annotations

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
    surface_form,
)
from taxonomy.naming import (  # noqa: F401  (re-exported: the word rules of every label)
    GENERIC_LABELS,
    MIN_GROUP_SHARE,
    MODIFIER_FOLLOWED,
    NGRAM_BONUS,
    clashes,
    is_generic,
    join_labels,
    label_key,
    modifies,
    name_theme,
    names_nothing,
    repeats_word,
    theme_candidates,
    within,
)
from taxonomy.tree import THEME, TOPIC, Taxonomy, group_centroids
from taxonomy.vocabulary import area_names

PhraseEmbedder = Callable[[list[str]], np.ndarray]
# Bumped whenever the choice of labels changes: automatic labels kept from a run made by an
# older labeller are chosen afresh (user labels from the curation file always stay).
LABELLER_VERSION = 5
N_CANDIDATES = 30
# A theme's name is chosen again at most this often when it reads as another theme's.
MAX_RENAMES = 4
# Multi-word phrases name a topic better than single words: NGRAM_BONUS (taxonomy.naming).
# A longer phrase containing the best one replaces it if it still covers this share of the
# papers the best one covers ("instruction" -> "instruction following").
EXTEND_SHARE = 0.35
GENERIC_EXTEND_SHARE = 0.15
# A phrase used by more than this share of the whole corpus ("language", "training") says
# nothing about one group: it may be a keyword but not a label.
GENERIC_SHARE = 0.2
# Large corpora: a topic with fewer sampled papers than this is labelled from all its papers.
MIN_SAMPLED = 10
# Papers whose phrases label the topics and themes: a seeded sample of this many (plus every
# paper of a topic with fewer than MIN_SAMPLED of them). Phrase statistics of 8,000 papers
# name 75 topics as all 20,000 do, and phrase completion scans texts: its cost stays fixed.
LABEL_SAMPLE = 8_000
# Labels are written as the corpus most often writes them, counted in up to this many papers
# spread over it ("text embedding", though one topic's papers write "Text Embedding").
WRITTEN_SAMPLE = 4000


def corpus_sample(texts: Sequence[str], n: int = WRITTEN_SAMPLE) -> list[str]:
    """Up to `n` texts evenly spread over `texts` (all of them when there are fewer)."""
    step = max(1, -(-len(texts) // n))
    return list(texts[::step])


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


def _group_candidates(
    groups: np.ndarray,
    n_groups: int,
    counts: sparse.csr_matrix,
    vocab: np.ndarray,
    allowed_terms: list[set[str]] | None = None,
) -> tuple[np.ndarray, sparse.csr_matrix, list[np.ndarray], list[np.ndarray], list[list[int]]]:
    """(c-TF-IDF scores, phrase use per paper, members, share of each group's papers using each
    phrase, label candidates per group) of `label_groups`."""
    scores = class_tfidf(counts, groups, n_groups)
    binary = counts.copy()
    binary.data[:] = 1
    members = [np.flatnonzero(groups == g) for g in range(n_groups)]
    cands: list[list[int]] = []
    shares: list[np.ndarray] = []
    for g in range(n_groups):
        if len(members[g]):
            share = np.asarray(binary[members[g]].mean(axis=0)).ravel()
        else:  # a group none of these papers is in (`candidate_phrases` of a sample)
            share = np.zeros(binary.shape[1])
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
    return scores, binary, members, shares, cands


def candidate_phrases(
    groups: np.ndarray, n_groups: int, counts: sparse.csr_matrix, vocab: np.ndarray
) -> list[str]:
    """The phrases `label_groups` embeds to label these groups, sorted: a caller can embed
    them ahead (the fit does, while its background process is free)."""
    return _phrases(_group_candidates(groups, n_groups, counts, vocab)[-1], vocab)


def _phrases(cands: list[list[int]], vocab: np.ndarray) -> list[str]:
    """The distinct candidate phrases of all groups, sorted."""
    return sorted({str(vocab[i]) for c in cands for i in c})


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
    scores, binary, members, shares, cands = _group_candidates(
        groups, n_groups, counts, vocab, allowed_terms
    )
    unit = normalize(vectors)
    sem = normalize(doc_embeddings) if doc_embeddings is not None else None
    written = corpus_sample(texts)
    generic = np.asarray(binary.mean(axis=0)).ravel() > GENERIC_SHARE
    phrase_vecs = None
    if embed_phrases is not None and sem is not None:
        wanted = _phrases(cands, vocab)
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
        # one list object: the phrase search joins each list it is given once
        head = [texts[i] for i in members[g][:200]]
        best_share = max((shares[g][vocab_index[p]] for p in ranked[:1]), default=0.0)
        if fallback_labels is not None and best_share < min_label_share:
            ranked = [fallback_labels[g], *ranked]
        label = _unique_label(ranked, keywords, head, taken, g, written)
        taken.add(label.lower())
        typical = members[g][np.argsort(-(unit[members[g]] @ centers[g]), kind="stable")]
        results[g] = GroupLabel(
            label=label,
            keywords=[surface_form(k, head) for k in keywords],
            representatives=[int(i) for i in typical[:n_representatives]],
            terms=sorted(set(keywords) | set(ranked[:3])),
        )
    return [r for r in results if r is not None]


def _unique_label(
    ranked: list[str],
    keywords: list[str],
    sample: list[str],
    taken: set[str],
    g: int,
    written: list[str] | None = None,
) -> str:
    """The first free, specific phrase of `ranked` as written (in `written`, else in `sample`,
    the group's first 200 papers)."""
    forms: list[str] = []  # one by one: usually the first is free (75k: 1000s of calls)
    for phrase in ranked[:N_CANDIDATES]:  # lazily: completing a phrase scans the texts
        complete = complete_phrase(phrase, sample)
        forms.append(surface_form(complete, written or sample, fallback=sample))
        label = as_label(forms[-1])
        if (
            not clashes(label, taken)
            and not is_generic(label)
            and not repeats_word(label)
            and not modifies(forms[-1], sample)
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
    """Papers the labels are computed from: the sample (LABEL_SAMPLE), plus every paper of a
    topic that has fewer than `min_sampled` sampled papers (small or curated topics)."""
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


def sample_rows(sample: np.ndarray | None, n_papers: int) -> np.ndarray:
    """The rows `label_rows` gives when no topic is thin (the usual case): known before the
    topics are, so their phrases can be counted ahead (in the background process)."""
    return label_rows(sample, np.full(n_papers, -1, np.int64))


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


def _theme_relevance(
    center: np.ndarray, embed_phrases: PhraseEmbedder
) -> Callable[[list[str]], np.ndarray]:
    return lambda items: normalize(embed_phrases(items)) @ center


@dataclass
class _Phrases:
    """The phrase statistics of the labelled papers, shared by topic labels and theme names."""

    texts: list[str]
    counts: sparse.csr_matrix
    vocab: np.ndarray
    embeddings: np.ndarray  # the rows' paper embeddings


def _name_themes(
    taxonomy: Taxonomy,
    rows: np.ndarray,
    data: _Phrases,
    topics: list[GroupLabel],
    themes: list[GroupLabel],
    taken: set[str],
    embed_phrases: PhraseEmbedder | None,
    vocabulary: str,
    kept: Mapping[int, str],
) -> list[str]:
    """Name every theme (labels set on `themes`, names added to `taken`) but those `kept`
    (theme index -> the label it keeps); return the source of each name: the reference
    scheme's name, or "corpus" for a name from its phrases."""
    n_themes = taxonomy.n_nodes(THEME)
    theme_rows = taxonomy.layer(THEME)[rows]
    centers = group_centroids(normalize(data.embeddings), theme_rows, n_themes)
    areas = area_names(
        data.embeddings,
        theme_rows,
        vocabulary,
        embed_phrases,
        usable=lambda name: not (clashes(name, taken) or is_generic(name) or repeats_word(name)),
    )
    theme_names = [name for name in areas.names if name is not None]
    for name in theme_names:
        taken.add(name.lower())
    binary = data.counts.copy().tocsr()
    binary.data[:] = 1
    corpus_generic = np.asarray(binary.mean(axis=0)).ravel() > GENERIC_SHARE
    index = {str(term): i for i, term in enumerate(data.vocab)}
    written = corpus_sample(data.texts)
    topic_rows = taxonomy.topic_of[rows]
    sizes = np.bincount(theme_rows[theme_rows >= 0], minlength=n_themes)
    for j in sorted(range(n_themes), key=lambda j: (-sizes[j], j)):
        kids = taxonomy.children(THEME, j)
        child_labels = [topics[t].label for t in kids]
        name = kept.get(j, areas.names[j])
        if name is None and len(kids) == 1:
            name = child_labels[0]
        elif name is None:
            terms = {index[term] for t in kids for term in topics[t].terms if term in index}
            # and the theme's own multi-word phrases (single words of its own are too often
            # words of its prose: "finally", "length")
            terms |= {index[term] for term in themes[j].terms if " " in term and term in index}
            candidates = theme_candidates(
                j, theme_rows, topic_rows, binary, terms, corpus_generic, data.vocab
            )
            theme_texts = [data.texts[i] for i in np.flatnonzero(theme_rows == j)]
            relevance = None
            if embed_phrases is not None and len(theme_texts):
                relevance = _theme_relevance(centers[j], embed_phrases)
            refused: set[str] = set()  # names reading as another theme's ("Pruning")
            name = None
            for _ in range(MAX_RENAMES):
                name = name_theme(
                    candidates,
                    data.vocab,
                    theme_texts,
                    child_labels,
                    taken | refused,
                    relevance=relevance,
                    written=written,
                )
                if name is None or not within(name, theme_names):
                    break
                refused.add(name.lower())
            name = name or join_labels(child_labels)
            taken.add(name.lower())
        theme_names.append(name)
        themes[j].label = name
    return [areas.scheme if name else "corpus" for name in areas.names]


def _named_by(
    ids: Sequence[str],
    sources: list[str],
    auto: dict[str, str],
    labels: list[GroupLabel],
    fixed: Mapping[str, str],
) -> dict[str, str]:
    """Who named each theme: "user" (curation file), the scheme or "corpus" (this run), or
    "previous run" (a label kept from the last run that this run would have chosen otherwise)."""
    out = {}
    for node, source, group in zip(ids, sources, labels, strict=True):
        if node in fixed:
            out[node] = "user"
        elif group.label != auto[node]:
            out[node] = "previous run"
        else:
            out[node] = source
    return out


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
    vocabulary: str = "auto",
    counted: tuple[np.ndarray, Callable[[], tuple[sparse.csr_matrix, np.ndarray]]] | None = None,
) -> tuple[Taxonomy, dict[str, str]]:
    """(the taxonomy with labels, keywords, representatives and who named each theme;
    automatic label by node id).

    `preset` labels (the user's, kept ones) are used as they are; `fixed` are the user's own,
    whose nodes keep the automatic label chosen here for the record. Themes are named from
    the reference scheme `vocabulary` where it matches them clearly (taxonomy.vocabulary),
    else from the phrases that cover them (taxonomy.naming.name_theme). `counted`: (rows,
    a function giving `count_phrases` of their texts), counted ahead; used when they are the
    rows labelled here.
    """
    rows = label_rows(sample, taxonomy.topic_of)
    row_texts = [texts[i] for i in rows]
    if counted is not None and np.array_equal(counted[0], rows):
        counts, vocab = counted[1]()
    else:
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
    topics = label_groups(taxonomy.topic_of[rows], taxonomy.n_nodes(TOPIC), taken=taken, **common)
    topic_auto = _settle(topics, taxonomy.ids[TOPIC], preset, fixed)
    # Keywords and representatives of a theme come from its own papers; its name from a
    # reference scheme or from the phrases of its topics and its own (_name_themes).
    theme_rows = taxonomy.layer(THEME)[rows]
    themes = label_groups(theme_rows, taxonomy.n_nodes(THEME), taken=set(taken), **common)
    data = _Phrases(row_texts, counts, vocab, embeddings[rows])
    # A theme keeping its label from the last run (not the user's: for those the automatic
    # name is recorded) shows that label whatever is computed here: it is not named again.
    kept = {
        j: preset[node]
        for j, node in enumerate(taxonomy.ids[THEME])
        if node in preset and node not in fixed
    }
    sources = _name_themes(
        taxonomy, rows, data, topics, themes, taken, embed_phrases, vocabulary, kept
    )
    theme_auto = _settle(themes, taxonomy.ids[THEME], preset, fixed)
    named_by = _named_by(taxonomy.ids[THEME], sources, theme_auto, themes, fixed)
    labelled: dict[str, GroupLabel] = {}
    for groups, ids in ((topics, taxonomy.ids[TOPIC]), (themes, taxonomy.ids[THEME])):
        for group, node in zip(groups, ids, strict=True):
            group.representatives = [int(rows[i]) for i in group.representatives]
            labelled[node] = group
    result = taxonomy.replace(
        labels={node: g.label for node, g in labelled.items()},
        keywords={node: tuple(g.keywords) for node, g in labelled.items()},
        representatives={node: tuple(g.representatives) for node, g in labelled.items()},
        named_by=named_by,
    )
    return result, topic_auto | theme_auto
