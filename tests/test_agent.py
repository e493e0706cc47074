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
