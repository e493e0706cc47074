"""A query analysed once: its language, BM25 words, crypto identifiers, snippet terms and vector.

Every part of a search (retrieval, ranking, snippets) reads this one object; nothing tokenizes the query again.
It is analysed for one audience: a public query knows only the identifiers of the public articles, and retrieval
and ranking read the statistics of its audience (kb.store.Snapshot.statistics)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .charsets import CJK
from .config import LOCALES
from .embed import Embedder
from .glossary import Glossary
from .identifiers import IdentifierIndex, expansion_text, find as find_identifiers
from .lang import detect_locale
from .lexical import match_terms, tokenize
from .snippet import Terms


# What one query may cost (issue 14: a 500-character Han query took a second of CPU, mostly in the encoder, whose
# cost grows with its input). A longer query (a pasted ticket) is still accepted; only its start is read this far.
ENCODED_TOKENS = 32  # about what the encoder reads: one token a CJK character, one per four other characters
ANALYSED_TOKENS = 48  # BM25 words and glossary concepts come from this much of the query's start (snippet terms from
# ENCODED_TOKENS' worth)...
TERMS = 160  # ...and at most this many BM25 words, in the query's order
_CJK_CHAR = re.compile(f"[{CJK}]")


def head(text: str, tokens: int = ENCODED_TOKENS) -> str:
    """The start of `text` that holds about `tokens` encoder tokens, cut between words where it can be."""
    budget = float(tokens)
    for i, ch in enumerate(text):
        budget -= 1.0 if _CJK_CHAR.match(ch) else 0.25
        if budget < 0:
            cut = text[:i]
            space = cut.rfind(" ")
            return cut[:space] if space > len(cut) // 2 else cut
    return text


@dataclass(frozen=True)
class Query:
    text: str
    locale: str | None  # the locale asked for (None: any)
    detected: str | None  # the locale the text is written in
    tokens: tuple[str, ...]  # BM25 words, with the words of the identifiers' expansions (what confidence reads)
    identifiers: tuple[str, ...]  # crypto identifiers the knowledge base knows (TRC20, memo, a TXID)
    terms: Terms  # what snippets highlight
    vector: np.ndarray | None  # the dense query vector (None in BM25-only mode)
    concepts: tuple[str, ...] = ()  # glossary concepts the query names
    expanded: tuple[str, ...] = ()  # tokens plus every locale's glossary terms of those concepts (BM25 retrieval)
    by_locale: dict[str, tuple[str, ...]] | None = None  # the concepts' glossary words in each locale
    audience: str = "public"  # whose statistics retrieval and ranking read: public, internal or all
    # what one search derives from the query and may need again (the BM25 scores of every chunk, when a search
    # ranks once in the reader's language and again in all): computed once per query
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def tokens_for(self, locale: str | None) -> tuple[str, ...]:
        """The query's words as a text in `locale` would have them: its own words in its own language, else
        the glossary's words for its concepts in that locale (what confidence compares a translation with)."""
        if not locale or locale == self.detected or not self.by_locale or locale not in self.by_locale:
            return self.tokens
        return self.by_locale[locale]

    @property
    def preferred(self) -> str | None:
        """The locale answers should be in: the one asked for, else the query's own."""
        return self.locale or self.detected


def analyse(text: str, *, locale: str | None = None, embedder: Embedder | None = None,
            identifiers: IdentifierIndex | None = None, glossary: Glossary | None = None,
            audience: str = "public") -> Query:
    """Analyse a query; `embedder` None skips the vector (BM25 only); `identifiers` are those of the chunks
    `audience` may see (the public ones' for a public search)."""
    found = tuple(identifiers.known(find_identifiers(text))) if identifiers is not None else ()
    lead = head(text, ANALYSED_TOKENS)
    tokens = tuple(tokenize(f"{lead} {expansion_text(found)}"))[:TERMS]
    vector = embedder.encode_queries([head(text)])[0] if embedder is not None else None
    concepts = tuple(glossary.concepts_in(lead)) if glossary is not None else ()
    # Single characters of the terms (提, き) are left out: they match almost anything.
    by_locale = {loc: tuple(dict.fromkeys(t for t in tokenize(" ".join(glossary.terms(list(concepts), loc))) if len(t) > 1))
                 for loc in LOCALES} if concepts else {}
    extra = [t for words in by_locale.values() for t in words]
    expanded = tokens + tuple(t for t in dict.fromkeys(extra) if t not in set(tokens))
    return Query(text, locale, detect_locale(lead), tokens, found, match_terms(head(lead)), vector, concepts, expanded,
                 {loc: words for loc, words in by_locale.items() if words}, audience)
