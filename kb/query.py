"""A query analysed once: its language, BM25 words, crypto identifiers, snippet terms and vector.

Every part of a search (retrieval, ranking, snippets) reads this one object; nothing tokenizes the query again."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embed import Embedder
from .identifiers import IdentifierIndex, expansion_text, find as find_identifiers
from .lang import detect_locale
from .lexical import evidence_words, match_terms, tokenize
from .snippet import Terms


@dataclass(frozen=True)
class Query:
    text: str
    locale: str | None  # the locale asked for (None: any)
    detected: str | None  # the locale the text is written in
    tokens: tuple[str, ...]  # BM25 words, with the words of the identifiers' expansions
    identifiers: tuple[str, ...]  # crypto identifiers the knowledge base knows (TRC20, memo, a TXID)
    terms: Terms  # what snippets highlight
    vector: np.ndarray | None  # the dense query vector (None in BM25-only mode)

    @property
    def preferred(self) -> str | None:
        """The locale answers should be in: the one asked for, else the query's own."""
        return self.locale or self.detected

    @property
    def evidence(self) -> set[str]:
        return evidence_words(list(self.tokens))


def analyse(text: str, *, locale: str | None = None, embedder: Embedder | None = None,
            identifiers: IdentifierIndex | None = None) -> Query:
    """Analyse a query; `embedder` None skips the vector (BM25 only)."""
    found = tuple(identifiers.known(find_identifiers(text))) if identifiers is not None else ()
    tokens = tuple(tokenize(f"{text} {expansion_text(found)}"))
    vector = embedder.encode_queries([text])[0] if embedder is not None else None
    return Query(text, locale, detect_locale(text), tokens, found, match_terms(text), vector)
