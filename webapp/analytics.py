"""What the writers' dashboard shows, computed from the store for a locale and a date range.

Every figure is a GROUP BY in the database (SQLite or PostgreSQL) over indexed columns: Python only sees one row
per day, per article, per content-gap key or per comment shown, never the log's rows. A year of log at most (the
range the dashboard allows) is one row per day."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import sqlalchemy as sa

from kb.query import head as query_head

from . import db, gaps
from .privacy import scrub

USER_SURFACES = ("search", "api")  # the help center's searches; "ticket" and "agent" are counted apart
# the most asked gap keys that are merged by meaning (their wordings encoded, the app's query-vector cache
# keeping them for the next view): the cost of a view does not grow with the log
MERGE_CANDIDATES = 30
MAX_VARIANTS = 6


EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Filters:
    """Whole UTC days, `first` to `last` (both included), and a locale or all. Given timestamps (a time range,
    `last` excluded), the UTC days they fall on."""
    first: dt.date
    last: dt.date
    locale: str | None = None

    def __post_init__(self):
        if not isinstance(self.first, dt.date):
            object.__setattr__(self, "first", dt.datetime.fromtimestamp(self.first, dt.timezone.utc).date())
        if not isinstance(self.last, dt.date):
            last = dt.datetime.fromtimestamp(self.last, dt.timezone.utc)
            object.__setattr__(self, "last", last.date() - dt.timedelta(days=last.time() == dt.time()))

    @property
    def since(self) -> float:
        return dt.datetime.combine(self.first, dt.time(), dt.timezone.utc).timestamp()

    @property
    def until(self) -> float:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), dt.timezone.utc).timestamp()

    def where(self, table: sa.Table) -> list:
        if "day" in table.c:  # the log's day column (indexed), days since 1970-01-01
            clauses = [table.c.day.between((self.first - EPOCH).days, (self.last - EPOCH).days)]
        else:
            clauses = [table.c.created_at >= self.since, table.c.created_at < self.until]
        if self.locale and "locale" in table.c:
            clauses.append(table.c.locale == self.locale)
        return clauses


def day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d")


normalise = gaps.gap_key  # the older name


def _count_if(condition) -> sa.ColumnElement:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _days(f: Filters) -> list[dt.date]:
    return [f.first + dt.timedelta(days=i) for i in range(min((f.last - f.first).days + 1, 400))]


def fill_missing(limit: int = 5000) -> int:
    """Give rows without a day (written by an older version, e.g. a worker not yet restarted in a rolling upgrade)
    their day, gap key and seen articles, as db.log_search does; at most `limit` a call. How many it filled."""
    log = db.search_log
    with db.engine().begin() as conn:
        rows = conn.execute(sa.select(log.c.id, log.c.created_at, log.c.query, log.c.surface, log.c.locale,
                                      log.c.result_ids).where(log.c.day.is_(None)).limit(limit)).all()
        if not rows:
            return 0
        conn.execute(log.update().where(log.c.id == sa.bindparam("row_id"))
                     .values(day=sa.bindparam("d"), gap_key=sa.bindparam("key")),
                     [{"row_id": r.id, "d": int(r.created_at // 86400), "key": gaps.gap_key(scrub(r.query) or "")}
                      for r in rows])
        seen = {(int(r.created_at // 86400), r.locale or "", a) for r in rows if r.surface != "agent"
                for a in json.loads(r.result_ids or "[]")}
        if seen:
            conn.execute(db.insert_ignore(db.articles_seen), [{"day": d, "locale": loc, "article_id": a}
                                                               for d, loc, a in seen])
    return len(rows)


def per_day(f: Filters) -> dict[str, Any]:
    """Searches, no-answer searches and ticket-form sessions per day, and the totals: a GROUP BY per day and surface, one per day of distinct sessions."""
    log = db.search_log
    # grouped by the covering index's leading columns, in its order: no sort, and no expression per row
    counts = (sa.select(log.c.day, log.c.surface, log.c.no_answer, sa.func.count().label("n"),
                        sa.func.count(log.c.clicked_id).label("clicked"))
              .where(*f.where(log)).group_by(log.c.day, log.c.surface, log.c.locale, log.c.no_answer))
    sessions = (sa.select(log.c.day, sa.func.count(sa.distinct(log.c.session)).label("n"))
                .where(log.c.surface == "ticket", *f.where(log), log.c.session.is_not(None)).group_by(log.c.day))
    days = [(d - EPOCH).days for d in _days(f)]
    keys = ("searches", "no_answer", "agent", "page", "clicked")
    per = {d: dict.fromkeys(keys, 0) for d in days}
    with db.engine().connect() as conn:
        for r in conn.execute(counts):
            c = per.setdefault(int(r.day), dict.fromkeys(keys, 0))
            if r.surface in USER_SURFACES:
                c["searches"] += r.n
                c["no_answer"] += r.n if r.no_answer else 0
            if r.surface == "search":
                c["page"] += r.n
                c["clicked"] += r.clicked
            c["agent"] += r.n if r.surface == "agent" else 0
        per_session = {int(r.day): int(r.n) for r in conn.execute(sessions)}
    return {
        "days": [d.isoformat() for d in _days(f)],
        "searches_per_day": [per[d]["searches"] for d in days],
        "no_answer_per_day": [per[d]["no_answer"] for d in days],
        "ticket_sessions_per_day": [per_session.get(d, 0) for d in days],
        "total": {k: sum(c[k] for c in per.values()) for k in keys},
    }


def ticket_sessions(f: Filters) -> tuple[int, int]:
    """Ticket-form sessions started in the range, and how many of them were deflected."""
    log = db.search_log
    query = sa.select(sa.func.count(sa.distinct(log.c.session)),
                      sa.func.count(sa.distinct(sa.case((log.c.outcome == "deflected", log.c.session))))).where(
        log.c.surface == "ticket", *f.where(log), log.c.session.is_not(None))
    with db.engine().connect() as conn:
        started, deflected = conn.execute(query).one()
    return int(started), int(deflected)


def content_gaps(f: Filters, encode: Callable[[list[str]], np.ndarray] | None = None, top: int = 15,
                 threshold: float = 0.9) -> list[dict[str, Any]]:
    """The most asked queries without a good answer: counted by gap key in the database, then the
    MERGE_CANDIDATES most asked keys merged by meaning (webapp.gaps.merge: never two different identifiers). Each:
    the most asked wording, how often, and up to six wordings."""
    log = db.search_log
    where = [log.c.no_answer == sa.true(), *f.where(log), log.c.surface.in_(USER_SURFACES), log.c.gap_key.is_not(None)]
    n = sa.func.count().label("n")
    first = sa.func.min(log.c.id).label("first")
    keys_q = (sa.select(log.c.gap_key, n, first).where(*where).group_by(log.c.gap_key)
              .order_by(n.desc(), first).limit(top + MERGE_CANDIDATES if encode else top))
    with db.engine().connect() as conn:
        keys = conn.execute(keys_q).all()
        wordings = conn.execute(
            sa.select(log.c.gap_key, log.c.query, n, first).where(*where, log.c.gap_key.in_([k.gap_key for k in keys]))
            .group_by(log.c.gap_key, log.c.query)).all() if keys else []
    by_key: dict[str, list] = {}
    for w in sorted(wordings, key=lambda w: (-w.n, w.first)):
        by_key.setdefault(w.gap_key, []).append(w)
    # scrubbed again as shown: rows logged before the log was scrubbed stay until the retention purge removes them
    shown = [scrub(by_key[k.gap_key][0].query) for k in keys]
    head = min(len(keys), MERGE_CANDIDATES)
    # the start the search itself encoded (kb.query.head): a query searched by this process is in its query-vector
    # cache already
    encoded = (lambda texts: encode([query_head(t) for t in texts])) if encode else None
    groups = gaps.merge([k.gap_key for k in keys[:head]], shown[:head], encoded,
                        threshold) + [[i] for i in range(head, len(keys))]
    out = []
    for members in groups:
        variants = sorted({scrub(w.query) for i in members for w in by_key[keys[i].gap_key]})
        out.append({"query": shown[members[0]], "count": sum(int(keys[i].n) for i in members),
                    "variants": variants[:MAX_VARIANTS]})
    out.sort(key=lambda g: -g["count"])  # stable: ties keep the order of first asked
    return out[:top]


def votes_by_article(f: Filters, limit: int | None = None) -> list[dict[str, Any]]:
    """Helpful votes per article, lowest ratio of yes first (then the most voted)."""
    v = db.article_votes
    yes = _count_if(v.c.helpful.is_(True)).label("yes")
    total = sa.func.count().label("total")
    query = (sa.select(v.c.article_id, yes, total).where(*f.where(v)).group_by(v.c.article_id)
             .order_by(sa.cast(yes, sa.Float) / total, total.desc(), v.c.article_id).limit(limit))
    with db.engine().connect() as conn:
        return [{"article_id": r.article_id, "yes": int(r.yes), "no": int(r.total) - int(r.yes),
                 "ratio": _rate(int(r.yes), int(r.total))} for r in conn.execute(query)]


def vote_totals(f: Filters) -> tuple[int, int]:
    v = db.article_votes
    with db.engine().connect() as conn:
        total, yes = conn.execute(sa.select(sa.func.count(), _count_if(v.c.helpful.is_(True))).where(*f.where(v))).one()
    return int(total), int(yes)


def marked_wrong(f: Filters, limit: int | None = None) -> list[dict[str, Any]]:
    """Articles agents marked as a wrong suggestion, most often first (the feedback has no locale: all of them)."""
    fb = db.suggestion_feedback
    n = sa.func.count().label("n")
    query = (sa.select(fb.c.article_id, n).where(fb.c.verdict == "wrong", fb.c.created_at >= f.since,
                                                 fb.c.created_at < f.until)
             .group_by(fb.c.article_id).order_by(n.desc(), fb.c.article_id).limit(limit))
    with db.engine().connect() as conn:
        return [{"article_id": r.article_id, "count": int(r.n)} for r in conn.execute(query)]


def seen_articles(f: Filters) -> set[str]:
    """The articles in any result list of the help center's searches and the ticket form (not agents')."""
    seen = db.articles_seen
    with db.engine().connect() as conn:
        return {r[0] for r in conn.execute(sa.select(seen.c.article_id).distinct().where(*f.where(seen)))}


def requests_filed(f: Filters) -> int:
    with db.engine().connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(db.requests).where(*f.where(db.requests)))
                   .scalar() or 0)


def vote_comments(f: Filters, limit: int = 20, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Vote comments, newest first, one page; and how many there are. Scrubbed as shown (personal text)."""
    v = db.article_votes
    where = [*f.where(v), v.c.comment.is_not(None), v.c.comment != ""]
    with db.engine().connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(v).where(*where)).scalar() or 0)
        rows = conn.execute(sa.select(v.c.article_id, v.c.helpful, v.c.comment, v.c.created_at).where(*where)
                            .order_by(v.c.created_at.desc(), v.c.id.desc()).limit(limit).offset(offset)).all()
    return [{"article_id": r.article_id, "helpful": bool(r.helpful), "comment": scrub(r.comment),
             "date": day(r.created_at)} for r in rows], total


def dashboard(f: Filters, public_articles: Mapping[str, str], encode=None, top: int = 15,
              titles: Mapping[str, str] | None = None, comments_page: int = 1, comments_per_page: int = 20
              ) -> dict[str, Any]:
    """Every figure of the dashboard. `public_articles` maps id → title (for 'never found'); `titles` any
    article's id → title (default: the public ones), shown beside each id."""
    titles = public_articles if titles is None else titles
    fill_missing()
    days = per_day(f)
    total = days.pop("total")
    started, deflected = ticket_sessions(f)
    votes, yes = vote_totals(f)
    seen = seen_articles(f)
    comments, n_comments = vote_comments(f, comments_per_page, (comments_page - 1) * comments_per_page)

    def titled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "title": titles.get(r["article_id"])} for r in rows]

    return {
        **days,
        "totals": {
            "searches": total["searches"],
            "agent_searches": total["agent"],
            "no_answer_rate": _rate(total["no_answer"], total["searches"]),
            "click_through_rate": _rate(total["clicked"], total["page"]),
            "ticket_sessions": started,
            "deflected": deflected,
            "deflection_rate": _rate(deflected, started),
            "requests_filed": requests_filed(f),
            "votes": votes,
            "helpful_rate": _rate(yes, votes),
        },
        "content_gaps": content_gaps(f, encode, top),
        "helpful_by_article": titled(votes_by_article(f, top)),
        "marked_wrong": titled(marked_wrong(f, top)),
        "never_found": sorted(({"article_id": a, "title": t} for a, t in public_articles.items() if a not in seen),
                              key=lambda r: r["article_id"]),
        "comments": titled(comments),
        "comments_total": n_comments,
    }
