"""Input the stores cannot keep, and input that used to be a 500 (issue 14, items 6 and 12), replayed on SQLite
and PostgreSQL: each is a 400 (or 404) naming the field, the same on both, and the user's ticket text is kept."""
import pytest
import sqlalchemy as sa

from conftest import AGENT_TOKEN
from webapp import db

BEARER = {"Authorization": f"Bearer {AGENT_TOKEN}"}




def file_request(client, **fields):
    data = {"subject": "withdrawal pending", "description": "my USDT withdrawal is stuck", "email": "u@example.com", **fields}
    return client.post("/support/new", data=data)


def all_rows(app, table):
    with app.app_context(), db.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def assert_400_naming(response, parameter):
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["parameter"] == parameter and body["error"].startswith(f"{parameter}: "), body


def test_a_nul_byte_is_a_400_naming_the_field_on_both_databases(store_app):
    client = store_app.test_client()
    assert_400_naming(client.get("/api/search?q=deposit%00missing"), "q")
    assert client.get("/search?q=deposit%00missing").status_code == 400
    assert_400_naming(client.post("/api/suggest", json={"subject": "deposit\x00missing"}), "subject")
    assert_400_naming(client.post("/api/suggest", json={"subject": "deposit", "description": "a\x00b"}), "description")
    assert_400_naming(client.post("/api/suggest", json={"subject": "deposit", "session": "s\x00"}), "session")
    deflect = {"article_id": "deposit-not-credited-en"}
    assert_400_naming(client.post("/api/deflections", json={**deflect, "query": "deposit\x00"}), "query")
    assert_400_naming(client.post("/api/deflections", json={**deflect, "session": "\x00"}), "session")
    vote = client.post("/articles/lost-2fa-en/vote", data={"helpful": "no", "comment": "unclear\x00"})
    # a reader's page names the field in the reader's words (webapp.errors); the API above gives the detail
    assert vote.status_code == 400 and "The value of “comment” is not valid." in vote.get_data(as_text=True)
    # other control characters too (tab and line breaks are text)
    assert_400_naming(client.get("/api/search", query_string={"q": "deposit\x1b[31m"}), "q")
    assert client.post("/api/suggest", json={"subject": "deposit\tnot\r\narrived"}).status_code == 200
    assert not all_rows(store_app, db.article_votes) and not all_rows(store_app, db.deflections)


def test_a_ticket_with_a_nul_byte_is_given_back_fixed_and_then_filed(store_app):
    client = store_app.test_client()
    r = file_request(client, description="my USDT withdrawal\x00 is stuck\nsince Monday")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "contains a control character (U+0000" in html
    # the form comes back with the user's text, without the character: sending it again files the request
    assert "my USDT withdrawal is stuck\nsince Monday</textarea>" in html and "\x00" not in html
    assert not all_rows(store_app, db.requests)
    r = file_request(client, description="my USDT withdrawal is stuck\nsince Monday")
    assert r.status_code == 302
    [req] = all_rows(store_app, db.requests)
    assert req["description"] == "my USDT withdrawal is stuck\nsince Monday"
    # a forged hidden session field is cleaned, not a 500
    assert file_request(client, session="abc\x00def").status_code == 302


def test_a_lone_surrogate_in_json_is_a_400_naming_the_field(store_app):
    client = store_app.test_client()

    def post(path, raw):
        return client.post(path, data=raw, content_type="application/json")

    assert_400_naming(post("/api/suggest", '{"subject": "deposit \\ud800"}'), "subject")
    assert_400_naming(post("/api/suggest", '{"subject": "deposit", "session": "\\udfff"}'), "session")
    deflect = '{"article_id": "deposit-not-credited-en", %s}'
    assert_400_naming(post("/api/deflections", deflect % '"session": "\\ud800"'), "session")
    assert_400_naming(post("/api/deflections", deflect % '"query": "x\\ud800y"'), "query")
    assert_400_naming(post("/api/deflections", '{"article_id": "\\ud800"}'), "article_id")
    assert_400_naming(post("/api/suggest", '{"subject": "deposit", "locale": "\\ud800"}'), "locale")
    # a surrogate pair is an ordinary character
    assert post("/api/deflections", deflect % '"query": "deposit \\ud83d\\ude00"').status_code == 201
    assert [r["query"] for r in all_rows(store_app, db.deflections)] == ["deposit \U0001F600"]


def test_agent_reply_with_a_nul_byte_is_a_400(store_app):
    client = store_app.test_client()
    rid = int(file_request(client).headers["Location"].rsplit("/", 1)[1])
    r = client.post(f"/agent/requests/{rid}/reply", data={"reply": "done\x00", "status": "answered"}, headers=BEARER)
    assert r.status_code == 400 and "reply: contains a control character" in r.get_data(as_text=True)
    r = client.post(f"/agent/requests/{rid}/feedback", json={"article_id": "lost-2fa-en\x00", "verdict": "used"},
                    headers=BEARER)
    assert r.status_code == 400
    assert all_rows(store_app, db.requests)[0]["reply"] is None and not all_rows(store_app, db.suggestion_feedback)


def test_the_500s_of_item_12_are_4xx_naming_the_parameter(app):
    client = app.test_client()
    rid = int(file_request(client).headers["Location"].rsplit("/", 1)[1])

    def page_error(r, code, text):
        assert r.status_code == code and text in r.get_data(as_text=True), (r.status_code, r.get_data(as_text=True)[:400])

    for sl in ("²", "99999999999999999999999", "-1", "0", " 1", "1_0", "٣"):
        page_error(client.get("/articles/lost-2fa-en", query_string={"sl": sl}), 400, "The value of “sl” is not valid.")
    assert client.get("/articles/lost-2fa-en?sl=").status_code == 200
    for path in ("/api/suggest", "/api/deflections"):
        assert_400_naming(client.post(path, data="[" * 5000, content_type="application/json"), "body")
        assert_400_naming(client.post(path, data='{"shown": ' + "[" * 5000 + "}", content_type="application/json"), "body")
    page_error(client.get("/writers/?from=9999-12-31&to=9999-12-31", headers=BEARER), 400, "from: must be from")
    page_error(client.get("/writers/export.csv?from=2026-01-01&to=9999-12-31", headers=BEARER), 400, "to: must be from")
    page_error(client.get("/writers/?from=0001-01-01&to=0001-01-02", headers=BEARER), 400, "from: must be from")
    for n in ("99999999999999999999", "2147483648"):
        page_error(client.get(f"/agent/requests/{n}", headers=BEARER), 404, f"no request #{n}")
        page_error(client.post(f"/agent/requests/{n}/reply", data={"reply": "x"}, headers=BEARER), 404, "no request")
    feedback = f"/agent/requests/{rid}/feedback"
    for body in ({"article_id": []}, {"article_id": {}}, {"article_id": None, "verdict": "used"}):
        page_error(client.post(feedback, json=body, headers=BEARER), 400, "article_id: unknown article")
    page_error(client.post(feedback, json={"article_id": "lost-2fa-en", "verdict": []}, headers=BEARER), 400, "verdict")
    for body in ([], ["lost-2fa-en", "used"], "x", 5):
        page_error(client.post(feedback, json=body, headers=BEARER), 400, "body: send a JSON object")
    page_error(client.post(feedback, data="[" * 5000, content_type="application/json", headers=BEARER), 400,
               "body: nested too deeply")
    # a form's hidden list of articles nested 5,000 deep is dropped, never the request
    assert file_request(client, shown="[" * 5000).status_code == 302
    # what still works
    assert client.post(feedback, json={"article_id": "lost-2fa-en", "verdict": "used"}, headers=BEARER).get_json() == {"ok": True}
    assert client.get("/writers/?from=2026-01-01&to=2026-01-31", headers=BEARER).status_code == 200


def test_whole_numbers_are_ascii_digits_in_range(app):
    from webapp.params import ParamError, int_param

    assert int_param({"k": "7"}, "k", 10, 1, 50) == 7 and int_param({}, "k", 10, 1, 50) == 10
    for raw in ("²", "٣", "1_0", " 7", "7.0", "9" * 5000, ["7"]):
        with pytest.raises(ParamError, match="^400 Bad Request: k: must be a whole number"):
            int_param({"k": raw}, "k", 10, 1, 50)
