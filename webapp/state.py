"""The app's one state object, `app.extensions["kb"]`: settings, the live index, urgent rules, agents and
the store's engine. A request pins one snapshot's searcher the first time it asks (never two builds)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g

from kb.config import Settings
from kb.live import LiveIndex
from kb.search import Searcher
from kb.triage import UrgentRules


@dataclass
class KBState:
    settings: Settings
    live: LiveIndex
    urgent: UrgentRules
    agents: dict[str, Any] = field(default_factory=dict)  # {"token": str, "users": webapp.auth.Users | None}
    db: Any = None  # the SQLAlchemy engine (webapp.db)
    limiter: Any = None  # the app's flask_limiter.Limiter (webapp.ratelimit)
    rate_limits: dict[str, str] = field(default_factory=dict)  # KB_RATE_LIMITS by group; empty when off
    replica: Any = None  # webapp.replica.Replica, polling KB_INDEX_SOURCE; None when unset

    @property
    def searcher(self) -> Searcher:
        """The live searcher now (outside a request; inside one, use `searcher()`)."""
        return self.live.searcher


def state() -> KBState:
    return current_app.extensions["kb"]


def settings() -> Settings:
    return state().settings


def searcher() -> Searcher:
    """This request's searcher: the live one when the request first asked, for the whole request."""
    if "kb_searcher" not in g:
        g.kb_searcher = state().live.searcher
    return g.kb_searcher
