"""Suggestions while typing (the search box's combobox): public articles for the start of a query, without
encoding it.

A keystroke costs a few milliseconds and never runs the model (about 9 ms a new query alone): the word being
typed is completed from the public articles' own BM25 words (`deposi` → deposit; `充` → 充值, 充币; `입` → 입금),
the query and its completions are ranked by BM25 over the public chunks, and an article whose title (or a section
whose heading) holds every typed word, the last one as a prefix, comes first. The tables a keystroke reads are
made once per snapshot (by gunicorn's master before it forks its workers, else after the first answer; a new
build's when it loads). Only public articles are ever in them or in what BM25 may return, and the suggestions
carry no score or confidence."""
from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass, replace

import numpy as np

from .charsets import CJK, HAN, HANGUL, KANA
from .glossary import normalise
from .lang import detect_locale, text_locale
from .lexical import ENGLISH_STOPWORDS, stem
from .present import Hit
from .snippet import make_snippet
from .tables import Strings, column

LIMIT = 8  # suggestions shown under the search box
COMPLETIONS = 3  # words the partial last word stands for: its most frequent completions in the public articles
_LATIN = re.compile(r"[a-z0-9]+(?:[._'][a-z0-9]+)*")
_HANGUL_OR_KANA = re.compile(f"[{HANGUL}{KANA}]")
_HAN_ONLY = re.compile(f"^[{HAN}]+$")
_CJK_CHARS = re.compile(f"[{CJK}]")
_TOKEN = re.compile(rf"(?P<cjk>[{CJK}]+)|(?P<latin>[a-z0-9]+(?:[._'][a-z0-9]+)*)")


@dataclass(frozen=True)
class Typed:
    """A query as it is being typed: its finished Latin words, its CJK runs, and what is still being typed."""

    words: tuple[str, ...]  # finished Latin words, stopwords left out
    runs: tuple[str, ...]  # CJK runs (the last one may be unfinished: titles are matched on it as a substring)
    partial: str  # the Latin word still being typed ('' when the text ends with a space or punctuation)
    tail: str  # the CJK run the text ends with ('' when it ends otherwise)

    @classmethod
    def parse(cls, text: str) -> "Typed":
        norm = unicodedata.normalize("NFKC", text).lower()  # a trailing space kept: the last word is finished
        tokens = [(m.lastgroup, m.group(), m.end()) for m in _TOKEN.finditer(norm)]
        open_end = bool(tokens) and tokens[-1][2] == len(norm)  # the last word runs to the end: still typed
        partial = tail = ""
        if open_end:
            kind, last, _ = tokens[-1]
            if kind == "latin":
                partial, tokens = last, tokens[:-1]
            else:
                tail = last
        words = tuple(w for kind, w, _ in tokens if kind == "latin" and w not in ENGLISH_STOPWORDS)
        runs = tuple(w for kind, w, _ in tokens if kind == "cjk")
        return cls(words, runs, partial, tail)


_NONE = np.zeros(0, dtype=np.int32)


def _postings(words_of_entries) -> dict[str, np.ndarray]:
    """Each word → the sorted ids of the entries that hold it, from each entry's words in entry order."""
    held: dict[str, list[int]] = {}
    for i, words in enumerate(words_of_entries):
        for word in set(words):
            held.setdefault(word, []).append(i)
    return {word: np.array(ids, dtype=np.int32) for word, ids in held.items()}


def preferred_locale(text: str, lang: str | None) -> str | None:
    """The locale suggestions are shown in: the script's for kana and Hangul, Han is Chinese unless the reader's
    interface is Japanese (kanji typed in a Japanese IME), and Latin text is the interface's language unless it
    holds two or more English words (a lone `usdt` or `2fa` is typed in every language)."""
    detected = detect_locale(text)
    if detected in ("ja", "ko"):
        return detected
    if detected == "zh-CN":
        return "ja" if lang == "ja" and not _HANGUL_OR_KANA.search(text) else "zh-CN"
    if detected == "en":
        return text_locale(text, fallback=lang or "en") if lang else "en"
    return lang


class Instant:
    """Prefix suggestions over one searcher's snapshot; built once when the snapshot loads, read-only after."""

    def __init__(self, searcher):
        self.searcher = searcher
        snapshot = searcher.snapshot
        # The public chunks' BM25 words (a table sorted for prefix look-ups, kb.tables.WordTable), with the number
        # of public chunks holding each, by place in that table (0: a word of no public chunk, never suggested).
        lexical = snapshot.statistics("public").lexical
        self._vocab = lexical.words()
        self._df = lexical.row_counts()[self._vocab.ids()] if len(self._vocab) else np.zeros(0, np.int64)
        self._mask = searcher.retriever.mask(None, None, "public")
        # Entries: a public article's title and each of its headings, as columns (no object per entry, which a
        # forked worker's keystrokes would write to): the chunk a match shows (the article's first for a title,
        # the section's for a heading), whether it is a heading, the article (as its first chunk), its locale
        # (a code), and the normalised text with its length.
        chunk_of, heading_of, article_of, locale_of, texts = [], [], [], [], []
        first = searcher.presenter.first_chunk  # article id → its first chunk
        seen: set[tuple[str, str]] = set()  # (article, anchor): a long section is several chunks, one entry
        self._locales: dict[str, int] = {}
        articles = snapshot.articles
        public = {aid: (title, locale) for aid, title, locale, is_public
                  in zip(*(column(articles, f) for f in ("id", "title", "locale", "is_public"))) if is_public}
        chunks = snapshot.chunks
        for cid, (article_id, heading, anchor) in enumerate(zip(*(column(chunks, f) for f in ("article_id", "heading", "anchor")))):
            if article_id not in public or not self._mask[cid]:
                continue
            title, locale = public[article_id]
            for text, is_heading in ((title, False), (heading, True)):
                if (is_heading and not text) or (article_id, anchor if is_heading else "") in seen:
                    continue
                seen.add((article_id, anchor if is_heading else ""))
                chunk_of.append(cid)
                heading_of.append(is_heading)
                article_of.append(first[article_id])
                locale_of.append(self._locales.setdefault(locale, len(self._locales)))
                texts.append(normalise(text))
        self._chunk = np.array(chunk_of, dtype=np.int32)
        self._heading = np.array(heading_of, dtype=bool)
        self._article = np.array(article_of, dtype=np.int32)
        self._locale = np.array(locale_of, dtype=np.int16)
        self._length = np.fromiter(map(len, texts), np.int32, len(texts))
        self._text = Strings(texts)
        self._first = {aid: cid for aid, cid in first.items() if aid in public}  # public article → its first chunk
        # each chunk → its article's first chunk (the key entries and BM25 hits are grouped by)
        self._article_of_chunk = np.array([first[a] for a in column(chunks, "article_id")], dtype=np.int32)
        # The Latin words of titles and headings, sorted (for the word being typed) and by stem (for the
        # finished ones), each with the entries that hold it: sorted arrays (a tenth of the memory of sets).
        postings = _postings(_LATIN.findall(text) for text in texts)
        stems: dict[str, list[np.ndarray]] = {}
        for word, held in postings.items():  # each distinct word stemmed once
            stems.setdefault(stem(word), []).append(held)
        self._words = sorted(postings)
        self._postings = postings
        self._stems = {s: held[0] if len(held) == 1 else np.unique(np.concatenate(held)) for s, held in stems.items()}
        # each CJK character → the entries holding it (a run's candidates)
        self._chars = _postings(_CJK_CHARS.findall(text) for text in texts)

    def anchors(self, article_id: str) -> frozenset[str]:
        """The section anchors of a public article ('' for its intro); empty for any other id."""
        first = self._first.get(article_id)
        if first is None:
            return frozenset()
        entries = np.flatnonzero((self._article == first) & self._heading)
        chunks = self.searcher.snapshot.chunks
        return frozenset(["", *(chunks[c].anchor for c in self._chunk[entries].tolist())])

    def _known(self, word: str) -> bool:
        at = self._vocab.place(word)
        return at >= 0 and self._df[at] > 0

    def _longer(self, prefix: str, limit: int) -> list[str]:
        """The most frequent public BM25 words that start with `prefix` and are longer."""
        places = self._vocab.prefixed(prefix)
        df = self._df[places.start:places.stop]
        order = np.argsort(-df, kind="stable")[: limit + 1]
        words = (self._vocab.word(places.start + i) for i in order.tolist() if df[i] > 0)
        return [w for w in words if w != prefix][:limit]

    def completions(self, typed: Typed, limit: int = COMPLETIONS) -> list[str]:
        """BM25 words the text's unfinished end may be the start of, most frequent first. A Latin word typed
        past its stem (`withdrawa`) is completed from its longest start that has any; a Hangul or kana syllable
        alone is completed to the bigrams it starts (longer runs are bigrams already); a Han run's end to the
        words its last three, two or one characters start (`充值未到` → 到账)."""
        if typed.partial:
            prefix = typed.partial
            if self._known(stem(prefix)):  # a word as typed (usdt): only its longer words, never a shorter start
                return self._longer(prefix, limit)
            while True:
                found = self._longer(prefix, limit)
                if found or len(prefix) <= 3:
                    return found
                prefix = prefix[:-1]
        tail = typed.tail
        if not tail:
            return []
        if not _HAN_ONLY.match(tail):
            return self._longer(tail, limit) if len(tail) == 1 else []
        # Han BM25 words include the bigrams of every run, so one character of a longer run would complete to
        # bigrams across words (充值 → 值未): a single character is completed only when it is the whole run.
        for size in (3, 2) if len(tail) > 1 else (1,):
            if len(tail) >= size:
                found = self._longer(tail[-size:], limit)
                if found:
                    return found
        return []

    def matches(self, typed: Typed) -> np.ndarray:
        """The entries (titles and headings) that hold every finished word (by stem), every CJK run, and a word
        that starts with the one being typed."""
        sets: list[np.ndarray] = [self._stems.get(stem(word), _NONE) for word in typed.words]
        if typed.partial:
            lo = bisect.bisect_left(self._words, typed.partial)
            found: list[np.ndarray] = []
            for word in self._words[lo:]:
                if not word.startswith(typed.partial):
                    break
                found.append(self._postings[word])
            sets.append(np.unique(np.concatenate(found)) if found else _NONE)
        sets.extend(self._chars.get(char, _NONE) for run in typed.runs for char in set(run))
        if not sets:
            return _NONE
        candidates = functools.reduce(lambda a, b: np.intersect1d(a, b, assume_unique=True), sets)
        if not typed.runs:
            return candidates
        return np.array([i for i in candidates.tolist() if all(run in self._text[i] for run in typed.runs)], dtype=np.int32)

    def suggest(self, text: str, lang: str | None = None, limit: int = LIMIT) -> tuple[list[Hit], str | None]:
        """Up to `limit` public articles for the text typed so far, each topic once and in the preferred
        locale where it has a translation in it; and that locale."""
        s = self.searcher
        typed = Typed.parse(text)
        prefer = preferred_locale(text, lang)
        extra = tuple(self.completions(typed))
        query = s.analyse(text, None, "bm25", "public")
        stems, cjk = query.terms
        latin = frozenset(w for w in extra if _LATIN.fullmatch(w))
        cjk_words = frozenset(w for w in extra if w not in latin and len(w) > 1)
        query = replace(query, tokens=query.tokens + extra, expanded=(query.expanded or query.tokens) + extra,
                        terms=(stems | latin, cjk | cjk_words))
        ids, scores = s.retriever.lexical(query.expanded, self._mask, "public")
        ids_list, score_list = ids.tolist(), scores.tolist()
        score_of = dict(zip(ids_list, score_list))
        best_of: dict[int, int] = {}  # article (its first chunk) → its best BM25 chunk
        for article, cid in zip(self._article_of_chunk[ids].tolist(), ids_list):
            best_of.setdefault(article, cid)
        # Titles first, then headings; each in the preferred locale first, then by BM25, then the shorter.
        entries = self.matches(typed)
        preferred = self._locales.get(prefer, -1) if prefer else -1
        heading, chunk, article = (a[entries].tolist() for a in (self._heading, self._chunk, self._article))
        other, length = (self._locale[entries] != preferred).tolist(), self._length[entries].tolist()
        matched = sorted(range(len(entries)), key=lambda e: (
            heading[e], other[e], -score_of.get(best_of.get(article[e], chunk[e]), 0.0), length[e]))
        chosen = [chunk[e] if heading[e] else best_of.get(article[e], chunk[e]) for e in matched]
        order = list(dict.fromkeys(chosen + ids_list))
        if not order:
            return [], prefer
        # Presenter.group keeps this order (its scores only scale a confidence, which is not shown); it is asked
        # for no snippets, and only the shown section's is made (a third of the time of a keystroke otherwise).
        hits = s.presenter.group(np.array(order, dtype=np.int64), np.ones(len(order), dtype=np.float32), None, 0.0,
                                 limit, prefer=prefer, public=True)
        return [replace(h, snippet=make_snippet(h.sections[0].text, query.terms)) for h in hits[:limit]], prefer
