"""Where a phrase occurs in a list of texts, as authors write it: its written forms and the
words right before and after it (keyphrases completes and checks labels with them).

A list is searched as one string, its texts joined by a separator no pattern matches, and kept
while it is searched again (`_joined`); where lower-casing keeps what IGNORECASE matches, the
occurrences come from a literal scan of the lower-cased texts (`_occurrences`), else from the
IGNORECASE pattern on the texts that may hold the phrase. Tested equal to searching text by
text (tests/test_phrase_search.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_WORD = r"[A-Za-z][A-Za-z0-9]*"


def _phrase_core(phrase: str) -> str:
    """Regex of a phrase's words as authors join them: by spaces or hyphens."""
    return r"[\s\-]+".join(re.escape(w) for w in phrase.split())


# Texts are searched as one string joined by a character no pattern here matches (not a word
# character, not a space): a match never crosses it and word boundaries at it are those of a
# text's start and end, so results equal searching text by text, without a Python loop.
SEPARATOR = "\x00"


# Lists shorter than this are scanned whole (a literal scan of 1,000 abstracts takes ~2 ms);
# longer ones get a word index (built once, on the second search).
INDEX_MIN_TEXTS = 1000
RECENT_LISTS = 4  # of each kind (below)
# A phrase whose first word is longer is found by a literal substring scan.
LITERAL_MIN_CHARS = 3
_WORD_CHARS = re.compile(r"\w+")
ODD_LETTERS = "\u0130\u0131\u017f\u212a"  # see re's IGNORECASE documentation
_ODD_CASE = re.compile(f"[{ODD_LETTERS}]")


@dataclass
class _Joined:
    texts: Sequence[str]  # held, so an identity match is never a recycled id
    text: str  # the texts joined by SEPARATOR
    # text.lower() when IGNORECASE matching of ASCII patterns equals plain matching of the
    # lower-cased text (no letter of _ODD_CASE: then lower() keeps every position and what
    # \w and \s match, and maps no other letter to ASCII; tests/test_keyphrases_search.py)
    folded: str | None
    searches: int = 0
    postings: dict[str, Any] | None = None  # lower-case \w+ word -> texts holding it

    def spans(self, phrase: str) -> list[tuple[int, int]] | None:
        r"""The texts that may hold `phrase` (None: search them all): those holding each of
        its words as a whole \w+ word, and those holding one of the four letters that
        IGNORECASE matches to an ASCII letter other than by lower-casing ("ſ", "K"...).
        The word index is built on a long list's second search (one search scans faster)."""
        words = phrase.lower().split()
        self.searches += 1
        if len(self.texts) < INDEX_MIN_TEXTS or self.searches < 2:
            return None
        if not words or not all(_WORD_CHARS.fullmatch(w) for w in words):
            return None
        if self.postings is None:
            self.postings = _postings(self.texts)
        rows = self.postings.get(words[0], _NONE)
        for word in words[1:]:
            rows = np.intersect1d(rows, self.postings.get(word, _NONE), assume_unique=True)
        rows = np.union1d(rows, self.postings[_ODD])
        starts = self.postings[_STARTS]
        return [(int(starts[i]), int(starts[i]) + len(self.texts[i])) for i in rows]


_NONE = np.zeros(0, np.int64)
_ODD = "\x00odd"  # key of the texts holding a letter of _ODD_CASE (never a \w+ word)
_STARTS = "\x00starts"  # key of each text's offset in the joined string


def _postings(texts: Sequence[str]) -> dict[str, np.ndarray]:
    found: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        for word in set(_WORD_CHARS.findall(text.lower())):
            found.setdefault(word, []).append(i)
    postings = {w: np.array(rows, np.int64) for w, rows in found.items()}
    postings[_ODD] = np.array([i for i, t in enumerate(texts) if _ODD_CASE.search(t)], np.int64)
    lengths = np.fromiter((len(t) + 1 for t in texts), np.int64, len(texts))
    postings[_STARTS] = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return postings


# The lists searched lately: labelling asks many phrases of some lists (a group's papers, the
# corpus sample) between one-off slices. A list searched again moves from `_NEW` to `_AGAIN`,
# so one-off slices never push out the lists searched again and again.
_NEW: list[_Joined] = []
_AGAIN: list[_Joined] = []


def _joined(texts: Sequence[str]) -> _Joined:
    """The joined form of `texts`, kept while the list is searched."""
    for pool in (_AGAIN, _NEW):
        for k, entry in enumerate(pool):
            if entry.texts is texts:
                del pool[k]
                _AGAIN.insert(0, entry)
                del _AGAIN[RECENT_LISTS:]
                return entry
    text = SEPARATOR.join(texts)
    odd = any(letter in text for letter in ODD_LETTERS)  # (4 substring scans: fast)
    entry = _Joined(texts, text, None if odd else text.lower())
    _NEW.insert(0, entry)
    del _NEW[RECENT_LISTS:]
    return entry


def _segments_with(phrase: str, joined: _Joined) -> list[tuple[int, int]]:
    """(start, end) in `joined.text` of the texts in which `phrase` occurs as whole words."""
    text = joined.text
    candidates = joined.spans(phrase)
    if candidates is not None:  # each a whole text: one search tells
        pattern = re.compile(rf"\b{_phrase_core(phrase)}\b", re.IGNORECASE)
        return [(lo, hi) for lo, hi in candidates if pattern.search(text, lo, hi)]
    first = phrase.split()[0] if phrase.split() else ""
    if joined.folded is None or len(first) <= LITERAL_MIN_CHARS or not phrase.isascii():
        # (a short first word occurs inside many longer words: checking each costs more)
        pattern = re.compile(rf"\b{_phrase_core(phrase)}\b", re.IGNORECASE)
        return _spans(text, (m.start() for m in pattern.finditer(text)))
    # A pattern opening with a literal (no leading \b, no IGNORECASE) is searched for with a
    # fast substring scan; the word boundary before it is checked here.
    literal = re.compile(rf"{_phrase_core(phrase.lower())}\b")
    folded = joined.folded

    def starts() -> Iterator[int]:
        match = literal.search(folded)
        while match is not None:
            start = match.start()
            if not start or not (folded[start - 1].isalnum() or folded[start - 1] == "_"):
                yield start
            match = literal.search(folded, start + 1)

    return _spans(text, starts())


def _spans(text: str, starts: Iterable[int]) -> list[tuple[int, int]]:
    """The texts of `text` (joined by SEPARATOR) holding the given positions, once each."""
    spans: list[tuple[int, int]] = []
    for position in starts:
        if spans and position < spans[-1][1]:
            continue  # a second occurrence in the same text
        end = text.find(SEPARATOR, position)
        spans.append((text.rfind(SEPARATOR, 0, position) + 1, len(text) if end < 0 else end))
    return spans


def _is_word(char: str) -> bool:
    """What re's \\w matches in a str pattern."""
    return char.isalnum() or char == "_"


def _occurrences(phrase: str, joined: _Joined) -> list[tuple[int, int, bool]] | None:
    """Every (start, end, whole) at which `phrase` ends a word in the joined texts, in order
    (overlapping ones too); `whole`: a word boundary before it as well. Found by a literal scan
    of the lower-cased texts (~10x faster than an IGNORECASE pattern opening with \\b); None
    when they cannot be searched lower-cased or the phrase is not ASCII."""
    folded = joined.folded
    if folded is None or not phrase.isascii() or not phrase.split():
        return None
    literal = re.compile(rf"{_phrase_core(phrase.lower())}\b")
    spans = joined.spans(phrase)
    found: list[tuple[int, int, bool]] = []
    for lo, hi in [(0, len(folded))] if spans is None else spans:
        match = literal.search(folded, lo, hi)
        while match is not None:
            start = match.start()
            before = start > 0 and _is_word(folded[start - 1])
            found.append((start, match.end(), before != _is_word(folded[start])))
            match = literal.search(folded, start + 1, hi)
    return found


_AFTER = re.compile(r"(\s+|-)([a-z][a-z0-9]*)\b")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = frozenset(_LETTERS + "0123456789")


def _word_before(folded: str, start: int) -> tuple[int, str] | None:
    """(its start, 'word' or 'word-') of the word the pattern's optional `({_WORD})(\\s+|-)`
    takes right before `start`, or None. (Texts are joined by NUL: no walk crosses one.)"""
    end = start
    if end and folded[end - 1] == "-":
        end -= 1
    else:
        while end and folded[end - 1].isspace():
            end -= 1
        if end == start:
            return None
    first = end
    while first and folded[first - 1] in _ALNUM:
        first -= 1
    if first == end or folded[first] not in _LETTERS or (first and _is_word(folded[first - 1])):
        return None
    return first, folded[first:end] + ("-" if end < start and folded[end] == "-" else "")


def _neighbours_folded(
    found: list[tuple[int, int, bool]], folded: str
) -> tuple[int, Counter[str], Counter[str]]:
    """_neighbours from the phrase's occurrences, taking the matches `finditer` of its
    pattern takes: from the search position on, the leftmost start, where the optional word
    before (a match starting at that word) is tried first; after a match, the search goes on
    from its end (past its word after, when it has one)."""
    starts: list[tuple[int, int, int, int, str]] = []  # (match start, 0 = with word before..)
    for start, end, whole in found:
        if whole:
            starts.append((start, 1, start, end, ""))
            word = _word_before(folded, start)
            if word is not None:
                starts.append((word[0], 0, start, end, word[1]))
    starts.sort()
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    total, position = 0, 0
    for match_start, _, _, end, word in starts:
        if match_start < position:
            continue
        total += 1
        if word:
            before[word] += 1
        following = _AFTER.match(folded, end)
        if following is not None:
            after[following.group(2)] += 1
            end = following.end()
        position = end
    return total, before, after


def neighbours(phrase: str, texts: list[str]) -> tuple[int, Counter[str], Counter[str]]:
    """(occurrences, words right before, words right after) of `phrase` in `texts`.

    A word before is recorded as 'word-' when joined by a hyphen ("in-context"). Where the
    texts can be searched lower-cased the occurrences come from a literal scan; otherwise the
    full pattern (with its optional neighbours, slow to try at every word) runs only on the
    texts the bare phrase occurs in.
    """
    joined = _joined(texts)
    found = _occurrences(phrase, joined)
    if found is not None:
        assert joined.folded is not None
        return _neighbours_folded(found, joined.folded)
    core = _phrase_core(phrase)
    pattern = re.compile(
        rf"(?:\b({_WORD})(\s+|-))?\b{core}\b(?:(\s+|-)({_WORD})\b)?", re.IGNORECASE
    )
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    total = 0
    for start, end in _segments_with(phrase, joined):
        for match in pattern.finditer(joined.text, start, end):
            total += 1
            if match.group(1):
                joined_by = "-" if match.group(2) == "-" else ""
                before[match.group(1).lower() + joined_by] += 1
            if match.group(4):
                after[match.group(4).lower()] += 1
    return total, before, after


def written_forms(phrase: str, texts: list[str]) -> Counter[str]:
    """How often each written form of `phrase` occurs in `texts` (runs of spaces as one)."""
    joined = _joined(texts)
    found = _occurrences(phrase, joined)
    if found is not None:  # the matches findall finds: whole, leftmost, not overlapping
        forms: Counter[str] = Counter()
        end = -1
        for start, stop, whole in found:
            if whole and start >= end:
                forms[" ".join(joined.text[start:stop].split())] += 1
                end = stop
        return forms
    pattern = re.compile(rf"\b{_phrase_core(phrase)}\b", re.IGNORECASE)
    return Counter(
        " ".join(m.split())
        for start, end in _segments_with(phrase, joined)
        for m in pattern.findall(joined.text, start, end)
    )
