"""The app's store: requests, deflections, agent feedback, the search log and helpful votes.

SQLAlchemy Core over embedded SQLite by default (KB_DB_PATH) or any URL in KB_DATABASE_URL (PostgreSQL:
postgresql+psycopg://...). One engine per app, created in the factory; its schema is migrated to the newest revision on start (webapp.migrate, Alembic)."""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from .gaps import gap_key
from .privacy import scrub

metadata = sa.MetaData()

requests = sa.Table(
    "requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("locale", sa.String(16)),  # the language the request is written in (kb.lang.text_locale)
    sa.Column("chosen_category", sa.String(64)),
    sa.Column("category", sa.String(64)),
    sa.Column("urgency", sa.String(16), nullable=False),
    sa.Column("urgent_topics", sa.Text, nullable=False, default="[]"),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("shown", sa.Text, nullable=False, default="[]"),
    sa.Column("opened", sa.Text, nullable=False, default="[]"),
    sa.Column("session", sa.String(64)),
    sa.Column("reply", sa.Text),
    sa.Column("ui_locale", sa.String(16)),  # the interface's language when it was filed
    sa.Column("assigned_to", sa.String(64)),  # the agent who took it; NULL: unassigned
    # the queue's order (0 urgent, 1 high, 2 normal), stored so that an index can serve the queue's keyset pages
    sa.Column("urgency_rank", sa.SmallInteger, nullable=False, server_default="2"),
    sa.Index("ix_requests_queue", "status", "urgency_rank", "created_at", "id"),
    sa.Index("ix_requests_rank", "urgency_rank", "created_at", "id"),
    sa.Index("ix_requests_assigned_to", "assigned_to"),
)

deflections = sa.Table(
    "deflections", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("session", sa.String(64)),
    sa.Column("article_id", sa.String(128), nullable=False),
    sa.Column("query", sa.Text),
    sa.Column("locale", sa.String(16)),
    sa.Column("shown", sa.Text, nullable=False, default="[]"),
    sa.Column("opened", sa.Text, nullable=False, default="[]"),
)

suggestion_feedback = sa.Table(
    "suggestion_feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("article_id", sa.String(128), nullable=False),
    sa.Column("verdict", sa.String(8), nullable=False),
    sa.Column("agent", sa.String(64)),
    sa.CheckConstraint("verdict IN ('used', 'wrong')", name="verdict_kind"),
)

# One row per search, suggestion request or ticket-form keystroke batch; never an e-mail address.
search_log = sa.Table(
    "search_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("surface", sa.String(16), nullable=False),  # search | api | ticket | agent
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("locale", sa.String(16)),
    sa.Column("result_ids", sa.Text, nullable=False, default="[]"),
    sa.Column("top_score", sa.Float),
    sa.Column("no_answer", sa.Boolean, nullable=False, default=False),
    sa.Column("clicked_id", sa.String(128)),
    sa.Column("outcome", sa.String(16)),  # deflected | filed (ticket form)
    sa.Column("session", sa.String(64)),
    # written with the row (0005), for the writers' dashboard (webapp.analytics): the UTC day of created_at (days
    # since 1970-01-01) and the query's content-gap key (webapp.gaps)
    sa.Column("day", sa.Integer),
    sa.Column("gap_key", sa.Text),
    # each of the dashboard's GROUP BYs reads one of these alone (a covering index), in the order it groups by
    sa.Index("ix_search_log_days", "day", "surface", "locale", "no_answer", "clicked_id"),
    sa.Index("ix_search_log_sessions", "surface", "day", "session", "outcome", "locale"),
    sa.Index("ix_search_log_gaps", "no_answer", "day", "surface", "locale", "gap_key"),
)

# The articles in some result list of a public search or the ticket form, per day and locale (the query's
# locale, '' for none): what "never found" on the dashboard is not. Written with each search-log row (0005).
articles_seen = sa.Table(
    "articles_seen", metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("locale", sa.String(16), primary_key=True),
    sa.Column("article_id", sa.String(128), primary_key=True),
)

article_votes = sa.Table(
    "article_votes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("article_id", sa.String(128), nullable=False, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("locale", sa.String(16)),
    sa.Column("reader", sa.String(64)),  # a hash of the reader cookie: one vote per reader and article (0006)
    sa.Index("ix_article_votes_reader", "article_id", "reader", unique=True),
)

STATUSES = ("open", "answered", "closed")
MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL (SERIAL); a larger one names no row on either database
_JSON_COLUMNS = ("urgent_topics", "shown", "opened", "result_ids")


def database_url(settings) -> str:
    return settings.database_url or f"sqlite:///{settings.db_path}"


def make_engine(url: str) -> sa.Engine:
    # hide_parameters: an error's text (logged) never carries the values written, such as a query or an e-mail
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:  # the store holds requests with e-mail addresses: readable by its owner only (-wal, -shm follow)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
        engine = sa.create_engine(url, connect_args={"timeout": 10, "check_same_thread": False}, hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:
                # Another process holds the lock while it switches the new file to WAL (which then persists in
                # the file): switching mode does not wait for a lock, so this connection goes on without it.
                pass
            conn.execute("PRAGMA foreign_keys=ON")

        return engine
    # a database that does not answer fails the store's operations in seconds, not after the OS's TCP timeout
    connect_args = {"connect_timeout": 5} if url.startswith("postgresql") and "connect_timeout" not in url else {}
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args)


# The databases a server's master brought to head (python -m webapp.migrate) before it forked its workers
_migrated: set[str] = set()


def migrated_before_fork(url: str) -> None:
    """The database at `url` is at head: the apps this process and its forks make do not migrate it again."""
    _migrated.add(url)


def init_app(app: Flask) -> None:
    settings = app.extensions["kb"].settings
    url = database_url(settings)
    engine = make_engine(url)
    if url not in _migrated:
        from .migrate import upgrade  # Alembic, to head (stamps a database made by create_all at the baseline)

        upgrade(engine)
    app.extensions["kb"].db = engine
    from . import retention, storehealth

    storehealth.init_app(app)  # store errors: counted for /healthz; a request that meets one gets a 503
    retention.init_app(app)  # the retention purge, at start and then hourly while serving


def engine() -> sa.Engine:
    return current_app.extensions["kb"].db


def _row(row) -> dict[str, Any] | None:
    if row is None:
        return None
    d = dict(row._mapping)
    for key in _JSON_COLUMNS:
        if key in d:
            d[key] = json.loads(d[key] or "[]")
    return d


def _insert(table: sa.Table, **values: Any) -> int:
    values.setdefault("created_at", time.time())
    for key in _JSON_COLUMNS:
        if key in values and not isinstance(values[key], str):
            values[key] = json.dumps(values[key] or [])
    with engine().begin() as conn:
        return int(conn.execute(table.insert().values(**values)).inserted_primary_key[0])


URGENCY_RANK = {"urgent": 0, "high": 1}  # else 2: normal
URGENCIES = ("urgent", "high", "normal")


def create_request(**fields: Any) -> int:
    now = time.time()
    fields.setdefault("created_at", now)
    return _insert(requests, updated_at=now, status="open", urgency_rank=URGENCY_RANK.get(fields.get("urgency"), 2),
                   **fields)


def get_request(request_id: int) -> dict[str, Any] | None:
    if not 0 < request_id <= MAX_ID:  # /agent/requests/99999999999999999999 overflows both databases' integers
        return None
    with engine().connect() as conn:
        return _row(conn.execute(sa.select(requests).where(requests.c.id == request_id)).first())


_KEY = (requests.c.urgency_rank, requests.c.created_at, requests.c.id)


def _key(row: dict[str, Any]) -> str:
    return f"{row['urgency_rank']}:{row['created_at']!r}:{row['id']}"


def parse_cursor(cursor: str) -> tuple[int, float, int]:
    """A page cursor (urgency rank, created_at, id) from its text; ValueError if it is not one."""
    rank, created, request_id = cursor.split(":")
    key = int(rank), float(created), int(request_id)
    if key[0] not in (0, 1, 2) or not math.isfinite(key[1]) or not 0 < key[2] <= MAX_ID:
        raise ValueError(cursor)
    return key


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows. Every field narrows it; None means any."""
    status: str | None = "open"
    urgency: str | None = None
    category: str | None = None
    locale: str | None = None
    older_than: float | None = None  # seconds: only requests filed at least this long ago
    search: str | None = None  # in subject, description or e-mail (case-insensitive), or the request number
    assigned_to: str | None = None  # an agent's name
    unassigned: bool = False

    def where(self, now: float) -> list:
        c = requests.c
        clauses = []
        if self.status:
            clauses.append(c.status == self.status)
        if self.urgency:
            clauses.append(c.urgency_rank == URGENCY_RANK.get(self.urgency, 2))
        if self.category:
            clauses.append(c.category == self.category)
        if self.locale:
            clauses.append(c.locale == self.locale)
        if self.older_than is not None:
            clauses.append(c.created_at <= now - self.older_than)
        if self.assigned_to:
            clauses.append(c.assigned_to == self.assigned_to)
        if self.unassigned:
            clauses.append(c.assigned_to.is_(None))
        if self.search:
            # LIKE with the user's % and _ taken literally; ilike is ILIKE on PostgreSQL, lower() LIKE lower() on
            # SQLite (which folds ASCII letters only: CJK has no case, accented Latin letters must match as typed)
            pattern = "%" + self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found = [col.ilike(pattern, escape="\\") for col in (c.subject, c.description, c.email)]
            number = self.search.lstrip("#")
            if number.isascii() and number.isdigit() and 0 < int(number) <= MAX_ID:
                found.append(c.id == int(number))
            clauses.append(sa.or_(*found))
        return clauses


@dataclass(frozen=True)
class QueuePage:
    pinned: list[dict[str, Any]]  # urgent open requests: all of them, on the first page only
    rows: list[dict[str, Any]]  # the page of the others
    first: bool  # no page before this one
    next: str | None  # cursor of the next page's `after`
    prev: str | None  # cursor of the previous page's `before`


def queue_page(f: QueueFilter, after: str | None = None, before: str | None = None, limit: int = 50,
               now: float | None = None) -> QueuePage:
    """One page of the queue: most urgent first, then the longest waiting. Keyset paging on (urgency rank,
    created_at, id): a page starts after (or ends before) the cursor's row, so rows filed or changed between two
    pages never make a page repeat or skip a row that was there. Urgent open requests are pinned above the
    first page, however many there are; the pages hold the rest."""
    now = time.time() if now is None else now
    where = f.where(now)
    pinned_clause = sa.and_(requests.c.status == "open", requests.c.urgency_rank == 0)
    query = sa.select(requests).where(*where, sa.not_(pinned_clause))
    if before is not None:
        query = query.where(sa.tuple_(*_KEY) < sa.tuple_(*parse_cursor(before))).order_by(*(k.desc() for k in _KEY))
    else:
        if after is not None:
            query = query.where(sa.tuple_(*_KEY) > sa.tuple_(*parse_cursor(after)))
        query = query.order_by(*_KEY)
    with engine().connect() as conn:
        rows = [_row(r) for r in conn.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    if before is not None:
        if not more:  # back at the start: the first page as it is now (with the pinned requests)
            return queue_page(f, limit=limit, now=now)
        rows.reverse()
        return QueuePage(pinned=[], rows=rows, first=False, next=_key(rows[-1]), prev=_key(rows[0]))
    pinned: list[dict[str, Any]] = []
    if after is None:
        with engine().connect() as conn:
            pinned = [_row(r) for r in conn.execute(sa.select(requests).where(*where, pinned_clause).order_by(*_KEY))]
    return QueuePage(pinned=pinned, rows=rows, first=after is None, next=_key(rows[-1]) if more else None,
                     prev=None if after is None else _key(rows[0]) if rows else after)  # past the end: back to it


def count_urgent_open() -> int:
    with engine().connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(requests).where(
            requests.c.status == "open", requests.c.urgency_rank == 0)).scalar() or 0)


def queue(status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Requests in the queue's order (most urgent first, then the longest waiting), without paging."""
    query = sa.select(requests).order_by(*_KEY).limit(limit)
    if status:
        query = query.where(requests.c.status == status)
    with engine().connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def assign(request_id: int, agent: str | None, *, only_from: tuple[str | None, ...] | None = None) -> bool:
    """Set who handles a request (None: nobody). With `only_from`, only while it is held by one of those (None:
    unassigned), in one statement, so that two agents taking the same request at once cannot both get it."""
    query = requests.update().where(requests.c.id == request_id)
    if only_from is not None:
        held = [requests.c.assigned_to == a for a in only_from if a is not None]
        if None in only_from:
            held.append(requests.c.assigned_to.is_(None))
        query = query.where(sa.or_(*held))
    with engine().begin() as conn:
        return conn.execute(query.values(assigned_to=agent, updated_at=time.time())).rowcount == 1


def update_request(request_id: int, **fields: Any) -> None:
    with engine().begin() as conn:
        conn.execute(requests.update().where(requests.c.id == request_id).values(updated_at=time.time(), **fields))


def record_deflection(session: str | None, article_id: str, query: str, locale: str | None, shown: list, opened: list) -> int:
    return _insert(deflections, session=session, article_id=article_id, query=scrub(query), locale=locale, shown=shown,
                   opened=opened)


def all_deflections() -> list[dict[str, Any]]:
    with engine().connect() as conn:
        return [_row(r) for r in conn.execute(sa.select(deflections).order_by(deflections.c.id))]


def record_feedback(request_id: int, article_id: str, verdict: str, agent: str | None) -> None:
    _insert(suggestion_feedback, request_id=request_id, article_id=article_id, verdict=verdict, agent=agent)


def feedback_for(request_id: int) -> dict[str, str]:
    query = sa.select(suggestion_feedback.c.article_id, suggestion_feedback.c.verdict).where(
        suggestion_feedback.c.request_id == request_id).order_by(suggestion_feedback.c.id)
    with engine().connect() as conn:
        return {r.article_id: r.verdict for r in conn.execute(query)}


def log_search(surface: str, query: str, locale: str | None, result_ids: list[str], top_score: float | None,
               no_answer: bool, session: str | None = None) -> int:
    limit = current_app.extensions["kb"].settings.max_query_chars
    query, now = scrub(query[:limit]), time.time()
    row = dict(surface=surface, query=query, locale=locale, result_ids=json.dumps(result_ids or []),
               top_score=top_score, no_answer=no_answer, session=session, created_at=now, day=int(now // 86400),
               gap_key=gap_key(query))
    with engine().begin() as conn:
        log_id = int(conn.execute(search_log.insert().values(**row)).inserted_primary_key[0])
        if surface != "agent" and result_ids:
            conn.execute(insert_ignore(articles_seen), [{"day": row["day"], "locale": locale or "", "article_id": a}
                                                        for a in dict.fromkeys(result_ids)])
    return log_id


def insert_ignore(table: sa.Table):
    """INSERT that leaves out the rows whose key is already there (SQLite and PostgreSQL)."""
    if engine().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def log_click(log_id: int, article_id: str) -> None:
    with engine().begin() as conn:
        conn.execute(search_log.update().where(search_log.c.id == log_id, search_log.c.clicked_id.is_(None))
                     .values(clicked_id=article_id))


def click_counts(since: float) -> dict[str, int]:
    """How often each article was opened from a search since `since` (one GROUP BY in the database)."""
    query = (sa.select(search_log.c.clicked_id, sa.func.count()).where(search_log.c.created_at >= since,
                                                                        search_log.c.clicked_id.is_not(None))
             .group_by(search_log.c.clicked_id))
    with engine().connect() as conn:
        return {article_id: int(n) for article_id, n in conn.execute(query)}


def log_outcome(session: str, outcome: str, article_id: str | None = None) -> None:
    """Mark the ticket-form log rows of one form session as deflected or filed."""
    values: dict[str, Any] = {"outcome": outcome}
    with engine().begin() as conn:
        conn.execute(search_log.update().where(search_log.c.session == session, search_log.c.surface == "ticket")
                     .values(**values))
        if article_id:
            last = conn.execute(sa.select(sa.func.max(search_log.c.id)).where(
                search_log.c.session == session, search_log.c.surface == "ticket")).scalar()
            if last is not None:
                conn.execute(search_log.update().where(search_log.c.id == last).values(clicked_id=article_id))


def undo_deflection(deflection_id: int, session: str, within_seconds: float) -> bool:
    """Take back a "this solved my problem" of the same form session, made within the last `within_seconds`:
    the deflection row goes, the session's ticket-form rows lose their outcome. False when there is none."""
    with engine().begin() as conn:
        row = conn.execute(sa.select(deflections.c.created_at).where(
            deflections.c.id == deflection_id, deflections.c.session == session)).first()
        if row is None or time.time() - row.created_at > within_seconds:
            return False
        conn.execute(deflections.delete().where(deflections.c.id == deflection_id))
        conn.execute(search_log.update().where(search_log.c.session == session, search_log.c.surface == "ticket",
                                               search_log.c.outcome == "deflected").values(outcome=None, clicked_id=None))
    return True


def record_vote(article_id: str, helpful: bool, comment: str | None, locale: str | None,
                reader: str | None = None) -> int:
    """Store a helpful vote; a reader's second vote on an article replaces the first (None: no reader known)."""
    values = dict(article_id=article_id, helpful=helpful, comment=scrub(comment), locale=locale, reader=reader,
                  created_at=time.time())
    for attempt in (1, 2):  # a second try when the same reader's other vote landed between delete and insert
        try:
            with engine().begin() as conn:
                if reader is not None:
                    conn.execute(article_votes.delete().where(article_votes.c.article_id == article_id,
                                                              article_votes.c.reader == reader))
                return int(conn.execute(article_votes.insert().values(**values)).inserted_primary_key[0])
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def purge_older_than(days: float) -> int:
    """Delete search-log rows and votes older than `days` (the retention setting); returns rows deleted."""
    if math.isnan(days) or days < 0:  # a negative retention would delete every row, NaN none (inf: keep all)
        raise ValueError(f"log retention must be a number of days, at least 0; got {days!r}")
    cutoff = time.time() - days * 86400
    with engine().begin() as conn:
        n = conn.execute(search_log.delete().where(search_log.c.created_at < cutoff)).rowcount
        n += conn.execute(article_votes.delete().where(article_votes.c.created_at < cutoff)).rowcount
        if math.isfinite(cutoff):  # the days of no row left (not counted: a summary of the rows)
            conn.execute(articles_seen.delete().where(articles_seen.c.day < math.floor(cutoff / 86400)))
    return n


# Agent sessions, kept on the server: the cookie holds only a random id, so that logout, an expired session, a
# changed token or password, or a removed user ends the session everywhere (and on every replica).
agent_sessions = sa.Table(
    "agent_sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the cookie's session id, never the id itself
    sa.Column("agent", sa.String(64), nullable=False, index=True),
    sa.Column("credential", sa.String(64), nullable=False),  # fingerprint of the credential it was opened with
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)


def open_session(session_hash: str, agent: str, credential: str, hours: float) -> None:
    now = time.time()
    with engine().begin() as conn:
        conn.execute(agent_sessions.delete().where(agent_sessions.c.expires_at < now))  # expired ones, in passing
        conn.execute(agent_sessions.insert().values(id=session_hash, agent=agent, credential=credential,
                                                    created_at=now, last_seen=now, expires_at=now + hours * 3600))


def get_session(session_hash: str) -> dict[str, Any] | None:
    with engine().connect() as conn:
        return _row(conn.execute(sa.select(agent_sessions).where(agent_sessions.c.id == session_hash)).first())


def touch_session(session_hash: str, now: float) -> None:
    with engine().begin() as conn:
        conn.execute(agent_sessions.update().where(agent_sessions.c.id == session_hash).values(last_seen=now))


def close_session(session_hash: str) -> None:
    with engine().begin() as conn:
        conn.execute(agent_sessions.delete().where(agent_sessions.c.id == session_hash))


# The requester's thread and mail (webapp.mail, webapp.followup). The request itself is the thread's first message
# (requests.description); `messages` holds what came after it: the agent's replies and the requester's follow-ups.
messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("author", sa.String(16), nullable=False),
    sa.Column("agent", sa.String(64)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("message_id", sa.String(255)),  # the Message-ID of the mail that carried it (an agent's reply)
    sa.CheckConstraint("author IN ('requester', 'agent')", name="message_author"),
)

# Mail to requesters, sent by the background sender (webapp.mail.Sender); `off` = written while SMTP was not
# configured, kept for agents to read. last_error holds an error class and SMTP code, never an address.
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("locale", sa.String(16)),
    sa.Column("message_id", sa.String(255), nullable=False),
    sa.Column("in_reply_to", sa.String(255)),
    sa.Column("refs", sa.Text),  # the References header: earlier Message-IDs of the thread, oldest first
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("sent_at", sa.Float),
    sa.Column("last_error", sa.String(200)),
    sa.CheckConstraint("kind IN ('ack', 'reply')", name="outbox_kind"),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'off')", name="outbox_status"),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

MAIL_STATUSES = ("pending", "sent", "failed", "off")


def add_message(request_id: int, author: str, body: str, agent: str | None = None,
                message_id: str | None = None) -> int:
    return _insert(messages, request_id=request_id, author=author, body=body, agent=agent, message_id=message_id)


def messages_for(request_id: int) -> list[dict[str, Any]]:
    query = sa.select(messages).where(messages.c.request_id == request_id).order_by(messages.c.id)
    with engine().connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def queue_mail(**fields: Any) -> int:
    return _insert(outbox, **fields)


def mails(request_id: int | None = None, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Outbox rows, newest first: one request's, or every request's (optionally of one status)."""
    query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if request_id is not None:
        query = query.where(outbox.c.request_id == request_id)
    if status:
        query = query.where(outbox.c.status == status)
    with engine().connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def mail_counts() -> dict[str, int]:
    query = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
    with engine().connect() as conn:
        return {status: int(n) for status, n in conn.execute(query)}


def get_mail(mail_id: int) -> dict[str, Any] | None:
    if not 0 < mail_id <= MAX_ID:
        return None
    with engine().connect() as conn:
        return _row(conn.execute(sa.select(outbox).where(outbox.c.id == mail_id)).first())


def due_mails(now: float, limit: int = 20) -> list[dict[str, Any]]:
    query = (sa.select(outbox).where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
             .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit))
    with engine().connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def claim_mail(mail_id: int, seen_next_attempt_at: float, lease_until: float) -> bool:
    """Take a due mail for one sender (of any process): true for exactly one of the senders that saw it due."""
    with engine().begin() as conn:
        return conn.execute(outbox.update().where(
            outbox.c.id == mail_id, outbox.c.status == "pending", outbox.c.next_attempt_at == seen_next_attempt_at,
        ).values(next_attempt_at=lease_until)).rowcount == 1


def update_mail(mail_id: int, **fields: Any) -> None:
    with engine().begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id == mail_id).values(**fields))
