"""What makes a label acceptable, and theme names from the phrases that cover a theme.

The word rules (`is_generic`, `names_nothing`, `repeats_word`, `clashes`) apply to topic labels
and theme names alike; `label_problems` is the one check of finished labels (the tests and
bench/quality.py's label table use it). A theme of several topics is named by the phrase
that covers most of it and is distinctive for it (`theme_candidates`, `name_theme`); two
phrases are joined with "&" only when no single phrase covers enough of the theme.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from taxonomy.keyphrases import (
    as_label,
    complete_phrase,
    modifier_share,
    surface_form,
    verb_share,
)

MIN_GROUP_SHARE = 0.15  # a label phrase must occur in at least this share of the group's papers
# Multi-word phrases name a topic better than single words ("code generation" vs "constraints").
NGRAM_BONUS = {1: 1.0, 2: 1.3, 3: 1.4}
# Theme names weigh coverage against distinctiveness, so their bonus is smaller.
THEME_NGRAM_BONUS = {1: 1.0, 2: 1.15, 3: 1.2}
# A theme of several topics is named by one phrase if this share of its papers use it.
THEME_SHARE = 0.3
# Below THEME_SHARE, a multi-word phrase still names the theme alone if this share of its
# papers use it and no pair of phrases covers PAIR_GAIN more of them: a join is the last resort.
PART_SHARE = 0.15
PAIR_GAIN = 0.2
# A phrase names a theme (alone or as half of a join) only if a paper using it is at least this
# many times likelier to be in the theme than a paper picked at random ("think" is not).
MIN_LIFT = 2.0
# Rule 1 of name_theme looks this far down the ranking (further down, a phrase used by enough
# papers is a word of the field's prose: "rate" for wireless channels).
NAME_POOL = 3
# A join is of two of the PAIR_POOL best distinctive phrases: covering the most papers does not
# make a frequent word lower down a good half ("Transformers & size").
PAIR_POOL = 6
# A topic's label grows into a theme's name ("Attention" -> "Attention mechanisms") when it
# covers this share of the theme (TOPIC_COVER: the share of a topic's papers that makes a
# phrase the topic's).
THEME_COVER = 0.35
TOPIC_COVER = 0.25
# A phrase followed by a content word in at least this share of its uses modifies the
# subject instead of naming it ("Computational", "Clinical" of "clinical notes").
MODIFIER_FOLLOWED = 0.5
# A single word after a subject or modal in this share of its uses is a verb ("we discuss").
VERB_PRECEDED = 0.2
MAX_THEME_WORDS = 4
N_NAME_CANDIDATES = 90
# Words agreeing in their first ROOT letters count as one word in a name.
ROOT = 6
ADJECTIVE_ENDINGS = ("ive", "ous", "ful", "less", "able", "ible")
MODIFIER_WORDS = {"based", "aware", "level", "driven", "oriented", "free", "wise"}
# Sentence adverbs open a sentence of any subject ("Finally, we ..."), greetings a post, and
# praise words qualify any subject ("High-performing code").
DISCOURSE_WORDS = frozenset(
    """finally additionally furthermore moreover however recently specifically notably
    importantly overall consequently conversely thus therefore hence meanwhile subsequently
    ultimately interestingly surprisingly unfortunately currently typically cheers thanks
    regards hi hello high-performing comprehensive novel promising powerful""".split()
)
# Alone, these name a field or a property shared by whole corpora, not one topic ("AI",
# "Image", "Survey"), or the scaffolding of a paper ("Overview", "Documents"): they may be
# keywords, and a longer phrase containing them may be a label ("Image generation"), but not a
# label by themselves. Compared after label_key (lower case, no plural s, hyphens as spaces).
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
    fidelity, environment, prediction, overview, review, literature, document, word, english,
    corpora, corpu, content, response, example, step, output, input, interaction, scenario,
    setting, simulation, tool, communication, computation, process, signal, structure,
    modeling, modelling, code, coding, classification, detection, discovery, matching, evaluate,
    future research, future research direction, future direction, future work, direction,
    challenge, opportunity, limitation, finding, insight, strategy, outcome, cost, resource,
    downstream task, pre trained model, training data, benchmark dataset, sample, end,
    people, person, thing, way, time, year, list, question, post, article, idea, reason, fact,
    number, part, group, point, case, lot, size, rate, label, length, level, value, variable,
    set, type, form, order, term, unit, amount, degree, range,
    """.split(",")
    if item.strip()
)


def label_key(label: str) -> str:
    """Lower-case words without plural 's' or possessive ("God's" -> "god", "strategies" ->
    "strategy")."""
    words = re.findall(r"[a-z0-9]+", label.lower().replace("'s", ""))
    return " ".join(_singular(w) for w in words)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4 and word not in ("series", "species"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def is_generic(label: str) -> bool:
    """Whether a label, on its own, is one of GENERIC_LABELS ("AI", "Images", "Domain-specific")."""
    return label_key(label) in GENERIC_LABELS


def names_nothing(phrase: str) -> bool:
    """Whether a (lower-case, space-separated) phrase is an adjective, a lone participle
    ("trained", "proposed"), ends in a modifier, opens with one (the tail of a hyphenated
    word) or opens with a sentence adverb."""
    words = phrase.split()
    if not words:
        return True
    opening = phrase.replace("-", " ").split()
    # "level code" is the tail of "high-level code"
    if words[-1] in MODIFIER_WORDS or opening[0] in MODIFIER_WORDS:
        return True
    if {opening[0], "-".join(opening[:2])} & DISCOURSE_WORDS:
        return True
    lone = words[0] if len(words) == 1 else ""
    return len(lone) > 5 and (lone.endswith(ADJECTIVE_ENDINGS) or lone.endswith("ed"))


def modifies(form: str, sample: list[str]) -> bool:
    """Whether a single word is followed by a content word in most of its uses in `sample`
    ("clinical" of "clinical notes"): it modifies a subject rather than naming one."""
    return " " not in form and modifier_share(form, sample) >= MODIFIER_FOLLOWED


def roots(label: str) -> list[str]:
    """The label's words cut to ROOT letters: "equilibrium" and "equilibria" are one word."""
    return [w[:ROOT] for w in label_key(label).split()]


def repeats_word(label: str) -> bool:
    """Whether a label uses a word twice, up to plurals and endings ("Survey & surveys",
    "Equilibrium & equilibria")."""
    words = roots(label)
    return len(words) != len(set(words))


def clashes(label: str, taken: Collection[str]) -> bool:
    """Whether `label` reads as one already taken: same words up to plurals and possessives,
    or, for single words of 5+ letters, one a prefix of the other ("Homosexual"/"Homosexuality",
    "Window"/"Windows")."""
    key = label_key(label)
    keys = {label_key(t) for t in taken}
    if key in keys:
        return True
    if " " in key or len(key) < 5:
        return False
    return any(
        " " not in k and len(k) >= 5 and (k.startswith(key) or key.startswith(k)) for k in keys
    )


_JOINING_WORDS = frozenset("and of for in on the a an with to".split())


def within(label: str, names: Collection[str]) -> bool:
    """Whether `label`'s words (up to endings; joining words aside) are all among one of
    `names`' words, or that name's all among its: "Pruning" beside "Pruning and sparsity"
    names one theme twice."""
    mine = set(roots(label)) - _JOINING_WORDS
    for name in names:
        theirs = set(roots(name)) - _JOINING_WORDS
        if mine and theirs and (mine <= theirs or theirs <= mine):
            return True
    return False


def inside(label: str) -> str:
    """A label as the second half of a name: its capital first letter lower-cased unless the
    label has other capitals ("KV cache", "Spoken Language Understanding") or is an acronym."""
    if label[1:] == label[1:].lower() and label[1:2].isalpha():
        return label[:1].lower() + label[1:]
    return label


def join_labels(child_labels: list[str]) -> str:
    """Parent name from its (largest first) children's labels: 'Speech & image generation'.

    The second half is the next label sharing no word with the first (so never "Survey &
    survey"); its first letter is lower-cased unless it is part of an acronym ("LoRA").
    """
    if len(child_labels) == 1:
        return child_labels[0]
    first = child_labels[0]
    words = set(roots(first))
    second = next((c for c in child_labels[1:] if not words & set(roots(c))), None)
    if second is None:
        return first
    return f"{first} & {inside(second)}"


def label_problems(
    labels: list[str], texts: list[str], generic: Collection[str], exempt: Collection[str] = ()
) -> dict[str, list[str]]:
    """Labels that are a single `generic` word (lower case, as written), repeat a word, or are
    not written as the corpus most often writes them (each half of "A & b" separately; the
    first letter may be capitalised). `exempt` labels (a reference scheme's area names) are
    checked for the first two only."""
    problems: dict[str, list[str]] = {"generic": [], "repeats": [], "casing": []}
    lowered = {g.lower() for g in generic}
    for label in labels:
        halves = [h.strip() for h in re.split(r" & |: ", re.sub(r" \(\d+\)$", "", label))]
        if any(h.lower() in lowered for h in halves):
            problems["generic"].append(label)
        if repeats_word(label):
            problems["repeats"].append(label)
        if label not in exempt and any(not _written_so(h, texts) for h in halves):
            problems["casing"].append(label)
    return problems


def _written_so(half: str, texts: list[str]) -> bool:
    """Whether `half` is written in the corpus, as its most frequent written form (up to the
    first letter, which labels capitalise)."""
    words = half.lower().split()
    pattern = re.compile(r"\b" + r"[\s\-]+".join(map(re.escape, words)) + r"\b", re.IGNORECASE)
    if not any(pattern.search(text) for text in texts):
        return False
    form = surface_form(half.lower(), texts)
    return form[1:] == half[1:] and form[:1].lower() == half[:1].lower()


@dataclass
class ThemeCandidate:
    term: int  # vocabulary index
    coverage: float  # share of the theme's papers using it, averaged with topic coverage
    papers: np.ndarray  # bool per theme paper: uses the term
    score: float
    lift: float  # P(theme | a paper uses it) / P(theme): 1 for a word every theme uses alike

    @property
    def share(self) -> float:
        """The share of the theme's papers using the phrase."""
        return float(self.papers.mean())


def theme_candidates(
    theme: int,
    theme_of_row: np.ndarray,
    topic_of_row: np.ndarray,
    binary: sparse.csr_matrix,
    terms: set[int],
    corpus_generic: np.ndarray,
    vocab: np.ndarray,
) -> list[ThemeCandidate]:
    """The theme's candidate phrases scored as a description of the theme, best first.

    score: the harmonic mean of the share of the theme's papers using the phrase (how much of
    the theme it names) and the share of the phrase's users (assigned papers) in the theme
    (how much it names only this theme), so neither a rare exact phrase ("high-performing
    student models", 3 papers) nor a word of every theme ("think") wins; multi-word phrases get
    a small bonus. coverage: the mean of the paper share and the share of the theme's papers
    in topics where at least TOPIC_COVER of the papers use it (a phrase of every topic beats
    one of the largest topic), used to grow a name from a topic's label.
    """
    inside_theme = theme_of_row == theme
    assigned = theme_of_row >= 0
    if not inside_theme.any() or not terms:
        return []
    cols = np.array(sorted(terms))
    sub = binary[:, cols]
    used_in = np.asarray(sub[inside_theme].sum(axis=0)).ravel()
    used_all = np.asarray(sub[assigned].sum(axis=0)).ravel()
    n_in = int(inside_theme.sum())
    share = used_in / n_in
    distinct = used_in / np.maximum(used_all, 1)
    lift = distinct / (n_in / max(int(assigned.sum()), 1))
    topic_cover = np.zeros(len(cols))
    for t in np.unique(topic_of_row[inside_theme & (topic_of_row >= 0)]):
        rows = topic_of_row == t
        topic_share = np.asarray(sub[rows].mean(axis=0)).ravel()
        topic_cover += (topic_share >= TOPIC_COVER) * rows.sum() / n_in
    coverage = 0.5 * (share + topic_cover)
    bonus = np.array([THEME_NGRAM_BONUS.get(1 + int(s.count(" ")), 1.2) for s in vocab[cols]])
    score = 2 * share * distinct / np.maximum(share + distinct, 1e-12) * bonus
    dense = sub[inside_theme].toarray() > 0
    out = [
        ThemeCandidate(int(c), float(coverage[i]), dense[:, i], float(score[i]), float(lift[i]))
        for i, c in enumerate(cols)
        if used_in[i] > 0 and not corpus_generic[c]
    ]
    return sorted(out, key=lambda c: (-c.score, c.term))


@dataclass
class _Option:
    cand: ThemeCandidate
    label: str  # as shown: first letter capitalised
    form: str  # as written in the theme's papers
    child: bool  # one of the theme's topic labels
    phrase: str  # lower case, completed as authors write it around the candidate

    def written(self, corpus: list[str] | None, sample: list[str]) -> str:
        """The phrase as the `corpus` (a sample of all the papers) most often writes it: asked
        only of the option that names the theme (each asking scans the corpus sample)."""
        return surface_form(self.phrase, corpus or sample, fallback=sample)


def _options(
    candidates: list[ThemeCandidate],
    vocab: np.ndarray,
    sample: list[str],
    child_labels: list[str],
    taken: set[str],
) -> list[_Option]:
    """Candidates that could name the theme, best first, as the theme's papers write them: no
    adjective or modifier, no generic word, no repeated word, none taken, at most
    MAX_THEME_WORDS words. A topic's label stays in the list (flagged) so a longer phrase can
    grow from it."""
    children = {label_key(c) for c in child_labels}
    out: list[_Option] = []
    for cand in candidates[:N_NAME_CANDIDATES]:
        phrase = str(vocab[cand.term])
        if names_nothing(phrase):
            continue
        complete = complete_phrase(phrase, sample)
        form = surface_form(complete, sample)
        label = as_label(form)
        key = label_key(label)
        if (
            len(key.split()) > MAX_THEME_WORDS
            or names_nothing(key)
            or modifies(form, sample)
            or (" " not in form and verb_share(form, sample) >= VERB_PRECEDED)
            or is_generic(label)
            or repeats_word(label)
            or clashes(label, taken)
            or any(key == label_key(o.label) for o in out)
        ):
            continue
        out.append(_Option(cand, label, form, key in children, complete))
        if sum(not o.child for o in out) >= 12:
            break
    return out


def _by_relevance(
    options: list[_Option], relevance: Callable[[list[str]], np.ndarray] | None
) -> list[_Option]:
    """KeyBERT-style re-ranking by score x similarity to the theme's centroid, so a phrase of
    the theme's subject beats a frequent word of its prose ("self-attention" over "length")."""
    if relevance is None or not options:
        return options
    similarity = relevance([o.form for o in options])
    keys = [-o.cand.score * max(float(s), 0.0) for o, s in zip(options, similarity, strict=True)]
    return [options[i] for i in np.argsort(keys, kind="stable")]


def _grown_from_child(options: list[_Option]) -> _Option | None:
    """When a topic's label covers the theme ("Attention" over attention, KV cache and linear
    attention), the longest phrase holding its words that a fair share of the theme uses
    ("attention mechanisms"); None when there is none."""
    hit = next((o for o in options if o.child and o.cand.coverage >= THEME_COVER), None)
    if hit is None:
        return None
    words = f" {label_key(hit.label)} "
    longer = [
        o
        for o in options
        if not o.child and words in f" {label_key(o.label)} " and o.cand.share >= MIN_GROUP_SHARE
    ]
    return max(longer, key=lambda o: o.cand.share, default=None)


def _best_pair(options: list[_Option]) -> tuple[_Option, _Option, float] | None:
    """The two phrases with no word in common covering most of the theme's papers ("Speech &
    image generation"), with their cover."""
    best: tuple[_Option, _Option, float] | None = None
    for i, a in enumerate(options):
        for b in options[i + 1 :]:
            if set(roots(a.label)) & set(roots(b.label)):
                continue
            if len(label_key(a.label).split()) + len(label_key(b.label).split()) > 5:
                continue
            cover = float((a.cand.papers | b.cand.papers).mean())
            if best is None or cover > best[2]:
                best = (a, b, cover)
    return best


def name_theme(
    candidates: list[ThemeCandidate],
    vocab: np.ndarray,
    texts: list[str],
    child_labels: list[str],
    taken: set[str],
    relevance: Callable[[list[str]], np.ndarray] | None = None,
    written: list[str] | None = None,
) -> str | None:
    """A name for a theme of several topics, in this order of preference:
    1. one of the NAME_POOL best phrases (not a topic's label) used by THEME_SHARE of the
       theme's papers;
    2. a longer phrase grown from a topic label that covers the theme ("Attention mechanisms");
    3. the best multi-word phrase used by PART_SHARE, unless two phrases cover much more;
    4. the last resort: two phrases with no word in common ("Speech & image generation").
    Except in the very last fallback every phrase must be distinctive (MIN_LIFT).
    Never a generic word, a name that repeats a word or one already taken. None when nothing
    qualifies (the caller falls back on the children's labels).

    `relevance` (phrases -> cosine similarity to the theme's centroid embedding), when given,
    re-ranks the candidates by score x similarity."""
    sample = texts[:300]
    options = _by_relevance(_options(candidates, vocab, sample, child_labels, taken), relevance)

    def shown(option: _Option) -> str:  # a phrase of the theme's own, as the corpus writes it
        return as_label(option.written(written, sample))

    own = [o for o in options if not o.child]
    telling = [o for o in own if o.cand.lift >= MIN_LIFT]
    whole = next((o for o in telling[:NAME_POOL] if o.cand.share >= THEME_SHARE), None)
    if whole is not None:
        return shown(whole)
    grown = _grown_from_child(options)
    if grown is not None:
        return shown(grown)
    if not own:
        return None
    pair = _best_pair(telling[:PAIR_POOL])
    part = next((o for o in telling if " " in o.form and o.cand.share >= PART_SHARE), None)
    if part is not None and (pair is None or pair[2] < part.cand.share + PAIR_GAIN):
        return shown(part)
    best = (telling or own)[0]
    if pair is not None and pair[2] >= best.cand.share + PAIR_GAIN / 2:
        return f"{shown(pair[0])} & {pair[1].written(written, sample)}"
    return shown(best)
