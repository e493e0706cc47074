"""Presenter: ranked chunks → articles (best section first) with snippets, and the one serializer of a
hit that every surface (API, ticket suggestions, agent search) uses."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .snippet import make_snippet
from .store import Snapshot

# What each surface shows of a hit. Public surfaces never show `audience` or section text.
VIEWS: dict[str, tuple[str, ...]] = {
    "api": ("id", "title", "section", "url", "score", "confidence", "snippet", "locale", "category", "sections"),
    "suggest": ("id", "title", "section", "url", "snippet", "confidence", "locale", "category"),
    "agent": ("id", "title", "audience", "section", "url", "snippet", "passage", "confidence", "locale", "category"),
}


def article_url(article_id: str, anchor: str = "") -> str:
    return f"/articles/{article_id}" + (f"#{anchor}" if anchor else "")


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

    @property
    def passage(self) -> str:
        """The best section's text (what an agent inserts into a reply)."""
        return self.sections[0].text if self.sections else ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, view: str = "api") -> dict[str, Any]:
        """The hit as one surface shows it (VIEWS)."""
        out: dict[str, Any] = {}
        for name in VIEWS[view]:
            if name == "sections":
                out[name] = [{"heading": s.heading, "url": s.url, "snippet": s.snippet} for s in self.sections]
            else:
                out[name] = getattr(self, name)
        return out


class Presenter:
    """Groups one snapshot's ranked chunks by article; read-only, shared across threads."""

    def __init__(self, snapshot: Snapshot, article_of: np.ndarray):
        self.snapshot, self.article_of = snapshot, article_of

    def group(self, ids: np.ndarray, scores: np.ndarray, query, confidence: float, k: int) -> list[Hit]:
        """Chunks → articles (best section first); an article's score is its best chunk's. `query` None: no snippets."""
        grouped: dict[str, list[tuple[int, float]]] = {}
        for cid, score in zip(ids, scores):
            aid = self.article_of[cid]
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
                    snippet=make_snippet(chunk.text, query.terms) if query is not None else "", score=round(score, 6),
                    text=chunk.text,
                ))
            best = sections[0]
            # Confidence belongs to the top answer; lower results get it scaled by their relative score.
            hit_conf = confidence if rank == 0 else round(confidence * min(1.0, members[0][1] / top), 4)
            hits.append(Hit(
                id=aid, title=article.title, locale=article.locale, category=article.category,
                audience=article.audience, url=best.url, section=best.heading, snippet=best.snippet,
                score=round(members[0][1], 6), confidence=hit_conf, sections=tuple(sections),
            ))
        return hits
