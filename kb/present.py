"""Presenter: ranked chunks → articles (best section first) with snippets, and the one serializer of a
hit that every surface (API, ticket suggestions, agent search) uses."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .snippet import make_snippet
from .store import Snapshot
from .tables import column

# What each surface shows of a hit. Public surfaces never show `audience` or section text.
VIEWS: dict[str, tuple[str, ...]] = {
    "api": ("id", "title", "section", "url", "score", "confidence", "snippet", "locale", "category", "sections",
            "translation_group", "shown_locale", "fallback"),
    "suggest": ("id", "title", "section", "url", "snippet", "confidence", "locale", "category", "translation_group",
                "shown_locale", "fallback"),
    "agent": ("id", "title", "audience", "section", "url", "snippet", "passage", "confidence", "locale", "category",
              "translation_group", "shown_locale", "fallback"),
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
    reply: str = ""  # what Insert puts into an agent's reply (kb.reply: no internal notes)
    internal: str = ""  # the section's internal notes: shown to the agent, never inserted


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
    translation_group: str = ""
    fallback: bool = False  # shown in another language than the reader's: no translation in it

    @property
    def shown_locale(self) -> str:
        return self.locale

    @property
    def passage(self) -> str:
        """What an agent inserts into a reply from the best section: its customer-facing text (kb.reply)."""
        return (self.sections[0].reply or self.sections[0].text) if self.sections else ""

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

    def __init__(self, snapshot: Snapshot, article_of: np.ndarray, group_of: np.ndarray):
        self.snapshot, self.article_of = snapshot, article_of
        self.group_of = group_of  # chunk id → topic number (kb.retrieval.Retriever.group_of)
        self.first_chunk: dict[str, int] = {}  # article id → its first chunk (once per snapshot; instant search's too)
        for cid, aid in enumerate(article_of):
            self.first_chunk.setdefault(aid, cid)
        # topic (group_of's number for a translation group) → locale → article id, public and internal alike, and
        # the public articles: once per snapshot, so that grouping reads no article but the ones it shows
        self._translations: dict[int, dict[str, str]] = {}
        public = []
        for aid, locale, is_public in zip(*(column(snapshot.articles, f) for f in ("id", "locale", "is_public"))):
            if aid in self.first_chunk:
                self._translations.setdefault(int(group_of[self.first_chunk[aid]]), {})[locale] = aid
            if is_public:
                public.append(aid)
        self._public = frozenset(public)

    def article_hit(self, article_id: str, confidence: float = 0.0) -> Hit:
        """An article as a hit without a search (its first section), for what rules put in front of results."""
        article = self.snapshot.articles[article_id]
        chunk = self.snapshot.chunks[self.first_chunk[article_id]]
        section = Section(heading=chunk.heading, anchor=chunk.anchor, url=article_url(article_id, chunk.anchor),
                          snippet="", score=0.0, text=chunk.text, reply=chunk.reply or chunk.text,
                          internal=chunk.internal)
        return Hit(id=article.id, title=article.title, locale=article.locale, category=article.category,
                   audience=article.audience, url=section.url, section=section.heading, snippet="", score=0.0,
                   confidence=confidence, sections=(section,))

    def _shown(self, article_id: str, topic: int, prefer: str | None, public: bool) -> str:
        """The article a topic is shown as: its translation in the reader's locale when there is one, else its
        English one (read by more of our readers than any other), else the one that matched."""
        if not prefer:
            return article_id
        members = self._translations.get(topic, {})
        for locale in (prefer, "en"):
            candidate = members.get(locale)
            if candidate and (not public or candidate in self._public):
                return candidate
        return article_id

    def group(self, ids: np.ndarray, scores: np.ndarray, query, confidence: float, k: int,
              prefer: str | None = None, public: bool = True) -> list[Hit]:
        """Chunks → topics: each translation group once, shown in `prefer` when it has that translation (else in
        the language that matched best), best section first; a topic's score is its best chunk's.
        `query` None: no snippets."""
        grouped: dict[int, list[tuple[int, float]]] = {}
        shown: dict[int, str] = {}  # topic → the article shown for it
        # the first k topics in rank order, and only their chunks: the others are never looked at
        ids = np.asarray(ids, dtype=np.int64)
        topics = self.group_of[ids]
        _, first = np.unique(topics, return_index=True)
        keep = np.isin(topics, topics[np.sort(first)[:k]])
        for cid, topic, score in zip(ids[keep].tolist(), topics[keep].tolist(), np.asarray(scores)[keep].tolist()):
            if topic not in grouped:
                grouped[topic] = []
                shown[topic] = self._shown(self.article_of[cid], topic, prefer, public)
            grouped[topic].append((cid, score))
        top = max((s for _, s in next(iter(grouped.values()), [])), default=1.0) or 1.0
        hits = []
        for rank, (topic, found) in enumerate(grouped.items()):
            aid = shown[topic]
            # the shown article's own sections that matched; its first section if only a translation matched
            members = [(cid, s) for cid, s in found if self.article_of[cid] == aid] or [(self.first_chunk[aid], found[0][1])]
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
                    text=chunk.text, reply=chunk.reply or chunk.text, internal=chunk.internal,
                ))
            best = sections[0]
            # Confidence belongs to the top answer; lower results get it scaled by their relative score.
            hit_conf = confidence if rank == 0 else round(confidence * min(1.0, found[0][1] / top), 4)
            hits.append(Hit(
                id=aid, title=article.title, locale=article.locale, category=article.category,
                audience=article.audience, url=best.url, section=best.heading, snippet=best.snippet,
                score=round(found[0][1], 6), confidence=hit_conf, sections=tuple(sections),
                translation_group=article.translation_group, fallback=bool(prefer) and article.locale != prefer,
            ))
        return hits
