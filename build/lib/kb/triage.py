"""Triage of a support request: category from the best-matching articles, urgency from rules.

Urgent topics (hacked account, unauthorised withdrawal, lost 2FA with funds at risk, phishing) are
configuration (kb/data/urgent.yml by default): they are never deflected with article suggestions."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import KBError
from .search import SearchResponse

DEFAULT_URGENT_FILE = Path(__file__).resolve().parent / "data" / "urgent.yml"
URGENCIES = ("urgent", "high", "normal")
# Money in flight or account access: answered before general questions.
HIGH_CATEGORIES = frozenset({"deposits", "withdrawals", "security", "account", "p2p-fiat"})


@dataclass(frozen=True)
class UrgentTopic:
    key: str
    label: dict[str, str]
    any: tuple[re.Pattern, ...] = ()
    all: tuple[tuple[re.Pattern, ...], ...] = ()

    def matches(self, text: str) -> bool:
        if any(p.search(text) for p in self.any):
            return True
        return bool(self.all) and all(any(p.search(text) for p in group) for group in self.all)


@dataclass(frozen=True)
class UrgentRules:
    topics: tuple[UrgentTopic, ...]
    emergency: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: str | Path | None = None) -> "UrgentRules":
        path = Path(path or DEFAULT_URGENT_FILE)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            topics = []
            for key, spec in data["topics"].items():
                compile_ = lambda p: re.compile(str(p), re.IGNORECASE)  # noqa: E731
                topics.append(UrgentTopic(
                    key=key, label=dict(spec.get("label") or {}),
                    any=tuple(compile_(p) for p in spec.get("any") or ()),
                    all=tuple(tuple(compile_(p) for p in group) for group in spec.get("all") or ()),
                ))
            return cls(tuple(topics), dict(data.get("emergency") or {}))
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, re.error) as exc:
            raise KBError(f"{path}: cannot read the urgent topics ({exc})") from None

    def match(self, text: str) -> list[UrgentTopic]:
        return [t for t in self.topics if t.matches(text)]

    def emergency_for(self, locale: str) -> dict[str, Any]:
        return self.emergency.get(locale) or self.emergency.get("en") or {}


@dataclass
class Triage:
    category: str | None
    urgency: str
    urgent_topics: list[str] = field(default_factory=list)
    category_votes: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "urgency": self.urgency, "urgent_topics": self.urgent_topics,
                "category_votes": self.category_votes}


def triage(text: str, response: SearchResponse, rules: UrgentRules, chosen_category: str | None = None) -> Triage:
    """Category: the user's choice, else a confidence-weighted vote of the top results' categories."""
    votes: dict[str, float] = defaultdict(float)
    for rank, hit in enumerate(response.results[:5]):
        votes[hit.category] += hit.confidence / (rank + 1)
    category = chosen_category or (max(votes, key=votes.get) if votes and response.confidence >= 0.05 else None)
    urgent = [t.key for t in rules.match(text)]
    if urgent:
        category = "security" if not chosen_category else category
        urgency = "urgent"
    elif category in HIGH_CATEGORIES:
        urgency = "high"
    else:
        urgency = "normal"
    return Triage(category, urgency, urgent, {k: round(v, 4) for k, v in sorted(votes.items(), key=lambda kv: -kv[1])})
