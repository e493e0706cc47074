"""Search never depends on the store (issue 14, item 7): with SQLite refusing writes (read-only, disk full) or
PostgreSQL stopped, searches, suggestions and votes are answered; a request that cannot be filed gets a 503
with the user's text kept in the form; /healthz says the store is degraded, and ok again once writes work."""
import logging
import sqlite3

import pytest
import sqlalchemy as sa

from conftest import AGENT_TOKEN
from pg import PostgresServer
from webapp import create_app

BEARER = {"Authorization": f"Bearer {AGENT_TOKEN}"}
TICKET = {"subject": "USDT deposit missing", "description": "Sent 500 USDT on TRC20 at 10:00, not credited yet.",
          "email": "jane.doe@example.com"}


def make_app(shared_index, embedder, tmp_path, url):
    return create_app({"TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
                       "KB_DATABASE_URL": url, "KB_AGENT_TOKEN": AGENT_TOKEN, "SECRET_KEY": "t",
                       "KB_DB_PATH": str(tmp_path / "unused.sqlite3")}, embedder=embedder)


@pytest.fixture
def sqlite_app(shared_index, embedder, tmp_path):
    app = make_app(shared_index, embedder, tmp_path, f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    yield app
    app.extensions["kb"].db.dispose()


def refuse_writes(engine, how: str):
    """`engine` refuses every write from now on: `readonly` as SQLite does for a read-only database (its own
    SQLITE_READONLY), `full` as it does on a full disk (the driver's SQLITE_FULL error, raised in its place)."""
    if how == "readonly":
        def refuse(conn, _record):
            conn.execute("PRAGMA query_only = ON")
        event = "connect"
    else:
        def refuse(conn, cursor, statement, *_):
            if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
                error = sqlite3.OperationalError("database or disk is full")
                error.sqlite_errorname = "SQLITE_FULL"
                raise error
        event = "before_cursor_execute"
    sa.event.listen(engine, event, refuse)
    engine.dispose()  # connections made from now on refuse
    return lambda: (sa.event.remove(engine, event, refuse), engine.dispose())


def assert_serves_without_the_store(client):
    """What must work while the store refuses: every answer, no 500."""
    r = client.get("/api/search", query_string={"q": "deposit not arrived"})
    assert r.status_code == 200 and r.get_json()["results"], r.get_data(as_text=True)[:300]
    page = client.get("/search", query_string={"q": "withdrawal pending"})
    # no log row to count the click with: the links carry an empty click id, which the article page ignores
    assert page.status_code == 200 and "sl=None" not in page.get_data(as_text=True)
    assert client.get("/articles/lost-2fa-en?sl=1").status_code == 200
    r = client.post("/api/suggest", json={"subject": "deposit not arrived", "session": "form-1"})
    assert r.status_code == 200 and r.get_json()["suggestions"]
    r = client.post("/articles/lost-2fa-en/vote", data={"helpful": "yes"})
    assert r.status_code == 302 and "voted=yes" in r.headers["Location"]
    assert client.get("/api/agent/search", query_string={"q": "freeze"}, headers=BEARER).status_code == 200


def assert_ticket_kept_in_a_503(client):
    r = client.post("/support/new", data=TICKET)
    html = r.get_data(as_text=True)
    assert r.status_code == 503 and 'id="store-down"' in html and "Nothing was lost" in html
    assert f'value="{TICKET["subject"]}"' in html and f'>{TICKET["description"]}</textarea>' in html
    assert f'value="{TICKET["email"]}"' in html


@pytest.mark.parametrize("how", ["readonly", "full"])
def test_sqlite_refusing_writes_never_fails_a_search(sqlite_app, how, caplog):
    client = sqlite_app.test_client()
    assert client.get("/healthz").get_json()["store"]["ok"] is True
    allow_writes = refuse_writes(sqlite_app.extensions["kb"].db, how)
    with caplog.at_level(logging.WARNING, logger="webapp.storehealth"):
        assert_serves_without_the_store(client)
        assert_ticket_kept_in_a_503(client)
        r = client.post("/api/deflections", json={"article_id": "deposit-not-credited-en", "query": "deposit"})
        assert r.status_code == 503 and r.get_json()["status"] == 503  # said, not pretended
    health = client.get("/healthz", headers=BEARER).get_json()  # the details are for agents
    assert health["ok"] is False and health["status"] == "degraded" and health["index_loaded"] is True
    store = health["store"]
    # 2 searches + 1 click + 1 suggestion + 1 vote + 1 agent search + 1 ticket, each failed once
    assert store["ok"] is False and store["reachable"] is True and store["failed_writes"] == 7
    code = {"readonly": "SQLITE_READONLY", "full": "SQLITE_FULL"}[how]
    assert store["last_error"] == f"OperationalError {code}" and store["failed_requests"] == 1  # the deflection
    # logged with the error's class and code only: never the query, the ticket's text or its e-mail address
    logged = caplog.text
    assert f"search log failed (OperationalError {code}); 1 failed writes since start" in logged
    assert "deposit not arrived" not in logged and "jane.doe" not in logged and "500 USDT" not in logged
    # writes work again: the next one puts the store back to ok, and the kept form files the request
    allow_writes()
    assert client.post("/support/new", data=TICKET).status_code == 302
    assert client.get("/healthz").get_json()["store"]["ok"] is True


def test_postgresql_stopped_never_fails_a_search(shared_index, embedder, tmp_path):
    server = PostgresServer()  # this test's own server: it is stopped halfway
    try:
        app = make_app(shared_index, embedder, tmp_path, server.url)
        client = app.test_client()
        assert client.get("/healthz", headers=BEARER).get_json()["store"] == {
            "ok": True, "reachable": True, "failed_writes": 0, "failed_requests": 0, "last_error": None,
            "last_failure_at": None}
        server.stop()
        assert_serves_without_the_store(client)
        assert_ticket_kept_in_a_503(client)
        # a page that reads the store says it is unavailable (503), not a 500
        r = client.get("/agent/", headers=BEARER)
        assert r.status_code == 503 and "The store is unavailable" in r.get_data(as_text=True)
        health = client.get("/healthz", headers=BEARER)
        assert health.status_code == 200  # the index serves: the process is up, its store is not
        store = health.get_json()["store"]
        assert store["ok"] is False and store["reachable"] is False and store["failed_writes"] == 7
        assert store["last_error"].startswith("OperationalError")
        app.extensions["kb"].db.dispose()
    finally:
        server.stop()

