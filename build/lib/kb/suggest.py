"""Suggestions for a support request (ticket form, agent view, /api/suggest): articles, triage, urgency."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .search import Hit, Searcher
from .triage import Triage, UrgentRules, triage

@dataclass
class Suggestions:
    hits: list[Hit]
    triage: Triage
    urgent: bool
    no_answer: bool
    confidence: float
    locale: str | None
    emergency: dict[str, Any] | None
    took_ms: float


def request_query(subject: str, description: str, max_chars: int) -> str:
    """What is searched for a request: the subject, then as much of the description as fits (max_query_chars)."""
    text = " ".join(f"{subject.strip()} {description.strip()}".split())
    return text[:max_chars]


def _sops_first(searcher: Searcher, hits: list[Hit], sop_ids: list[str]) -> list[Hit]:
    """The urgent case's procedures first (in the order the rules give), then the other suggestions."""
    by_id = {h.id: h for h in hits}
    first = [by_id.get(a) or searcher.presenter.article_hit(a) for a in sop_ids if a in searcher.snapshot.articles]
    return [h for h in first if h is not None] + [h for h in hits if h.id not in sop_ids]


def suggest(
    searcher: Searcher,
    rules: UrgentRules,
    subject: str,
    description: str = "",
    locale: str | None = None,
    audience: str = "public",
    min_confidence: float = 0.35,
    k: int = 5,
    chosen_category: str | None = None,
) -> Suggestions:
    """Up to k articles at or above min_confidence; urgent topics get the emergency steps instead of
    deflection (the articles are still returned for agents, who are not deflected)."""
    query = request_query(subject, description, searcher.settings.max_query_chars)
    resp = searcher.search(query, locale=locale, audience=audience, k=k)
    tri = triage(f"{subject}\n{description}", resp, rules, chosen_category)
    urgent = tri.urgency == "urgent"
    hits = [h for h in resp.results if h.confidence >= min_confidence]
    emergency = None
    if urgent:
        emergency = rules.emergency_for(resp.locale or locale or "en")
        if audience != "public":  # agents: the matching SOP first, found even when the wording did not reach it
            hits = _sops_first(searcher, hits, emergency.get("agent_articles", []))
    return Suggestions(
        hits=hits, triage=tri, urgent=urgent, no_answer=not hits, confidence=resp.confidence,
        locale=resp.locale, emergency=emergency, took_ms=resp.took_ms,
    )
