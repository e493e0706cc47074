"""Searcher: one search over one snapshot, in three parts with public interfaces:

    Query      (kb.query)     the query analysed once: locale, words, identifiers, snippet terms, vector
    Retriever  (kb.retrieval) filters, dense and BM25 candidates
    Ranker     (kb.ranking)   fusion, identifier lift, confidence
    Presenter  (kb.present)   grouping by article, snippets, the hit serializer
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

from .config import LOCALES, Settings
from .embed import Embedder
from .instant import Instant
from .present import Hit, Presenter, Section, article_url  # noqa: F401  (re-exported)
from .query import Query, analyse
from .ranking import FusionParams, Ranked, Ranker
from .retrieval import AUDIENCES, Retriever
from .lexical import stem
from .spelling import Speller
from .store import Snapshot

MODES = ("hybrid", "dense", "bm25")


@dataclass
class SearchResponse:
    query: str
    results: list[Hit]
    locale: str | None
    detected_locale: str | None
    fallback: bool = False
    no_answer: bool = False
    confidence: float = 0.0
    mode: str = "hybrid"
    took_ms: float = 0.0
    notes: list[str] = field(default_factory=list)
    corrected_query: str | None = None  # what was searched instead of `query` (typos corrected), if anything


class Searcher:
    """Searches one loaded snapshot; built once per snapshot, read-only, shared across threads."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, settings: Settings):
        self.snapshot = snapshot
        self.embedder = embedder
        self.settings = settings
        self.retriever = Retriever(snapshot, settings.title_weight)
        self.identifiers = snapshot.identifiers  # every chunk's (agents'); a public query reads the public ones'
        self.ranker = Ranker(snapshot.statistics, self.retriever.article_of,
                             FusionParams(settings.fusion, settings.dense_weight, settings.lexical_weight, settings.rrf_k),
                             settings.identifier_boost, embedder.name, locale_of=self.retriever.locale_of,
                             group_of=self.retriever.group_of)
        self.presenter = Presenter(snapshot, self.retriever.article_of, self.retriever.group_of)
        self.speller = Speller(snapshot.words)
        # Public searches correct against the public articles' words only (one speller when they are the same).
        public = snapshot.public
        self._public_speller = self.speller if public is None or public.words is snapshot.words else Speller(public.words)

    @functools.cached_property
    def instant(self) -> Instant:
        """Suggestions while typing over this snapshot's public articles (kb.instant); LiveIndex makes them after
        the first answer (or gunicorn's master, before forking), and a new build's when it loads it, so that
        neither the start nor a keystroke waits for them."""
        return Instant(self)

    def correct(self, text: str, audience: str = "public", loose: bool = False) -> str | None:
        """The query with its typos corrected against the words of the articles `audience` may see (None: nothing
        to correct, or correction is off); `loose` for a "did you mean" (kb.spelling.Speller.correct)."""
        if not self.settings.typo_correction:
            return None
        lexical = self.snapshot.statistics(audience).lexical
        speller = self._public_speller if audience == "public" else self.speller
        return speller.correct(text, lambda word: lexical.knows(stem(word)), loose=loose)

    def did_you_mean(self, text: str, locale: str | None = None, category: str | None = None,
                     audience: str = "public") -> str | None:
        """For a search without an answer: a looser spelling of `text` that has one (None: no such spelling).
        Never applied by itself: the reader chooses it."""
        loose = self.correct(text, audience, loose=True)
        if not loose or loose == self.correct(text, audience):  # nothing new: the search already ran with `strict`
            return None
        resp = self.search(loose, locale=locale, category=category, audience=audience, k=1, snippets=False)
        return None if resp.no_answer else loose

    def analyse(self, text: str, locale: str | None = None, mode: str = "hybrid", audience: str = "public") -> Query:
        """The query as every later step reads it (no vector in BM25 mode), for a search of `audience`."""
        return analyse(text, locale=locale, embedder=self.embedder if mode != "bm25" else None,
                       identifiers=self.snapshot.statistics(audience).identifiers,
                       glossary=self.snapshot.glossary if self.settings.glossary_expansion else None, audience=audience)

    def rank(self, query: Query, mode: str, locale: str | None, category: str | None, audience: str) -> Ranked:
        """Candidates within one filter, ranked, with the confidence of the first."""
        if audience != query.audience:
            raise ValueError(f"a query analysed for audience {query.audience!r} ranked for {audience!r}")
        mask = self.retriever.mask(locale, category, audience)
        return self.ranker.rank(self.retriever.candidates(query, mode, mask), query, mode)

    def search(
        self,
        query: str,
        locale: str | None = None,
        category: str | None = None,
        audience: str = "public",
        k: int = 10,
        mode: str | None = None,
        snippets: bool = True,
    ) -> SearchResponse:
        """Articles for a query, best first, in `locale` (else the query's language) with fallback to others."""
        start = time.perf_counter()
        mode = mode or self.settings.retriever
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.snapshot.manifest.partial:  # a lexical snapshot, served while the vectors are computed
            mode = "bm25"
        if audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
        if locale is not None and locale not in LOCALES:
            raise ValueError(f"locale must be one of {', '.join(LOCALES)}")
        corrected = self.correct(query, audience)
        q = self.analyse(corrected or query, locale, mode, audience)
        preferred = q.preferred
        ranked = self.rank(q, mode, preferred, category, audience)
        fallback = False
        if preferred is not None and locale is None:
            has_locale = bool(self.retriever.mask(preferred, category, audience).any())
            if not has_locale or ranked.confidence < self.settings.min_confidence:
                other = self.rank(q, mode, None, category, audience)
                if not has_locale or other.confidence > ranked.confidence:
                    ranked, fallback = other, True
        conf = ranked.confidence
        hits = self.presenter.group(ranked.ids, ranked.scores, q if snippets else None, conf, k,
                                    prefer=preferred, public=audience == "public")
        response = SearchResponse(
            query=query, results=hits, locale=preferred, detected_locale=q.detected, fallback=fallback,
            no_answer=(not hits) or conf < self.settings.min_confidence, confidence=conf, mode=mode,
            corrected_query=corrected,
        )
        if corrected:
            response.notes.append(f"Showing results for {corrected!r}.")
        if fallback:
            response.notes.append(f"No good answer in {preferred}; showing results from other languages.")
        response.took_ms = round((time.perf_counter() - start) * 1000, 2)
        return response
