"""The agents' queue (webapp.agent): its filters from the query string, one page of it, and each request's age."""
from __future__ import annotations

import time
from typing import Any, Mapping

from . import db
from .params import ParamError, category_param, int_param, locale_param, text_param
from .state import searcher

PAGE_SIZE = 50
STATUSES = (*db.STATUSES, "all")
ASSIGNED = ("mine", "unassigned")
MAX_HOURS = 24 * 366
MAX_SEARCH = 200


def _choice(args: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    value = text_param(args, name, 32, required=False) or default
    if value is not None and value not in choices:
        raise ParamError(name, f"use one of {', '.join(choices)}")
    return value


def _cursor(args: Mapping[str, Any], name: str) -> str | None:
    value = text_param(args, name, 64, required=False) or None
    if value is not None:
        try:
            db.parse_cursor(value)
        except ValueError:
            raise ParamError(name, "not a page of this queue; start again from the first page") from None
    return value


def read_filters(args: Mapping[str, Any], agent: str | None) -> tuple[db.QueueFilter, dict[str, Any]]:
    """The queue's filters from the query string (a bad one is a 400 naming it), and the parameters that links
    to other pages of the same view keep."""
    status = _choice(args, "status", STATUSES, "open")
    urgency = _choice(args, "urgency", db.URGENCIES)
    category = category_param(args, searcher().snapshot.categories)
    locale = locale_param(args)
    older = int_param(args, "older", 0, 0, MAX_HOURS)  # hours; 0: any age
    search = text_param(args, "q", MAX_SEARCH, required=False) or None
    assigned = _choice(args, "assigned", ASSIGNED)
    f = db.QueueFilter(status=None if status == "all" else status, urgency=urgency, category=category, locale=locale,
                       older_than=older * 3600 if older else None, search=search,
                       assigned_to=agent if assigned == "mine" else None, unassigned=assigned == "unassigned")
    keep = {"status": status, "urgency": urgency, "category": category, "locale": locale, "older": older or None,
            "q": search, "assigned": assigned}
    return f, {k: v for k, v in keep.items() if v is not None}


def page(args: Mapping[str, Any], agent: str | None) -> dict[str, Any]:
    """What the queue template shows: the page, the filters, and how many urgent open requests there are."""
    f, keep = read_filters(args, agent)
    after, before = _cursor(args, "after"), _cursor(args, "before")
    if after and before:
        raise ParamError("before", "give 'after' or 'before', not both")
    result = db.queue_page(f, after=after, before=before, limit=PAGE_SIZE)
    urgent_open = db.count_urgent_open()
    return {"page": result, "params": keep, "urgent_open": urgent_open,
            # urgent open requests this view does not show (filtered out, or pinned on the first page)
            "urgent_elsewhere": urgent_open - len(result.pinned) if result.first else urgent_open,
            "now": time.time()}


def age(created_at: float, now: float | None = None) -> str:
    """How long a request has waited, as an agent reads it at a glance: '12 min', '3 h', '2 d'."""
    seconds = max(0.0, (time.time() if now is None else now) - created_at)
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"
