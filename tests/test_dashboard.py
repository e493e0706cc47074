"""The writers' dashboard at scale and in detail (issue 16, item 7): gaps that keep identifiers apart, titles beside
ids, readers' comments, a bad filter shown inline, CSV files safe for spreadsheets, the benchmark, a phone."""
import csv
import datetime as dt
import io
import time
from markupsafe import escape

import numpy as np
import pytest
import sqlalchemy as sa

from conftest import AGENT_TOKEN, FIXTURE_KB
from webapp import db
from webapp.analytics import Filters, dashboard
from webapp.gaps import gap_key, merge, signature
from webapp.state import searcher

ADDR_A = "0x" + "a1" * 20
ADDR_B = "0x" + "b2" * 20
TRON_A = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"
TXID = "c0ffee" * 10 + "beef"


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def this_week() -> Filters:
    return Filters(today() - dt.timedelta(days=6), today())


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.data.startswith("\ufeff".encode())  # the BOM, for Excel
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def logged_in(app):
    client = app.test_client()
    assert client.post("/agent/login", data={"name": "w", "secret": AGENT_TOKEN}).status_code == 302
    return client


def test_gap_keys_fold_wording_but_keep_every_identifier(embedder):
    assert gap_key("充值 没到账！") == gap_key("充值没到账") and gap_key("USDT  Deposit?") == gap_key("usdt deposit")
    assert gap_key(f"sent to {ADDR_A.upper().replace('0X', '0x')}") == gap_key(f"Sent to {ADDR_A}")  # hex: no case
    assert gap_key(f"sent to {TRON_A}") != gap_key(f"sent to {TRON_A.lower()}")  # base58: case is the address
    texts = [f"USDT sent to {ADDR_A} not arrived", f"USDT sent to {ADDR_B} not arrived",
             "withdrawal error -1021", "withdrawal error -1022", f"txid {TXID} not credited",
             f"txid {TXID[:-4]}0000 not credited", "USDT deposit not arrived", "usdt deposit has not arrived yet"]
    vectors = embedder.encode_queries(texts)
    # the model finds each pair alike: only the identifiers keep the first three pairs apart
    assert all(float(vectors[i] @ vectors[i + 1]) >= 0.9 for i in (0, 2, 4, 6))
    assert signature(texts[0]) != signature(texts[1]) and "code:1021" in signature(texts[2])
    groups = merge([gap_key(t) for t in texts], texts, embedder.encode_queries)
    assert sorted(groups) == [[0], [1], [2], [3], [4], [5], [6, 7]]


def seed(now: float):
    """No-answer searches (two addresses, a formula-like query, Chinese), votes with comments, wrong marks."""
    for q in [f"USDT sent to {ADDR_A} not arrived", f"usdt sent to {ADDR_A} not arrived!",
              f"USDT sent to {ADDR_B} not arrived", "=HYPERLINK(\"http://evil\",\"x\")", "+1 555 cmd", "-2+3",
              "@SUM(A1)", "\tdeposit", "充值没到账怎么办", "充值 没到账怎么办！"]:
        db.log_search("search", q, "en", [], 0.1, True)
    db.log_search("search", "withdrawal pending", "en", ["withdrawal-pending-review-en"], 0.9, False)
    rid = db.create_request(subject="x", description="y", email="u@example.com", locale="en", category="deposits",
                            urgency="normal")
    db.record_feedback(rid, "deposit-not-credited-en", "wrong", "alice")
    db.record_feedback(rid, "sop-freeze-account-en", "wrong", "alice")
    for i in range(23):
        db.record_vote("lost-2fa-en", i % 2 == 0, f"comment {i:02d}", "en")
    db.record_vote("deposit-not-credited-en", False, None, "en")  # no comment: not listed
    with db.engine().begin() as conn:  # as an older version stored it: not scrubbed
        conn.execute(db.article_votes.insert().values(created_at=now + 1, article_id="deposit-not-credited-en",
                                                      helpful=False, comment="mail me at jane@example.com"))


def test_dashboard_keeps_addresses_apart_and_shows_titles_and_comments(store_app):
    now = time.time()
    with store_app.app_context():
        seed(now)
        f = dashboard(this_week(), {}, titles={"deposit-not-credited-en": "Deposit not credited",
                                               "sop-freeze-account-en": "Freeze an account",
                                               "lost-2fa-en": "Lost 2FA"}, comments_per_page=20)
        page2 = dashboard(this_week(), {}, comments_page=2, comments_per_page=20)
    gaps = {g["query"]: g for g in f["content_gaps"]}
    assert gaps[f"USDT sent to {ADDR_A} not arrived"]["count"] == 2  # the same address, typed two ways
    assert gaps[f"USDT sent to {ADDR_B} not arrived"]["count"] == 1  # another address: another gap
    assert gaps["充值没到账怎么办"]["count"] == 2
    assert {(r["article_id"], r["title"], r["count"]) for r in f["marked_wrong"]} == {
        ("deposit-not-credited-en", "Deposit not credited", 1), ("sop-freeze-account-en", "Freeze an account", 1)}
    assert f["comments_total"] == 24 and len(f["comments"]) == 20 and len(page2["comments"]) == 4
    newest = f["comments"][0]
    assert newest == {"article_id": "deposit-not-credited-en", "helpful": False, "comment": "mail me at [email]",
                      "date": today().isoformat(), "title": "Deposit not credited"}
    assert [c["comment"] for c in f["comments"][1:3]] == ["comment 22", "comment 21"]  # newest first
    assert page2["comments"][-1]["comment"] == "comment 00"


def test_the_dashboard_page_shows_titles_comments_and_paging(store_app):
    with store_app.app_context():
        seed(time.time())
    client = logged_in(store_app)
    html = client.get("/writers/").get_data(as_text=True)
    assert 'id="comments"' in html and "mail me at [email]" in html and "jane@example.com" not in html
    assert "Readers' comments (24)" in html and "page 1 of 2" in html and "comments=2" in html
    with store_app.app_context():
        titles = {a.id: a.title for a in searcher().snapshot.articles.values()}
    marked = html.split('id="marked-wrong"', 1)[1].split("</section>", 1)[0]
    assert escape(titles["deposit-not-credited-en"]) in marked and escape(titles["sop-freeze-account-en"]) in marked
    older = client.get("/writers/?comments=2").get_data(as_text=True)
    assert "comment 00" in older and "page 2 of 2" in older and "comment 22" not in older


def test_csv_files_have_a_bom_titles_and_no_formulas(store_app):
    with store_app.app_context():
        seed(time.time())
    client = logged_in(store_app)
    gaps = read_csv(client.get("/writers/export.csv?kind=gaps"))
    cells = {c for row in gaps[1:] for c in row}
    for dangerous in ("=HYPERLINK", "+1 555", "-2+3", "@SUM", "\tdeposit"):
        assert not any(c.startswith(dangerous) for c in cells), dangerous
        assert any(c.startswith("'" + dangerous) for c in cells), dangerous
    assert "充值没到账怎么办" in cells  # UTF-8 after the BOM: Excel shows it as written
    articles = read_csv(client.get("/writers/export.csv?kind=articles"))
    assert articles[0] == ["article_id", "title", "helpful_yes", "helpful_no", "marked_wrong", "never_found"]
    with store_app.app_context():
        titles = {a.id: a.title for a in searcher().snapshot.articles.values()}
    rows = {r[0]: r for r in articles[1:]}
    assert rows["sop-freeze-account-en"][1:5] == [titles["sop-freeze-account-en"], "0", "0", "1"]
    assert rows["lost-2fa-en"][1:4] == [titles["lost-2fa-en"], "12", "11"]
    days = read_csv(client.get("/writers/export.csv?kind=days"))
    assert days[-1] == [today().isoformat(), "11", "10", "0"]


@pytest.mark.parametrize("query, parameter", [
    ("from=2026-13-01", "from: must be a date"), ("from=2026-11-20&to=2026-11-01", "to: must not be before"),
    ("from=1969-12-31", "from: must be from 1970-01-01"), ("from=2024-01-01&to=2026-01-01", "at most a year"),
    ("to=9999-12-31", "to: must be from"), ("locale=xx", "locale: unknown locale"),
    ("comments=0", "comments: must be from 1"),
])
def test_a_bad_filter_is_a_message_on_the_dashboard_of_the_default_range(app, query, parameter):
    client = logged_in(app)
    r = client.get(f"/writers/?{query}")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="filter-error"' in html and parameter in html
    assert 'id="kpi-searches"' in html and "<svg" in html  # the dashboard itself, not an error page
    if "locale" not in query and "comments" not in query:
        start = today() - dt.timedelta(days=13)
        assert f'name="from" value="{start}"' in html and f'name="to" value="{today()}"' in html
    csv_r = client.get(f"/writers/export.csv?kind=days&{query}")
    if "comments" not in query:  # a file has no page to show a message on: a 400 naming the parameter
        assert csv_r.status_code == 400 and parameter.split(":")[0] in csv_r.get_data(as_text=True)


def test_vote_comments_are_shown_to_writers_only(app):
    public = app.test_client()
    page = public.get("/articles/lost-2fa-en").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    note = "the QR code step is missing, call +44 20 7946 0958"
    assert public.post("/articles/lost-2fa-en/vote", data={"helpful": "no", "comment": note,
                                                           "csrf_token": token}).status_code == 302
    for path in ["/articles/lost-2fa-en", "/api/articles/lost-2fa-en", "/search?q=lost+2fa+phone",
                 "/api/search?q=lost+2fa+phone", "/"]:
        assert "QR code step" not in public.get(path).get_data(as_text=True), path
    assert public.get("/writers/").status_code == 302  # the dashboard asks for the agent login
    html = logged_in(app).get("/writers/").get_data(as_text=True)
    assert "the QR code step is missing, call [phone]" in html and "7946" not in html


def test_the_benchmark_seeds_renders_and_checks_on_both_databases(shared_index, postgres, capsys):
    from webapp.commands import bench_dashboard

    assert bench_dashboard.main(["--rows", "400", "--db", "both", "--database-url", postgres.url, "--repeat", "1",
                                 "--articles", str(FIXTURE_KB), "--index", shared_index.index_dir]) == 0
    out = capsys.readouterr().out
    for database in ("sqlite", "postgresql"):
        assert f"{database}: 400 log rows" in out
    assert out.count("dashboard     median") == 2 and out.count("csv articles  median") == 2
    engine = sa.create_engine(postgres.url)
    try:  # the benchmark leaves the database it was given empty
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_the_dashboard_fits_a_phone_with_a_pasted_hash(app, tmp_path):
    from browser import OUTPUT, LiveServer, wait_for, webdriver_session
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with app.app_context():
        db.log_search("search", f"TXID {TXID}{TXID} not arrived", "en", [], 0.1, True)
        db.log_search("search", "x" * 300, "en", [], 0.1, True)
    driver = webdriver_session()
    try:
        with LiveServer(app) as live:
            driver.set_window_size(390, 900)
            driver.get(f"{live.url}/agent/login")
            driver.find_element(By.ID, "name").send_keys("w")
            driver.find_element(By.ID, "secret").send_keys(AGENT_TOKEN)
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            # the click returns before the login's answer has set the session: wait for the page it opens
            WebDriverWait(driver, 15).until(lambda d: "/agent/login" not in d.current_url)
            driver.get(f"{live.url}/writers/")
            wait_for(driver, "#content-gaps")
            sizes = driver.execute_script("""
                const box = document.querySelector('#content-gaps').getBoundingClientRect();
                return {scroll: document.documentElement.scrollWidth, width: window.innerWidth, right: box.right};""")
            (OUTPUT / "screens").mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(OUTPUT / "screens" / "dashboard-gaps-390.png"))
    finally:
        driver.quit()
    assert sizes["scroll"] <= sizes["width"] and sizes["right"] <= sizes["width"], sizes
    assert np.isfinite(sizes["right"])


def test_the_retention_purge_also_forgets_which_articles_old_searches_showed(app):
    today_n = int(time.time() // 86400)
    with app.app_context():
        db.log_search("search", "withdrawal pending", "en", ["withdrawal-pending-review-en"], 0.9, False)
        with db.engine().begin() as conn:
            conn.execute(db.articles_seen.insert().values(day=today_n - 200, locale="en", article_id="lost-2fa-en"))
        db.purge_older_than(90)
        with db.engine().connect() as conn:
            kept = set(conn.execute(sa.select(db.articles_seen.c.day, db.articles_seen.c.article_id)).all())
    assert (today_n, "withdrawal-pending-review-en") in kept and min(d for d, _ in kept) >= today_n - 91


def test_gaps_searched_by_this_process_are_grouped_without_encoding_again(store_app):
    """The dashboard encodes a gap's wording as the search did, so the app's query-vector cache already has it."""
    client = store_app.test_client()
    long = "which flour and which oven temperature make the best sourdough bread crust " * 4  # past the encoder's head
    for q in ["how do I bake sourdough bread", "How do I bake sourdough bread?", "best pizza dough recipe",
              "recipe for pizza dough", long]:
        client.get("/search", query_string={"q": q})
    cache = store_app.extensions["kb"].live.embedder
    before = cache.misses
    html = logged_in(store_app).get("/writers/").get_data(as_text=True)
    assert "how do I bake sourdough bread" in html and long.strip()[:60] in html and cache.misses == before
