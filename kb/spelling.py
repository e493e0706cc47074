"""Typo tolerance for Latin-script words: an unknown word of the query is corrected against the knowledge
base's own words (collected at build time), the closest by edit distance, the more frequent on a tie.

`withdrawl pendng` → `withdrawal pending`; words the knowledge base knows, short words, identifiers and
numbers are left alone. The search says "showing results for …" when it corrected something."""
from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Iterable

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from .lexical import ENGLISH_STOPWORDS

_WORD = re.compile(r"[A-Za-z]+")
MIN_LENGTH = 4  # shorter words have too many neighbours at one edit


def collect_words(texts: Iterable[str]) -> dict[str, int]:
    """Lowercase Latin words of at least MIN_LENGTH letters and how often they occur (build time)."""
    counts = Counter(w.lower() for text in texts for w in _WORD.findall(text) if len(w) >= MIN_LENGTH)
    return dict(counts.most_common())


def _typo_like(word: str, candidate: str) -> bool:
    """Whether `word` looks like a slip of `candidate` rather than another word: a letter left out or two
    swapped (withdrawl, recieve); any one or two edits only in long words (authenticater). A short word one
    letter away from ours is usually a word of its own (stock is not stuck, apple is not apply)."""
    if len(word) >= 8:
        return True
    return len(candidate) == len(word) + 1 or (len(candidate) == len(word) and sorted(candidate) == sorted(word))


class Speller:
    def __init__(self, words: dict[str, int]):
        self._known = set(words)
        # by first letter, most frequent first: extractOne keeps the first of equally close words
        self._by_initial: dict[str, list[str]] = {}
        for w in words:
            self._by_initial.setdefault(w[0], []).append(w)

    def correct(self, text: str, known: Callable[[str], bool], loose: bool = False) -> str | None:
        """The text with its unknown Latin words corrected, or None when nothing was corrected. `known(word)`
        says whether the search index knows a word already (its stem is in the BM25 vocabulary). `loose` is for a
        "did you mean" that the reader chooses (never applied by itself): two edits from 6 letters, any kind."""
        changed = False

        def fix(m: re.Match) -> str:
            nonlocal changed
            word = m.group()
            lower = word.lower()
            if len(lower) < MIN_LENGTH or lower in ENGLISH_STOPWORDS or lower in self._known or known(lower):
                return word
            # One edit for most words, two from 8 letters; the first letter kept (typos rarely change it, and an
            # unrelated word is then seldom "corrected" into one of ours: bake is not make).
            limit = 2 if len(lower) >= (6 if loose else 8) else 1
            found = process.extract(lower, self._by_initial.get(lower[0], ()), scorer=DamerauLevenshtein.distance,
                                    score_cutoff=limit, limit=5)
            best = next((cand for cand, _, _ in found if loose or _typo_like(lower, cand)), None)
            if best is None:
                return word
            changed = True
            return best

        # letters only: TRC20, 0x… addresses, tx hashes and numbers are never touched
        corrected = re.sub(r"(?<![A-Za-z0-9])[A-Za-z]+(?![A-Za-z0-9])", fix, text)
        return corrected if changed else None
