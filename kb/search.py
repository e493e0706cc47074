"""Searcher: retrieve chunks (dense, BM25 or both fused), group them by article, snippet, confidence."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from .config import LOCALES, Settings
from .embed import Embedder
from .identifiers import IdentifierIndex, expansion_text, find as find_identifiers
from .lang import detect_locale
from .lexical import tokenize
from .ranking import Calibration, Candidates, FusionParams, fuse, lift_identifiers, signals
from .snippet import make_snippet
from .store import Snapshot

MODES = ("hybrid", "dense", "bm25")
AUDIENCES = ("public", "internal", "all")
CANDIDATES = 100  # chunks taken from each retriever before fusion


@dataclass(frozen=True)
class Section:
    heading: str
    anchor: str
    url: str
    snippet: str
    score: float
    text: str = ""


@dataclass(frozen=True)
class Hit:
    """One article in the results, with its best-matching sections (best first)."""

    id: str
    title: str
    locale: str
    category: str
    audience: str
    url: str
    section: str
    snippet: str
    score: float
    confidence: float
    sections: tuple[Section, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def article_url(article_id: str, anchor: str = "") -> str:
    return f"/articles/{article_id}" + (f"#{anchor}" if anchor else "")


class Searcher:
    """Searches one loaded snapshot; built once per snapshot, read-only, shared across threads."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, settings: Settings):
        self.snapshot = snapshot
        self.embedder = embedder
        self.settings = settings
        chunks = snapshot.chunks
        self._locale = np.array([c.locale for c in chunks], dtype=object)
        self._category = np.array([c.category for c in chunks], dtype=object)
        self._public = np.array([c.audience == "public" for c in chunks], dtype=bool)
        self._article = np.array([c.article_id for c in chunks], dtype=object)
        # each chunk's row in the title vectors, -1 where its article has none
        self._title_row = np.full(len(chunks), -1, dtype=np.int64)
        titles = snapshot.titles
        if titles is not None and settings.title_weight > 0:
            row = {aid: i for i, aid in enumerate(snapshot.articles)}
            article_row = np.array([row[c.article_id] for c in chunks], dtype=np.int64)
            has_title = np.abs(titles).sum(axis=1) > 0  # a zero row: the article has no title vector
            self._title_row = np.where(has_title[article_row], article_row, -1)
        self.fusion = FusionParams(settings.fusion, settings.dense_weight, settings.lexical_weight, settings.rrf_k)
        self.calibration = Calibration()
        self._masks: dict[tuple, np.ndarray] = {}
        # what a chunk is about: its article's title and tags, and its headings (a body mention is not enough)
        self.identifiers = IdentifierIndex([f"{c.title}\n{' '.join(c.heading_path)}\n{' '.join(c.tags)}" for c in chunks])

    # -- filters ---------------------------------------------------------------------------
    def _mask(self, locale: str | None, category: str | None, audience: str) -> np.ndarray:
        """Which chunks a search may return (read-only; one per filter combination, computed once)."""
        key = (locale, category, audience)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._masks[key] = self._compute_mask(locale, category, audience)
        return mask

    def _compute_mask(self, locale: str | None, category: str | None, audience: str) -> np.ndarray:
        mask = np.ones(len(self.snapshot.chunks), dtype=bool)
        if audience == "public":
            mask &= self._public
        elif audience == "internal":
            mask &= ~self._public
        if locale:
            mask &= self._locale == locale
        if category:
            mask &= self._category == category
        mask.flags.writeable = False
        return mask

    # -- retrieval -------------------------------------------------------------------------
    def _dense(self, qvec: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Chunk ids and scores (title mixed in), best first, and the chunks' own scores, best first."""
        if not mask.any():
            return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        scores, ids = self.snapshot.vectors.search(qvec.reshape(1, -1), CANDIDATES, allowed=mask)
        return *self._with_titles(ids[0].astype(np.int64), scores[0], qvec), scores[0]

    def _with_titles(self, ids: np.ndarray, scores: np.ndarray, qvec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mix each chunk's score with its article title's similarity to the query, and re-sort: a section
        is found through its text, and an article whose title says what the query asks ranks higher."""
        rows = self._title_row[ids]
        has = rows >= 0
        if not has.any():
            return ids, scores
        w = self.settings.title_weight
        scores = scores.astype(np.float32, copy=True)
        scores[has] = (scores[has] + w * (self.snapshot.titles[rows[has]] @ qvec)) / (1 + w)
        order = np.argsort(-scores, kind="stable")
        return ids[order], scores[order]

    def _lexical(self, tokens: list[str], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = self.snapshot.lexical.scores(tokens)
        scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores, kind="stable")[:CANDIDATES]
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top]

    def candidates(self, mode: str, qvec: np.ndarray | None, tokens: list[str], mask: np.ndarray) -> Candidates:
        none = np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        d_ids, d_scores, d_raw = self._dense(qvec, mask) if mode != "bm25" else none
        l_ids, l_scores = self._lexical(tokens, mask) if mode != "dense" else none[:2]
        return Candidates(d_ids, d_scores, l_ids, l_scores, d_raw)

    def signals(self, cands: Candidates, tokens: list[str], top_chunk: int | None) -> dict[str, float]:
        d, l = cands.dense_ids, cands.lex_ids
        same = bool(len(d) and len(l) and self._article[d[0]] == self._article[l[0]])
        top_tokens = self.snapshot.lexical_tokens(top_chunk) if top_chunk is not None else []
        lexical = self.snapshot.lexical
        return signals(cands, tokens, top_tokens, same, lexical.attainable(tokens), lexical.known_share(tokens))

    def _run(self, mode: str, qvec, tokens: list[str], mask: np.ndarray, identifiers: Sequence[str] = ()):
        cands = self.candidates(mode, qvec, tokens, mask)
        ids, scores = fuse(cands, mode, self.fusion)
        if identifiers and mode == "hybrid":
            ids, scores = lift_identifiers(ids, scores, self.identifiers.coverage(identifiers, ids), self.settings.identifier_boost)
        sig = self.signals(cands, tokens, int(ids[0]) if len(ids) else None)
        return ids, scores, self.calibration.confidence(self.embedder.name, mode, sig)

    # -- the public call ---------------------------------------------------------------------
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
        if audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
        if locale is not None and locale not in LOCALES:
            raise ValueError(f"locale must be one of {', '.join(LOCALES)}")
        detected = detect_locale(query)
        preferred = locale or detected
        identifiers = self.identifiers.known(find_identifiers(query))
        tokens = tokenize(f"{query} {expansion_text(identifiers)}")
        qvec = self.embedder.encode_queries([query])[0] if mode != "bm25" else None

        def run(loc: str | None):
            return self._run(mode, qvec, tokens, self._mask(loc, category, audience), identifiers)

        ids, scores, conf = run(preferred)
        fallback = False
        if preferred is not None and locale is None:
            has_locale = bool(self._mask(preferred, category, audience).any())
            if not has_locale or conf < self.settings.min_confidence:
                alt_ids, alt_scores, alt_conf = run(None)
                if not has_locale or alt_conf > conf:
                    ids, scores, conf, fallback = alt_ids, alt_scores, alt_conf, True
        hits = self._group(ids, scores, query if snippets else None, conf, k)
        response = SearchResponse(
            query=query, results=hits, locale=preferred, detected_locale=detected, fallback=fallback,
            no_answer=(not hits) or conf < self.settings.min_confidence, confidence=conf, mode=mode,
        )
        if fallback:
            response.notes.append(f"No good answer in {preferred}; showing results from other languages.")
        response.took_ms = round((time.perf_counter() - start) * 1000, 2)
        return response

    def _group(self, ids: np.ndarray, scores: np.ndarray, query: str | None, conf: float, k: int) -> list[Hit]:
        """Chunks → articles (best section first); an article's score is its best chunk's."""
        grouped: dict[str, list[tuple[int, float]]] = {}
        for cid, score in zip(ids, scores):
            aid = self._article[cid]
            if aid not in grouped and len(grouped) >= k:
                continue
            grouped.setdefault(aid, []).append((int(cid), float(score)))
        top = max((s for _, s in next(iter(grouped.values()), [])), default=1.0) or 1.0
        hits = []
        for rank, (aid, members) in enumerate(grouped.items()):
            article = self.snapshot.articles[aid]
            sections = []
            seen_anchors = set()
            for cid, score in members[:3]:
                chunk = self.snapshot.chunks[cid]
                if chunk.anchor in seen_anchors:
                    continue
                seen_anchors.add(chunk.anchor)
                sections.append(Section(
                    heading=chunk.heading, anchor=chunk.anchor, url=article_url(aid, chunk.anchor),
                    snippet=make_snippet(chunk.text, query) if query is not None else "", score=round(score, 6),
                    text=chunk.text,
                ))
            best = sections[0]
            # Confidence belongs to the top answer; lower results get it scaled by their relative score.
            hit_conf = conf if rank == 0 else round(conf * min(1.0, members[0][1] / top), 4)
            hits.append(Hit(
                id=aid, title=article.title, locale=article.locale, category=article.category,
                audience=article.audience, url=best.url, section=best.heading, snippet=best.snippet,
                score=round(members[0][1], 6), confidence=hit_conf, sections=tuple(sections),
            ))
        return hits
