"""The request form, /api/suggest, deflections and triage."""
import pytest

from kb.errors import KBError
from kb.triage import UrgentRules


def suggest(client, **body):
    return client.post("/api/suggest", json=body)


def test_suggest_returns_articles_and_triage(client):
    r = suggest(client, subject="我的USDT充值两小时还没到账", description="", locale=None)
    body = r.get_json()
    assert r.status_code == 200 and body["ok"] and not body["urgent"] and not body["no_answer"]
    assert body["suggestions"][0]["id"] == "deposit-not-credited-zh" and len(body["suggestions"]) <= 5
    assert body["suggestions"][0]["url"].startswith("/articles/deposit-not-credited-zh")
    assert body["triage"]["category"] == "deposits" and body["triage"]["urgency"] == "high"


def test_urgent_topics_get_the_emergency_path_not_deflection(client):
    body = suggest(client, subject="my account was hacked and someone withdrew my BTC").get_json()
    assert body["urgent"] and body["triage"]["urgency"] == "urgent"
    assert {"account_compromised", "unauthorised_withdrawal"} <= set(body["triage"]["urgent_topics"])
    assert "Freeze your account" in body["emergency"]["steps"][0]
    zh = suggest(client, subject="我的账户被盗了", description="资产被转走了").get_json()
    assert zh["urgent"] and "冻结账户" in zh["emergency"]["steps"][0]


def test_threshold_hides_weak_suggestions(app, client, monkeypatch):
    assert suggest(client, subject="how do I bake sourdough bread at home").get_json()["no_answer"]
    state = app.extensions["kb"]
    monkeypatch.setattr(state, "settings", state.settings.replace(ticket_min_confidence=1.01))
    body = suggest(client, subject="withdrawal pending review").get_json()
    assert body["suggestions"] == [] and body["no_answer"]


@pytest.mark.parametrize("body, parameter", [
    ({}, "subject"),
    ({"subject": "", "description": "  "}, "subject"),
    ({"subject": "x" * 201}, "subject"),
    ({"subject": "deposit", "description": "x" * 5001}, "description"),
    ({"subject": 5}, "subject"),
    ({"subject": "deposit", "locale": "xx"}, "locale"),
])
def test_suggest_bad_input(client, body, parameter):
    r = suggest(client, **body)
    assert r.status_code == 400 and r.get_json()["parameter"] == parameter


def test_suggest_needs_a_json_object(client):
    r = client.post("/api/suggest", data="subject=x")
    assert r.status_code == 400 and r.get_json()["parameter"] == "body"
    assert client.post("/api/suggest", data="x" * 100_000, content_type="application/json").status_code == 413


def test_deflection_is_recorded(app, client):
    r = client.post("/api/deflections", json={"article_id": "deposit-not-credited-en", "query": "deposit missing",
                                              "shown": ["deposit-not-credited-en", "nope"], "opened": ["deposit-not-credited-en"]})
    assert r.status_code == 201
    with app.app_context():
        from webapp import db

        rows = db.all_deflections()
    last = rows[-1]
    assert last["article_id"] == "deposit-not-credited-en" and last["shown"] == ["deposit-not-credited-en"]
    assert client.post("/api/deflections", json={"article_id": "sop-freeze-account-en"}).status_code == 400


def test_submit_request_stores_triage_and_suggestions(app, client):
    page = client.get("/support/new")
    assert page.status_code == 200 and 'id="ticket-form"' in page.get_data(as_text=True)
    r = client.post("/support/new", data={
        "subject": "withdrawal pending for 2 days", "description": "My USDT withdrawal is still under review.",
        "email": "user@example.com", "category": "", "shown": '["withdrawal-pending-review-en"]', "opened": "[]",
    })
    assert r.status_code == 302
    confirmation = client.get(r.headers["Location"])
    html = confirmation.get_data(as_text=True)
    assert confirmation.status_code == 200 and "Request received" in html
    request_id = int(r.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        from webapp import db

        req = db.get_request(request_id)
    assert req["category"] == "withdrawals" and req["urgency"] == "high" and req["status"] == "open"
    assert req["shown"] == ["withdrawal-pending-review-en"] and req["email"] == "user@example.com"
    # another browser cannot read the confirmation
    assert app.test_client().get(r.headers["Location"]).status_code == 404


def test_submit_request_validation(client):
    r = client.post("/support/new", data={"subject": "", "description": "x", "email": "not-an-email"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Subject: required" in html and "not an e-mail address" in html


def test_urgent_rules_file_is_configurable(tmp_path):
    path = tmp_path / "urgent.yml"
    path.write_text("topics:\n  outage:\n    any: ['site is down']\nemergency: {}\n", encoding="utf-8")
    rules = UrgentRules.load(path)
    assert [t.key for t in rules.match("the site is down!")] == ["outage"] and not rules.match("hacked")
    path.write_text("topics: [", encoding="utf-8")
    with pytest.raises(KBError, match="urgent.yml: cannot read the urgent topics"):
        UrgentRules.load(path)


SCAMS = [
    "카톡으로 상담원이라면서 코인을 보내래요",  # fake support on KakaoTalk asks for coins
    "公式を名乗るアカウントから資産を移すように言われた",  # an account posing as official asks to move assets
    "冒充客服打电话说我的账户有风险要我把USDT转出去",  # a fake support call asks to move USDT out
    "they told me to move my coins to a safe wallet",
    "a support agent on telegram says I must verify my wallet by sending 0.1 BTC",
    "I already sent 500 USDT to a scammer",
    "騙されて送金してしまいました",  # I was deceived and sent money
    "someone logged into my account and withdrew my btc",
]
ORDINARY = ["how do I withdraw USDT", "what are the withdrawal fees", "how to contact support by phone",
            "출금 수수료가 얼마예요", "出金手数料はいくらですか", "提币手续费是多少", "can I transfer to my sub-account"]


@pytest.mark.parametrize("text", SCAMS)
def test_scams_and_takeovers_are_urgent_on_every_surface(client, text):
    suggested = suggest(client, subject=text).get_json()
    assert suggested["urgent"] and suggested["emergency"]["steps"] and suggested["triage"]["urgency"] == "urgent"
    searched = client.get("/api/search", query_string={"q": text}).get_json()
    assert searched["urgent"] and searched["emergency"]["steps"] == suggested["emergency"]["steps"]
    page = client.get("/search", query_string={"q": text}).get_data(as_text=True)
    assert 'class="emergency"' in page and page.index('class="emergency"') < page.index('<ol class="results')


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_sharing_words_are_not_urgent(client, text):
    assert not suggest(client, subject=text).get_json()["urgent"]
    body = client.get("/api/search", query_string={"q": text}).get_json()
    assert not body["urgent"] and body["emergency"] is None
    assert 'class="emergency"' not in client.get("/search", query_string={"q": text}).get_data(as_text=True)


def test_emergency_steps_are_in_the_readers_language(client):
    ko = suggest(client, subject="카톡으로 상담원이라면서 코인을 보내래요").get_json()
    assert "계정을 동결" in ko["emergency"]["steps"][0]
    ja = client.get("/api/search", query_string={"q": "公式を名乗るアカウントから資産を移すように言われた"}).get_json()
    assert "凍結" in ja["emergency"]["steps"][0]


def test_a_deflection_is_undone_only_by_its_own_form_and_only_for_a_minute(app, client, monkeypatch):
    from webapp import db, tickets

    made = client.post("/api/deflections", json={"article_id": "lost-2fa-en", "session": "form-a", "query": "lost 2fa"})
    did = made.get_json()["id"]
    assert client.post(f"/api/deflections/{did}/undo", json={"session": "form-b"}).status_code == 404  # not its form
    monkeypatch.setattr(tickets, "UNDO_SECONDS", -1)  # the minute is over
    assert client.post(f"/api/deflections/{did}/undo", json={"session": "form-a"}).status_code == 404
    monkeypatch.setattr(tickets, "UNDO_SECONDS", 60)
    assert client.post(f"/api/deflections/{did}/undo", json={"session": "form-a"}).get_json() == {"ok": True}
    with app.app_context():
        assert did not in [d["id"] for d in db.all_deflections()]
    assert client.post(f"/api/deflections/{did}/undo", json={"session": "form-a"}).status_code == 404  # once
