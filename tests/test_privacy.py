"""Personal data (issue 14, item 10): e-mail addresses and phone numbers never reach the log, the dashboard or
its CSV, on SQLite and PostgreSQL; ticket-form log rows do not lead to the request's e-mail; the retention purge
runs while serving; a negative retention is refused; the SQLite file is the owner's only."""
import math
import os
import stat
import time

import pytest
import sqlalchemy as sa

from conftest import AGENT_TOKEN
from kb.config import Settings, SettingsError
from webapp import db
from webapp.privacy import scrub
from webapp.retention import PurgeSchedule

BEARER = {"Authorization": f"Bearer {AGENT_TOKEN}"}
DAY = 86400.0




@pytest.mark.parametrize("text, scrubbed", [
    ("my email is jane.doe+kb@example.com please", "my email is [email] please"),
    ("邮箱abc@example.com谢谢", "邮箱[email]谢谢"),
    ("电话13812345678", "电话[phone]"),
    ("call +44 20 7946 0958 now", "call [phone] now"),
    ("010-1234-5678", "[phone]"),
    ("(555) 123-4567", "[phone]"),
    ("０９０-１２３４-５６７８", "[phone]"),
    # kept: amounts, dates and times, TXIDs, error codes, short numbers
    ("deposit 0.0005 BTC", None), ("on 2026-11-20 10:30 I sent 500 USDT", None), ("error 10086", None),
    ("TXID 3a1b2c3d4e5f60718293a4b5c6d7e8f9", None), ("12345678.5 USDT", None), ("amount 1,000,000 USDT", None),
    ("txid 0x12345678901234567890abcdef", None),
])
def test_scrub_replaces_emails_and_phone_numbers(text, scrubbed):
    assert scrub(text) == (text if scrubbed is None else scrubbed)


def log_dump(app) -> str:
    """Every row of every log table, as text."""
    with app.app_context(), db.engine().connect() as conn:
        return "\n".join(str(conn.execute(sa.select(t)).all()) for t in (db.search_log, db.deflections, db.article_votes))


def test_emails_and_phone_numbers_never_reach_the_log_or_the_dashboard(store_app):
    client = store_app.test_client()
    secret = "my email is jane.doe@example.com and my phone 13812345678"
    client.get("/search", query_string={"q": secret})
    client.get("/api/search", query_string={"q": "sourdough bread recipe, write to jane.doe@example.com or 13812345678"})
    client.get("/api/agent/search", query_string={"q": secret}, headers=BEARER)
    client.post("/api/suggest", json={"subject": "deposit missing", "description": secret, "session": "form-1"})
    client.post("/api/deflections", json={"article_id": "deposit-not-credited-en", "query": secret, "session": "form-1"})
    client.post("/articles/lost-2fa-en/vote", data={"helpful": "no", "comment": "write to jane.doe@example.com"})
    r = client.post("/support/new", data={"subject": "deposit missing", "description": secret,
                                          "email": "jane.doe@example.com", "session": "form-2"})
    assert r.status_code == 302
    logged = log_dump(store_app)
    assert "jane.doe" not in logged and "13812345678" not in logged
    assert logged.count("[email]") == 6 and "[phone]" in logged  # 4 searches + deflection + vote
    # the request keeps its e-mail (it is how we answer) but no form session that would join it to the log
    with store_app.app_context():
        [req] = db.queue("open")
    assert req["email"] == "jane.doe@example.com" and req["session"] is None
    # what writers see
    client.post("/agent/login", data={"name": "w", "secret": AGENT_TOKEN})
    html = client.get("/writers/").get_data(as_text=True)
    gaps = client.get("/writers/export.csv?kind=gaps").get_data(as_text=True)
    assert "sourdough bread recipe, write to [email] or [phone]" in gaps  # a content gap, without who asked
    assert "jane.doe" not in html + gaps and "13812345678" not in html + gaps


def test_rows_logged_before_the_scrub_are_scrubbed_on_the_dashboard(store_app):
    from webapp.analytics import Filters, dashboard

    now = time.time()
    with store_app.app_context():
        with db.engine().begin() as conn:  # as an older version wrote it
            conn.execute(db.search_log.insert().values(created_at=now, surface="api", query="jane@example.com help",
                                                       result_ids="[]", no_answer=True))
        gaps = dashboard(Filters(now - DAY, now + DAY), {})["content_gaps"]
    assert [g["query"] for g in gaps] == ["[email] help"]


def test_the_purge_schedule_hands_out_each_due_time_once():
    schedule = PurgeSchedule(every=3600, now=1000.0)
    assert not schedule.claim(1000.0) and not schedule.claim(4599.9)
    assert schedule.claim(4600.0)
    assert not schedule.claim(4600.0)  # a second request at the same moment does not purge again
    assert not schedule.claim(8199.0) and schedule.claim(8200.5) and schedule.next_at == 8200.5 + 3600


def test_the_purge_runs_while_serving(store_app):
    with store_app.app_context():
        db.log_search("search", "old", "en", [], 0.1, True)
        with db.engine().begin() as conn:
            conn.execute(db.search_log.update().values(created_at=time.time() - 100 * DAY))
        db.log_search("search", "new", "en", [], 0.1, True)
    schedule = store_app.extensions["kb_purge_schedule"]
    client = store_app.test_client()
    client.get("/healthz")
    assert schedule.thread is None  # not due yet: the start's purge was the last one
    schedule.next_at = 0.0  # an hour has passed
    client.get("/healthz")
    schedule.thread.join(timeout=30)
    assert not schedule.thread.is_alive() and schedule.next_at > 0
    with store_app.app_context(), db.engine().connect() as conn:
        assert [r.query for r in conn.execute(sa.select(db.search_log.c.query))] == ["new"]


def test_a_retention_purge_on_a_full_disk_is_counted_not_raised(app):
    """The purge runs at start and while serving: on a full disk it fails (logged, counted), the app serves on."""
    from test_store_failures import refuse_writes
    from webapp import retention

    allow_writes = refuse_writes(app.extensions["kb"].db, "full")
    try:
        failed = app.extensions["kb_store_health"].failed_writes
        assert retention.purge(app) is None
        assert app.extensions["kb_store_health"].failed_writes == failed + 1
        assert app.test_client().get("/api/search", query_string={"q": "deposit"}).status_code == 200
    finally:
        allow_writes()
    assert retention.purge(app) == 0


def test_a_negative_retention_is_refused(app):
    with pytest.raises(SettingsError, match="KB_LOG_RETENTION_DAYS must be at least 0"):
        Settings.from_mapping({"log_retention_days": -1})
    with app.app_context():
        for days in (-1, math.nan):
            with pytest.raises(ValueError, match="log retention must be a number of days, at least 0"):
                db.purge_older_than(days)
        assert db.purge_older_than(math.inf) == 0  # keep everything


def test_the_sqlite_file_is_created_for_its_owner_only(tmp_path):
    path = tmp_path / "var" / "kb.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        for name in ("kb.sqlite3", "kb.sqlite3-wal", "kb.sqlite3-shm"):  # SQLite gives its files the database's mode
            assert stat.S_IMODE(os.stat(path.parent / name).st_mode) == 0o600, name
    engine.dispose()
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
