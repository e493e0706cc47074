"""The request store: embedded SQLite (KB_DB_PATH); one connection per request, schema created on start."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    email TEXT NOT NULL,
    locale TEXT,
    chosen_category TEXT,
    category TEXT,
    urgency TEXT NOT NULL,
    urgent_topics TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'open',
    shown TEXT NOT NULL DEFAULT '[]',
    opened TEXT NOT NULL DEFAULT '[]',
    session TEXT,
    reply TEXT
);
CREATE INDEX IF NOT EXISTS requests_queue ON requests (status, urgency, created_at);
CREATE TABLE IF NOT EXISTS deflections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    session TEXT,
    article_id TEXT NOT NULL,
    query TEXT,
    locale TEXT,
    shown TEXT NOT NULL DEFAULT '[]',
    opened TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS suggestion_feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    article_id TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('used', 'wrong')),
    agent TEXT
);
"""

URGENCY_ORDER = "CASE urgency WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 ELSE 2 END"
STATUSES = ("open", "answered", "closed")


def connect(path: str) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["KB_SETTINGS"].db_path)
    return g.db


def init_app(app: Flask) -> None:
    with connect(app.config["KB_SETTINGS"].db_path) as conn:
        conn.executescript(SCHEMA)

    @app.teardown_appcontext
    def close_db(exc=None):
        db = g.pop("db", None)
        if db is not None:
            db.close()


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    d = dict(row)
    for key in ("urgent_topics", "shown", "opened"):
        if key in d:
            d[key] = json.loads(d[key] or "[]")
    return d


def create_request(**fields: Any) -> int:
    now = time.time()
    for key in ("urgent_topics", "shown", "opened"):
        fields[key] = json.dumps(fields.get(key) or [])
    cols = ["created_at", "updated_at", *fields]
    db = get_db()
    cur = db.execute(f"INSERT INTO requests ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [now, now, *fields.values()])
    db.commit()
    return int(cur.lastrowid)


def get_request(request_id: int) -> dict[str, Any] | None:
    return _row(get_db().execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone())


def queue(status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Requests, most urgent first, newest first within an urgency."""
    where, args = ("WHERE status = ?", [status]) if status else ("", [])
    rows = get_db().execute(f"SELECT * FROM requests {where} ORDER BY {URGENCY_ORDER}, created_at DESC LIMIT ?", [*args, limit])
    return [_row(r) for r in rows]


def update_request(request_id: int, **fields: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    db = get_db()
    db.execute(f"UPDATE requests SET {sets}, updated_at = ? WHERE id = ?", [*fields.values(), time.time(), request_id])
    db.commit()


def record_deflection(session: str | None, article_id: str, query: str, locale: str | None, shown: list, opened: list) -> int:
    db = get_db()
    cur = db.execute(
        "INSERT INTO deflections (created_at, session, article_id, query, locale, shown, opened) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (time.time(), session, article_id, query, locale, json.dumps(shown), json.dumps(opened)),
    )
    db.commit()
    return int(cur.lastrowid)


def deflections() -> list[dict[str, Any]]:
    return [_row(r) for r in get_db().execute("SELECT * FROM deflections ORDER BY id")]


def record_feedback(request_id: int, article_id: str, verdict: str, agent: str | None) -> None:
    db = get_db()
    db.execute("INSERT INTO suggestion_feedback (created_at, request_id, article_id, verdict, agent) VALUES (?, ?, ?, ?, ?)",
               (time.time(), request_id, article_id, verdict, agent))
    db.commit()


def feedback_for(request_id: int) -> dict[str, str]:
    rows = get_db().execute("SELECT article_id, verdict FROM suggestion_feedback WHERE request_id = ? ORDER BY id", (request_id,))
    return {r["article_id"]: r["verdict"] for r in rows}
