"""Ranker: fuse dense and BM25 candidates, lift chunks about the query's identifiers, and turn the
query's signals into a confidence. Pure functions underneath, so that tune and calibrate replay the same
fusion on cached candidates."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "calibration.json"
FEATURES = ("dense_top", "dense_gap", "bm25_share", "coverage", "known", "agree", "margin", "bias")


@dataclass(frozen=True)
class Candidates:
    """The best chunks of each retriever for one query (ids into the snapshot's chunk list), best first."""

    dense_ids: np.ndarray
    dense_scores: np.ndarray
    lex_ids: np.ndarray
    lex_scores: np.ndarray
    # the sections' own similarities, best first, before the title mix (None: dense_scores are those)
    dense_raw: np.ndarray | None = None


@dataclass(frozen=True)
class FusionParams:
    method: str = "mix"          # "mix": weighted sum of normalised scores; "rrf": reciprocal rank fusion
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: int = 60


def fuse(c: Candidates, mode: str, p: FusionParams) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ids and scores, best first, for a ranking mode (hybrid, dense or bm25)."""
    if mode == "dense":
        return c.dense_ids, c.dense_scores.astype(np.float64)
    if mode == "bm25":
        return c.lex_ids, c.lex_scores.astype(np.float64)
    fused: dict[int, float] = {}
    if p.method == "rrf":
        for weight, ids in ((p.dense_weight, c.dense_ids), (p.lexical_weight, c.lex_ids)):
            for rank, cid in enumerate(ids.tolist()):
                fused[cid] = fused.get(cid, 0.0) + weight / (p.rrf_k + rank + 1)
    else:
        total = (p.dense_weight + p.lexical_weight) or 1.0
        if len(c.dense_scores):
            lo, hi = float(c.dense_scores.min()), float(c.dense_scores.max())
            span = (hi - lo) or 1.0
            for cid, s in zip(c.dense_ids.tolist(), c.dense_scores.tolist()):
                fused[cid] = p.dense_weight / total * (s - lo) / span
        if len(c.lex_scores):
            top = float(c.lex_scores.max()) or 1.0
            for cid, s in zip(c.lex_ids.tolist(), c.lex_scores.tolist()):
                fused[cid] = fused.get(cid, 0.0) + p.lexical_weight / total * s / top
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    return np.array(order, dtype=np.int64), np.array([fused[i] for i in order], dtype=np.float64)


def lift_identifiers(ids: np.ndarray, scores: np.ndarray, coverage: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Raise each chunk by `weight` × the top score × its (idf-weighted) share of the query's identifiers; re-sort."""
    if not len(ids) or weight <= 0 or not coverage.any():
        return ids, scores
    top = float(scores.max()) or 1.0
    lifted = scores + weight * top * coverage
    order = np.argsort(-lifted, kind="stable")
    return ids[order], lifted[order]


def signals(c: Candidates, coverage: float, same_topic: bool, attainable: float = 0.0, known: float = 1.0,
            lex_top: float | None = None, margin: float = 0.0) -> dict[str, float]:
    """Scale-aware features of one query's retrieval, the inputs of the confidence model: `coverage` is the
    share of the query's evidence words the top chunk has (LexicalIndex.coverage), `attainable` the BM25 score
    the query's words could reach at best (LexicalIndex.attainable), `known` the share of its words the
    knowledge base has (LexicalIndex.known_share), `lex_top` the best BM25 score of those words among the
    candidates (default: the first lexical candidate's), `same_topic` whether both retrievers' first chunks
    are about one topic (translation group), `margin` how far the first topic leads the next (`topic_margin`).
    The lead counts as far as the query's words are known: among articles about something else entirely (a
    query the knowledge base has no words for) one of them always leads, and more so the fewer there are.
    The lead and the agreement are about topics, not words, so a right answer in another language can be
    confident too."""
    if lex_top is None:
        lex_top = float(c.lex_scores[0]) if len(c.lex_scores) else 0.0
    # Confidence looks at the sections' own similarities: a title mixed in lifts a query no article answers too.
    d = c.dense_raw if c.dense_raw is not None else c.dense_scores
    return {
        "dense_top": float(d[0]) if len(d) else 0.0,
        "dense_gap": float(d[0] - d[min(9, len(d) - 1)]) if len(d) else 0.0,
        "bm25_share": min(1.0, lex_top / attainable) if attainable > 0 else 0.0,
        "coverage": coverage,
        "known": known,
        "agree": 1.0 if same_topic else 0.0,
        "margin": margin * known,
        "bias": 1.0,
    }


def topic_margin(ids: np.ndarray, scores: np.ndarray, group_of: np.ndarray) -> float:
    """How far the first topic leads the next, relative to the first score: 1 − (best score of another
    translation group) / (first score); 1.0 when no other topic was found. Translations of the first
    article are the same topic, so a topic found in several languages does not count as a close call."""
    if not len(ids) or scores[0] <= 0:
        return 0.0
    first = group_of[ids[0]]
    for cid, score in zip(ids.tolist(), scores.tolist()):
        if group_of[cid] != first:
            return float(max(0.0, 1.0 - score / scores[0]))
    return 1.0


class Calibration:
    """Logistic models, one per (embedding model, ranking mode), fitted on the development sets by
    scripts/calibrate.py: P(top result answers the query | signals)."""

    # Used for a model the file does not know (a user's own sentence-transformers model): lexical evidence only.
    GENERIC = {"coverage": 4.0, "bm25_share": 3.0, "agree": 1.0, "bias": -4.0}

    def __init__(self, table: dict | None = None):
        self.table = table if table is not None else self.load_table()

    @staticmethod
    def load_table() -> dict:
        if CALIBRATION_FILE.exists():
            return json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
        return {}

    def weights(self, model: str, mode: str) -> dict[str, float]:
        return self.table.get(model, {}).get(mode) or self.GENERIC

    def confidence(self, model: str, mode: str, sig: dict[str, float]) -> float:
        w = self.weights(model, mode)
        z = sum(w.get(name, 0.0) * sig.get(name, 0.0) for name in FEATURES)
        return round(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))), 4)


@dataclass(frozen=True)
class Ranked:
    """Chunk ids and scores, best first, and the confidence that the first answers the query."""

    ids: np.ndarray
    scores: np.ndarray
    confidence: float
    signals: dict[str, float]


class Ranker:
    """Ranks one snapshot's candidates; built once per snapshot with the settings' fusion and lift."""

    def __init__(self, statistics, article_of: np.ndarray, fusion: FusionParams, identifier_boost: float,
                 model_name: str, calibration: Calibration | None = None, locale_of: np.ndarray | None = None,
                 group_of: np.ndarray | None = None):
        # audience → kb.store.Statistics (Snapshot.statistics): a query is ranked by its audience's BM25 and
        # identifiers, so that a public query's confidence and lift never count words of internal articles
        self.statistics, self.article_of = statistics, article_of
        self.locale_of = locale_of  # chunk id → locale (for per-language confidence words)
        self.group_of = group_of if group_of is not None else article_of  # chunk id → translation group (topic)
        self.fusion, self.identifier_boost, self.model_name = fusion, identifier_boost, model_name
        self.calibration = calibration or Calibration()

    def signals(self, c: Candidates, query, ids: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        """The confidence model's features for one ranking (`ids`, `scores`: best first)."""
        top_chunk = int(ids[0]) if len(ids) else None
        d, l = c.dense_ids, c.lex_ids
        same = bool(len(d) and len(l) and self.group_of[d[0]] == self.group_of[l[0]])
        # The query's words in the top chunk's language: a right answer in a translation shares no words with
        # the query itself, but does share the glossary's words for what the query asks.
        locale = self.locale_of[top_chunk] if top_chunk is not None and self.locale_of is not None else None
        words = query.tokens_for(locale)
        tokens = list(words)
        lexical = self.statistics(query.audience).lexical
        coverage = lexical.coverage(tokens, top_chunk) if top_chunk is not None else 0.0
        lex_top = None
        if words != (query.expanded or query.tokens) and len(c.lex_ids):
            lex_top = float(lexical.scores(tokens)[c.lex_ids].max())
        return signals(c, coverage, same, lexical.attainable(tokens), lexical.known_share(tokens), lex_top,
                       topic_margin(ids, scores, self.group_of))

    def rank(self, c: Candidates, query, mode: str, fusion: FusionParams | None = None) -> Ranked:
        ids, scores = fuse(c, mode, fusion or self.fusion)
        if query.identifiers and mode == "hybrid":
            coverage = self.statistics(query.audience).identifiers.coverage(query.identifiers, ids)
            ids, scores = lift_identifiers(ids, scores, coverage, self.identifier_boost)
        sig = self.signals(c, query, ids, scores)
        return Ranked(ids, scores, self.calibration.confidence(self.model_name, mode, sig), sig)
