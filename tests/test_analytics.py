"""The search log and the writers' dashboard: figures on a seeded log with known answers, on SQLite and PostgreSQL."""
import csv
import datetime as dt
import io
import time

import pytest
import sqlalchemy as sa

from conftest import AGENT_TOKEN
from webapp import create_app, db
from webapp.analytics import Filters, dashboard, normalise
from webapp.analytics import day as analytics_day
from webapp.gaps import merge

DAY = 86400.0


def around(now: float, before: int = 1, after: int = 1) -> Filters:
    """The UTC days from `before` days before `now` to `after` days after it."""
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    return Filters(today - dt.timedelta(days=before), today + dt.timedelta(days=after))




def read_csv(response) -> list[list[str]]:
    """The rows of a CSV export, which starts with a UTF-8 BOM (for Excel)."""
    assert response.status_code == 200 and response.data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def seed(now: float) -> None:
    """Known log: 4 page searches (2 clicked, 2 no-answer), 2 API searches, 3 ticket sessions (1 deflected,
    1 filed, 1 abandoned), 3 votes, 2 'wrong' marks."""
    def search(surface, query, results, no_answer, t, session=None):
        return db.log_search(surface, query, "en", results, 0.2 if no_answer else 0.9, no_answer, session)

    a = search("search", "deposit not arrived", ["deposit-not-credited-en"], False, now)
    db.log_click(a, "deposit-not-credited-en")
    b = search("search", "withdrawal pending", ["withdrawal-pending-review-en"], False, now)
    db.log_click(b, "withdrawal-pending-review-en")
    search("search", "How to cook rice?", [], True, now)
    search("search", "how to cook  rice", [], True, now)
    search("api", "stock price of apple", [], True, now)
    search("api", "deposit", ["deposit-not-credited-en"], False, now)
    for s in ("s1", "s2", "s3"):
        search("ticket", "deposit", ["deposit-not-credited-en"], False, now, session=s)
    db.log_outcome("s1", "deflected", "deposit-not-credited-en")
    db.log_outcome("s2", "filed")
    db.record_vote("deposit-not-credited-en", True, None, "en")
    db.record_vote("deposit-not-credited-en", False, "too short", "en")
    db.record_vote("lost-2fa-en", True, None, "en")
    rid = db.create_request(subject="x", description="y", email="u@example.com", locale="en", category="deposits",
                            urgency="high")
    db.record_feedback(rid, "deposit-not-credited-en", "wrong", "alice")
    db.record_feedback(rid, "deposit-not-credited-en", "wrong", "bob")


def test_dashboard_figures_on_a_seeded_log(store_app):
    now = time.time()
    with store_app.app_context():
        seed(now)
        public = {"deposit-not-credited-en": "D", "withdrawal-pending-review-en": "W", "lost-2fa-en": "L"}
        f = dashboard(around(now), public)
        # the search log never holds an e-mail address
        with db.engine().connect() as conn:
            assert "u@example.com" not in str(conn.execute(sa.select(db.search_log)).all())
    t = f["totals"]
    assert t["searches"] == 6 and t["no_answer_rate"] == pytest.approx(3 / 6, abs=1e-3)
    assert t["click_through_rate"] == pytest.approx(2 / 4, abs=1e-3)
    assert (t["ticket_sessions"], t["deflected"], t["deflection_rate"]) == (3, 1, pytest.approx(1 / 3, abs=1e-3))
    assert t["requests_filed"] == 1 and t["votes"] == 3 and t["helpful_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert f["content_gaps"][0] == {"query": "How to cook rice?", "count": 2, "variants": ["How to cook rice?", "how to cook  rice"]}
    assert f["marked_wrong"] == [{"article_id": "deposit-not-credited-en", "count": 2, "title": "D"}]
    assert f["never_found"] == [{"article_id": "lost-2fa-en", "title": "L"}]
    assert sum(f["searches_per_day"]) == 6 and sum(f["ticket_sessions_per_day"]) == 3
    assert f["helpful_by_article"][0] == {"article_id": "deposit-not-credited-en", "yes": 1, "no": 1, "ratio": 0.5,
                                          "title": "D"}
    assert f["comments"] == [{"article_id": "deposit-not-credited-en", "helpful": False, "comment": "too short",
                              "date": analytics_day(now), "title": "D"}] and f["comments_total"] == 1
    # a range that excludes the log shows nothing
    with store_app.app_context():
        assert dashboard(around(now, 3, -2), {})["totals"]["searches"] == 0


def test_surfaces_write_the_log(store_app):
    client = store_app.test_client()
    page = client.get("/search", query_string={"q": "withdrawal pending"}).get_data(as_text=True)
    client.get("/api/search", query_string={"q": "how do I bake bread"})
    client.post("/api/suggest", json={"subject": "deposit not arrived", "session": "form-1"})
    client.post("/api/deflections", json={"article_id": "deposit-not-credited-en", "session": "form-1"})
    link = page.split('class="result-title" href="', 1)[1].split('"', 1)[0]
    assert "?sl=" in link
    client.get(link)
    with store_app.app_context(), db.engine().connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(db.search_log).order_by(db.search_log.c.id))]
    assert [r["surface"] for r in rows] == ["search", "api", "ticket"]
    assert rows[0]["clicked_id"] == "withdrawal-pending-review-en" and rows[0]["no_answer"] is False
    assert rows[1]["no_answer"] is True and rows[1]["result_ids"] != "[]"
    assert rows[2]["outcome"] == "deflected" and rows[2]["clicked_id"] == "deposit-not-credited-en"


def test_helpful_vote(store_app):
    client = store_app.test_client()
    r = client.post("/articles/lost-2fa-en/vote", data={"helpful": "no", "comment": "steps unclear"})
    assert r.status_code == 302 and "voted=no" in r.headers["Location"]
    assert "Thank you for your feedback" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert client.post("/articles/lost-2fa-en/vote", data={"helpful": "maybe"}).status_code == 400
    assert client.post("/articles/sop-freeze-account-en/vote", data={"helpful": "yes"}).status_code == 404


def test_dashboard_access_charts_and_csv(store_app):
    with store_app.app_context():
        seed(time.time())
    client = store_app.test_client()
    assert client.get("/writers/").status_code == 302
    assert client.get("/writers/export.csv").status_code == 302
    client.post("/agent/login", data={"name": "w", "secret": AGENT_TOKEN})
    html = client.get("/writers/").get_data(as_text=True)
    assert html.count("<svg") == 4 and 'id="kpi-searches">6<' in html and 'id="kpi-deflection">33%<' in html
    rows = read_csv(client.get("/writers/export.csv?kind=gaps"))
    assert rows[0] == ["query", "count", "variants"] and rows[1][:2] == ["How to cook rice?", "2"]
    days = read_csv(client.get("/writers/export.csv?kind=days"))
    assert sum(int(r[1]) for r in days[1:]) == 6
    assert client.get("/writers/export.csv?kind=nope").status_code == 400


def test_retention_purges_old_rows(store_app):
    with store_app.app_context():
        db.log_search("search", "old", "en", [], 0.1, True)
        with db.engine().begin() as conn:
            conn.execute(db.search_log.update().values(created_at=time.time() - 100 * DAY))
        db.log_search("search", "new", "en", [], 0.1, True)
        assert db.purge_older_than(90) == 1


def test_query_grouping_folds_near_duplicates(embedder):
    assert normalise("充值 没到账！") == normalise("充值没到账")
    texts = ["充值没到账", "USDT deposit missing", "usdt deposit missing?", "funding rate"]
    groups = merge([normalise(t) for t in texts], texts, embedder.encode_queries)
    assert sorted(map(len, groups), reverse=True) == [2, 1, 1]


def test_a_scripted_session_of_users_is_what_the_dashboard_shows(shared_index, embedder, tmp_path, capsys):
    """scripts/simulate_users.py plays users over HTTP; the dashboard's totals are exactly what they did."""
    import json

    from browser import LiveServer
    from conftest import DATA

    from webapp.commands import simulate_users

    app = create_app({"KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
                      "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN,
                      "SECRET_KEY": "t"}, embedder=embedder)
    with LiveServer(app) as live:
        assert simulate_users.main(["--base", live.url, "--queries", str(DATA / "kb" / "golden.jsonl"),
                                    "--users", "30", "--ticket-share", "0.4", "--seed", "3"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["searches"] and done["clicks"] and done["ticket_forms"] and done["deflected"] and done["filed"]
    now = time.time()
    with app.app_context():
        t = dashboard(around(now), {})["totals"]
    assert t["searches"] == done["searches"] and t["ticket_sessions"] == done["ticket_forms"]
    assert t["deflected"] == done["deflected"] and t["requests_filed"] == done["filed"]
    assert t["click_through_rate"] == round(done["clicks"] / done["searches"], 4)
    assert t["votes"] == done.get("votes_yes", 0) + done.get("votes_no", 0)
    assert t["deflection_rate"] == round(done["deflected"] / done["ticket_forms"], 4)
