"""The agent view: login, queue order, internal suggestions, feedback, replies, agent search."""
from conftest import AGENT_TOKEN


def login(client, token=AGENT_TOKEN):
    return client.post("/agent/login", data={"name": "alice", "secret": token})


def new_request(client, subject, description="", email="u@example.com"):
    r = client.post("/support/new", data={"subject": subject, "description": description, "email": email})
    assert r.status_code == 302, r.get_data(as_text=True)
    return int(r.headers["Location"].rsplit("/", 1)[1])


def test_agent_pages_need_login(app):
    client = app.test_client()
    for path in ("/agent/", "/agent/requests/1"):
        r = client.get(path)
        assert r.status_code == 302 and "/agent/login" in r.headers["Location"]
    assert client.get("/api/agent/search?q=freeze").status_code == 401
    assert login(client, "wrong").status_code == 401
    assert client.get("/agent/").status_code == 302
    assert login(client).status_code == 302 and client.get("/agent/").status_code == 200
    bearer = app.test_client().get("/api/agent/search?q=freeze", headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
    assert bearer.status_code == 200


def test_queue_puts_urgent_first(app):
    client = app.test_client()
    normal = new_request(client, "how do fees work", "question about trading fees")
    urgent = new_request(client, "my account was hacked", "someone withdrew my BTC")
    login(client)
    html = client.get("/agent/").get_data(as_text=True)
    assert html.index(f"#{urgent}<") < html.index(f"#{normal}<")


def test_request_detail_shows_internal_sop_and_records_feedback(app):
    client = app.test_client()
    rid = new_request(client, "my account was hacked", "please freeze my account now")
    login(client)
    html = client.get(f"/agent/requests/{rid}").get_data(as_text=True)
    assert "sop-freeze-account-en" in html and "internal" in html and "Insert passage" in html
    assert 'class="passage" hidden readonly>Agents freeze an account at once' in html  # the passage to insert
    r = client.post(f"/agent/requests/{rid}/feedback", json={"article_id": "sop-freeze-account-en", "verdict": "used"})
    assert r.get_json() == {"ok": True}
    assert client.post(f"/agent/requests/{rid}/feedback", json={"article_id": "x", "verdict": "used"}).status_code == 400
    assert client.post(f"/agent/requests/{rid}/feedback", json={"article_id": "lost-2fa-en", "verdict": "meh"}).status_code == 400
    r = client.post(f"/agent/requests/{rid}/reply", data={"reply": "We froze your account.", "status": "answered"})
    assert r.status_code == 302
    with app.app_context():
        from webapp import db

        assert db.get_request(rid)["status"] == "answered" and db.feedback_for(rid) == {"sop-freeze-account-en": "used"}
    assert client.get("/agent/requests/999999").status_code == 404
    assert "Internal article" in client.get("/articles/sop-freeze-account-en").get_data(as_text=True)
    assert app.test_client().get("/articles/sop-freeze-account-en").status_code == 404


def test_agent_search_includes_internal_articles(app):
    client = app.test_client()
    login(client)
    body = client.get("/api/agent/search", query_string={"q": "how to freeze in Harbor Admin"}).get_json()
    assert body["results"][0]["id"] == "sop-freeze-account-en" and body["results"][0]["audience"] == "internal"
    assert body["results"][0]["section"] == "Freeze in Harbor Admin"
    assert "Actions > Freeze account" in body["results"][0]["passage"]
    assert client.get("/api/agent/search").status_code == 400
    with app.app_context():  # logged for writers, as an agent search (not counted as a user's search)
        from webapp import db

        with db.engine().connect() as conn:
            row = conn.execute(db.search_log.select().order_by(db.search_log.c.id.desc()).limit(1)).mappings().one()
    assert row["surface"] == "agent" and row["query"] == "how to freeze in Harbor Admin"


def test_login_redirect_stays_local(app):
    client = app.test_client()
    r = client.post("/agent/login?next=https://evil.example/", data={"name": "a", "secret": AGENT_TOKEN})
    assert r.headers["Location"].endswith("/agent/")


def test_an_urgent_request_puts_the_matching_sop_first(app):
    client = app.test_client()
    rid = new_request(client, "a support agent on telegram told me to move my coins to a safe wallet", "is this real?")
    login(client)
    html = client.get(f"/agent/requests/{rid}").get_data(as_text=True)
    first = html.index('data-article="')
    assert html[first:].startswith('data-article="sop-freeze-account-en"')


TXID = "0x" + "ab12" * 16


def test_insert_holds_only_customer_text_with_the_requests_values(app):
    client = app.test_client()
    rid = new_request(client, "my account was hacked and 0.5 BTC withdrawn", f"freeze it now, the withdrawal was {TXID}")
    login(client)
    html = client.get(f"/agent/requests/{rid}").get_data(as_text=True)
    start = html.index('data-article="sop-freeze-account-en"')
    card = html[start:html.index("</li>", start)]
    passage = card[card.index('class="passage"'):card.index("</textarea>", card.index('class="passage"'))]
    assert "before you reply if funds left" not in passage  # internal notes are never inserted...
    if "We froze your account" in passage:  # (the template section, when it is the best match)
        assert f"request #{rid}" in passage and TXID in passage and "0.5 BTC" in passage and "alice" in passage


def test_a_template_section_fills_placeholders_and_keeps_its_internal_note_apart(app):
    from kb.reply import fill, request_values

    with app.app_context():
        snap = app.extensions["kb"].live.searcher.snapshot
    chunk = next(c for c in snap.chunks if c.article_id == "sop-freeze-account-en" and c.heading == "Reply to the user")
    assert "SEC-ONCALL" in chunk.internal and "SEC-ONCALL" not in chunk.reply
    values = request_values({"id": 7, "subject": "hacked", "description": f"0.5 BTC left, tx {TXID}"}, "alice")
    text, left = fill(chunk.reply, values)
    assert left == [] and "request #7" in text and f"0.5 BTC ({TXID})" in text and text.endswith("alice, Coinharbor Support")
    assert fill(chunk.reply, {})[1] == ["request", "amount", "coin", "TXID", "name"]


def test_a_reply_with_placeholders_left_is_refused_until_confirmed(app):
    client = app.test_client()
    rid = new_request(client, "deposit missing", "my USDT deposit is not there")
    login(client)
    r = client.post(f"/agent/requests/{rid}/reply", data={"reply": "Hi, your UID {UID} is checked.", "status": "answered"})
    assert r.status_code == 400 and "{UID}" in r.get_data(as_text=True)
    r = client.post(f"/agent/requests/{rid}/reply", json={"reply": "Hi, your UID {UID} is checked.", "confirm_placeholders": True})
    assert r.status_code == 200 and r.get_json() == {"ok": True, "status": "answered",
                                                      "message": f"Reply saved. Request #{rid} is now answered."}


def test_agent_actions_by_fetch_need_the_pages_token_and_say_what_happened(app):
    client = app.test_client()
    rid = new_request(client, "fees question", "how much is the fee")
    login(client)
    client.send_csrf = False  # another site's script has the cookie but not the page's token
    assert client.post(f"/agent/requests/{rid}/status", json={"status": "closed"}).status_code == 400
    client.send_csrf = True
    r = client.post(f"/agent/requests/{rid}/status", json={"status": "closed"})
    assert r.get_json() == {"ok": True, "status": "closed"}
    assert client.post(f"/agent/requests/{rid}/status", json={"status": "gone"}).get_json()["parameter"] == "status"
    sent = client.post(f"/agent/requests/{rid}/reply", data={"reply": "The fee is shown before you confirm."})
    assert sent.status_code == 302  # without a script: the form, then the page says what happened
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert f"Reply saved. Request #{rid} is now answered." in page
    with app.app_context():
        from webapp import db

        assert db.get_request(rid)["status"] == "answered"
