"""Retriever: which chunks a search may see (filters), and the dense and BM25 candidates for a query."""
from __future__ import annotations

import numpy as np

from .query import Query
from .ranking import Candidates
from .store import Snapshot
from .tables import column

AUDIENCES = ("public", "internal", "all")
CANDIDATES = 100  # chunks taken from each retriever before fusion


class Retriever:
    """Built once per snapshot, read-only, shared across threads."""

    def __init__(self, snapshot: Snapshot, title_weight: float = 0.0):
        self.snapshot = snapshot
        self.title_weight = title_weight
        chunks = snapshot.chunks
        self.locale_of = self._locale = np.array(column(chunks, "locale"), dtype=object)  # chunk id → locale
        self._category = np.array(column(chunks, "category"), dtype=object)
        self._public = np.array([a == "public" for a in column(chunks, "audience")], dtype=bool)
        self.article_of = np.array(column(chunks, "article_id"), dtype=object)  # chunk id → article id
        # chunk id → its topic (translation group) as a number: ranking and grouping compare the topics of
        # hundreds of candidates a search, in numpy, without looking up each candidate's article
        code: dict[str, int] = {}
        groups = {aid: code.setdefault(group, len(code))
                  for aid, group in zip(column(snapshot.articles, "id"), column(snapshot.articles, "translation_group"))}
        self.group_of = np.array([groups[a] for a in self.article_of], dtype=np.int32)
        # each chunk's row in the title vectors, -1 where its article has none
        self._title_row = np.full(len(chunks), -1, dtype=np.int64)
        titles = snapshot.titles
        if titles is not None and title_weight > 0 and len(chunks):
            row = {aid: i for i, aid in enumerate(snapshot.articles)}
            article_row = np.array([row[a] for a in self.article_of], dtype=np.int64)
            has_title = np.abs(titles).sum(axis=1, dtype=np.float32) > 0  # a zero row: the article has no title vector
            self._title_row = np.where(has_title[article_row], article_row, -1)
        self._masks: dict[tuple, np.ndarray] = {}

    def mask(self, locale: str | None, category: str | None, audience: str) -> np.ndarray:
        """Which chunks a search may return (read-only; one per filter combination, computed once)."""
        key = (locale, category, audience)
        mask = self._masks.get(key)
        if mask is None:
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
            self._masks[key] = mask
        return mask

    def dense(self, qvec: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        w = self.title_weight
        scores = scores.astype(np.float32, copy=True)
        scores[has] = (scores[has] + w * (self.snapshot.titles[rows[has]] @ qvec)) / (1 + w)
        order = np.argsort(-scores, kind="stable")
        return ids[order], scores[order]

    def lexical(self, tokens, mask: np.ndarray, audience: str = "public",
                memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """BM25 candidates by the statistics of `audience` (a public search's idf is the public chunks'); every
        chunk's scores kept in `memo` (Query.memo) for another filter of the same search."""
        key = ("bm25", audience, tuple(tokens))
        scores = memo.get(key) if memo is not None else None
        if scores is None:
            scores = self.snapshot.statistics(audience).lexical.scores(list(tokens))
            if memo is not None:
                memo[key] = scores
        scores = np.where(mask, scores, 0.0)
        top = best(scores, CANDIDATES)
        return top, scores[top]

    def candidates(self, query: Query, mode: str, mask: np.ndarray) -> Candidates:
        """The best chunks of each retriever the mode uses (dense, BM25 or both), BM25 by the statistics of the
        query's audience."""
        none = np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        d_ids, d_scores, d_raw = self.dense(query.vector, mask) if mode != "bm25" else none
        l_ids, l_scores = (self.lexical(query.expanded or query.tokens, mask, query.audience, query.memo)
                            if mode != "dense" else none[:2])
        return Candidates(d_ids, d_scores, l_ids, l_scores, d_raw)


def best(scores: np.ndarray, n: int) -> np.ndarray:
    """The ids of the `n` highest positive scores, best first, the lower id first on a tie: a stable argsort's
    first `n`, from a partition of the positive ones (a tenth of sorting all 30,000 chunks' scores)."""
    ids = np.flatnonzero(scores > 0)
    if len(ids) > n:
        cut = len(ids) - n
        ids = ids[scores[ids] >= np.partition(scores[ids], cut)[cut]]  # ties at the cut kept, in id order
    return ids[np.argsort(-scores[ids], kind="stable")][:n].astype(np.int64)
