"""What the writers' dashboard shows, computed from the store for a locale and a date range."""
from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sqlalchemy as sa

from . import db
from .privacy import scrub


@dataclass(frozen=True)
class Filters:
    since: float
    until: float
    locale: str | None = None

    def where(self, table: sa.Table) -> list:
        clauses = [table.c.created_at >= self.since, table.c.created_at < self.until]
        if self.locale and "locale" in table.c:
            clauses.append(table.c.locale == self.locale)
        return clauses


def day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d")


def normalise(query: str) -> str:
    """Case, width and punctuation folded: '充值 没到账！' and '充值没到账' count together."""
    text = unicodedata.normalize("NFKC", query).lower()
    text = re.sub(r"[^\w]+", " ", text).strip()
    return re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", text)


def _rows(table: sa.Table, f: Filters) -> list[dict[str, Any]]:
    with db.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).where(*f.where(table)).order_by(table.c.id))]


def group_queries(queries: list[str], encode: Callable[[list[str]], np.ndarray] | None, threshold: float = 0.9) -> list[list[str]]:
    """Near-duplicate queries together: same normalised text, then (with an encoder) cosine ≥ threshold."""
    by_text: dict[str, list[str]] = defaultdict(list)
    for q in queries:
        by_text[normalise(q)].append(q)
    keys = sorted(by_text, key=lambda k: -len(by_text[k]))
    if encode is None or len(keys) < 2:
        return [by_text[k] for k in keys]
    vectors = encode(keys)
    groups: list[tuple[np.ndarray, list[str]]] = []
    for key, vec in zip(keys, vectors):
        for centre, members in groups:
            if float(centre @ vec) >= threshold:
                members.extend(by_text[key])
                break
        else:
            groups.append((vec, list(by_text[key])))
    return sorted((m for _, m in groups), key=len, reverse=True)


def dashboard(f: Filters, public_articles: dict[str, str], encode=None, top: int = 15) -> dict[str, Any]:
    """Every figure of the dashboard. `public_articles` maps id → title (for 'never found')."""
    searches = _rows(db.search_log, f)
    votes = _rows(db.article_votes, f)
    with db.engine().connect() as conn:
        fb = db.suggestion_feedback
        wrong = conn.execute(
            sa.select(fb.c.article_id, sa.func.count().label("n")).where(
                fb.c.verdict == "wrong", fb.c.created_at >= f.since, fb.c.created_at < f.until)
            .group_by(fb.c.article_id).order_by(sa.desc("n")).limit(top)).all()
        filed = conn.execute(sa.select(sa.func.count()).select_from(db.requests).where(*f.where(db.requests))).scalar()

    days = []
    d = dt.datetime.fromtimestamp(f.since, dt.timezone.utc).date()
    end = dt.datetime.fromtimestamp(f.until - 1, dt.timezone.utc).date()
    while d <= end and len(days) < 400:
        days.append(d.isoformat())
        d += dt.timedelta(days=1)
    per_day = {k: Counter() for k in ("searches", "no_answer", "ticket_sessions")}
    sessions_by_day: dict[str, set] = defaultdict(set)
    for row in searches:
        key = day(row["created_at"])
        if row["surface"] in ("search", "api"):
            per_day["searches"][key] += 1
            per_day["no_answer"][key] += bool(row["no_answer"])
        elif row["surface"] == "ticket" and row["session"]:
            sessions_by_day[key].add(row["session"])
    for key, ids in sessions_by_day.items():
        per_day["ticket_sessions"][key] = len(ids)

    user_searches = [r for r in searches if r["surface"] in ("search", "api")]
    page_searches = [r for r in searches if r["surface"] == "search"]
    ticket = [r for r in searches if r["surface"] == "ticket" and r["session"]]
    started = {r["session"] for r in ticket}
    deflected = {r["session"] for r in ticket if r["outcome"] == "deflected"}
    seen = {aid for r in searches if r["surface"] != "agent" for aid in json.loads(r["result_ids"] or "[]")}

    helpful: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for v in votes:
        helpful[v["article_id"]][0 if v["helpful"] else 1] += 1
    # scrubbed again as shown: rows logged before the log was scrubbed stay until the retention purge removes them
    gaps = group_queries([scrub(r["query"]) for r in user_searches if r["no_answer"]], encode)

    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "days": days,
        "searches_per_day": [per_day["searches"][k] for k in days],
        "no_answer_per_day": [per_day["no_answer"][k] for k in days],
        "ticket_sessions_per_day": [per_day["ticket_sessions"][k] for k in days],
        "totals": {
            "searches": len(user_searches),
            "agent_searches": sum(r["surface"] == "agent" for r in searches),
            "no_answer_rate": rate(sum(bool(r["no_answer"]) for r in user_searches), len(user_searches)),
            "click_through_rate": rate(sum(r["clicked_id"] is not None for r in page_searches), len(page_searches)),
            "ticket_sessions": len(started),
            "deflected": len(deflected),
            "deflection_rate": rate(len(deflected), len(started)),
            "requests_filed": int(filed or 0),
            "votes": len(votes),
            "helpful_rate": rate(sum(bool(v["helpful"]) for v in votes), len(votes)),
        },
        "content_gaps": [{"query": g[0], "count": len(g), "variants": sorted(set(g))[:6]} for g in gaps[:top]],
        "helpful_by_article": sorted(
            ({"article_id": a, "yes": y, "no": n, "ratio": rate(y, y + n)} for a, (y, n) in helpful.items()),
            key=lambda r: (r["ratio"], -(r["yes"] + r["no"])))[:top],
        "marked_wrong": [{"article_id": a, "count": n} for a, n in wrong],
        "never_found": sorted(({"article_id": a, "title": t} for a, t in public_articles.items() if a not in seen),
                              key=lambda r: r["article_id"]),
    }
