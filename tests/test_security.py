"""Issue 14's attacks, replayed: sessions that end, no open redirect, CSRF and Origin, rate limits, user names that
cannot be told apart by time, links built from KB_PUBLIC_URL, Secure cookies and HSTS behind https."""
import os
import time

import pytest
from conftest import AGENT_TOKEN
from werkzeug.security import generate_password_hash

from kb.config import SettingsError


@pytest.fixture
def make_app(shared_index, embedder, tmp_path):
    """Apps over the shared index and one store of this test's own, so that a restart can be replayed."""
    from webapp import create_app

    made = []

    def make(**settings):
        config = {"TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
                  "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "SECRET_KEY": "test", "KB_AGENT_TOKEN": AGENT_TOKEN}
        config.update(settings)
        app = create_app(config, embedder=embedder)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["kb"].db.dispose()


def login(client, secret=AGENT_TOKEN, name="alice", next_=None):
    path = "/agent/login" + (f"?next={next_}" if next_ else "")
    return client.post(path, data={"name": name, "secret": secret})


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def with_cookie(app, cookie: str):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def test_logout_ends_the_session_for_the_old_cookie_too(make_app):
    app = make_app()
    client = app.test_client()
    assert login(client).status_code == 302
    cookie = session_cookie(client)
    assert with_cookie(app, cookie).get("/agent/").status_code == 200
    assert client.post("/agent/logout").status_code == 302
    replayed = with_cookie(app, cookie).get("/agent/")
    assert replayed.status_code == 302 and "/agent/login" in replayed.headers["Location"]


def test_a_new_token_after_a_restart_ends_every_session(make_app):
    client = make_app().test_client()
    login(client)
    cookie = session_cookie(client)
    restarted = make_app(KB_AGENT_TOKEN="a-new-token")
    assert with_cookie(restarted, cookie).get("/agent/").status_code == 302
    same_token = make_app()  # a restart with the same token keeps it... but the session was ended above
    assert with_cookie(same_token, cookie).get("/agent/").status_code == 302


def test_a_restart_with_the_same_credentials_keeps_the_session(make_app):
    client = make_app().test_client()
    login(client)
    assert with_cookie(make_app(), session_cookie(client)).get("/agent/").status_code == 200


def test_a_removed_user_or_a_changed_password_ends_the_session(make_app, tmp_path):
    users = tmp_path / "agents.txt"
    users.write_text(f"alice:{generate_password_hash('pw-a')}\nbob:{generate_password_hash('pw-b')}\n", encoding="utf-8")
    app = make_app(KB_AGENT_USERS=str(users), KB_AGENT_TOKEN="")
    alice, bob = app.test_client(), app.test_client()
    assert login(alice, "pw-a", "alice").status_code == 302 and login(bob, "pw-b", "bob").status_code == 302
    cookies = session_cookie(alice), session_cookie(bob)
    # alice's password changed, bob was removed: both sessions end at the restart
    users.write_text(f"alice:{generate_password_hash('pw-a2')}\n", encoding="utf-8")
    restarted = make_app(KB_AGENT_USERS=str(users), KB_AGENT_TOKEN="")
    assert [with_cookie(restarted, c).get("/agent/").status_code for c in cookies] == [302, 302]


@pytest.fixture
def live_users(make_app, tmp_path, monkeypatch):
    """An app with a users file that the test rewrites while it serves; settle() makes the app look at the file
    twice (a new version is taken once two reads agree), as two requests a second apart would."""
    from webapp.auth import Users

    monkeypatch.setattr(Users, "CHECK_EVERY", 0.0)
    path = tmp_path / "agents.txt"

    def start(text, token=""):
        path.write_text(text, encoding="utf-8")
        app = make_app(KB_AGENT_USERS=str(path), KB_AGENT_TOKEN=token)
        users = app.extensions["kb"].agents["users"]
        return app, users, lambda: (users.current(), users.current())[1]
    return path, start


def test_a_changed_users_file_ends_sessions_without_a_restart(live_users, caplog):
    path, start = live_users
    app, users, settle = start(f"alice:{generate_password_hash('pw-a')}\nbob:{generate_password_hash('pw-b')}\n")
    alice, bob, carol = app.test_client(), app.test_client(), app.test_client()
    assert login(alice, "pw-a", "alice").status_code == 302 and login(bob, "pw-b", "bob").status_code == 302
    assert alice.get("/agent/").status_code == 200 and bob.get("/agent/").status_code == 200
    # alice's password changed, bob removed, carol added (what kb add-agent writes): the running app sees it
    path.write_text(f"alice:{generate_password_hash('pw-a2')}\ncarol:{generate_password_hash('pw-c')}\n", encoding="utf-8")
    assert sorted(settle()) == ["alice", "carol"]
    assert alice.get("/agent/").status_code == 302 and bob.get("/agent/").status_code == 302
    assert login(bob, "pw-b", "bob").status_code == 401 and login(alice, "pw-a", "alice").status_code == 401
    assert login(alice, "pw-a2", "alice").status_code == 302 and alice.get("/agent/").status_code == 200
    assert login(carol, "pw-c", "carol").status_code == 302
    # a file that no longer parses, or that lost every user, keeps the users it had (nobody locked out, nobody
    # let back in), and says so
    for broken in ("not a users line\n", ""):
        path.write_text(broken, encoding="utf-8")
        with caplog.at_level("ERROR", logger="webapp.auth"):
            assert sorted(settle()) == ["alice", "carol"]
            assert alice.get("/agent/").status_code == 200 and carol.get("/agent/").status_code == 200
            assert login(bob, "pw-b", "bob").status_code == 401
    assert sum("users file not taken" in r.getMessage() for r in caplog.records) == 2


def test_a_users_file_caught_half_written_is_not_taken(live_users):
    path, start = live_users
    full = f"alice:{generate_password_hash('pw-a')}\nbob:{generate_password_hash('pw-b')}\n"
    app, users, settle = start(full)
    path.write_text(full.splitlines()[0] + "\n", encoding="utf-8")  # truncated, then written again, read in between
    assert sorted(users.current()) == ["alice", "bob"]  # seen once: not yet taken
    path.write_text(full, encoding="utf-8")
    assert sorted(users.current()) == ["alice", "bob"] and sorted(settle()) == ["alice", "bob"]
    # the same size and the same modification time as before, other contents: still seen (by their digest)
    stat = path.stat()
    path.write_text(full.replace("bob:", "bib:"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert sorted(settle()) == ["alice", "bib"]


def test_a_password_changed_while_a_login_is_checked_ends_that_session(live_users, monkeypatch):
    import webapp.auth

    path, start = live_users
    app, users, settle = start(f"alice:{generate_password_hash('pw-a')}\n")
    real = webapp.auth.check_password_hash

    def changed_meanwhile(hashed, secret):  # another agent runs kb add-agent while this login's hash is checked
        path.write_text(f"alice:{generate_password_hash('pw-a2')}\n", encoding="utf-8")
        settle()
        return real(hashed, secret)

    monkeypatch.setattr(webapp.auth, "check_password_hash", changed_meanwhile)
    client = app.test_client()
    assert login(client, "pw-a", "alice").status_code == 302  # the old password was right when it was checked
    monkeypatch.setattr(webapp.auth, "check_password_hash", real)
    assert client.get("/agent/").status_code == 302  # but its session ends at once


def test_agents_added_to_an_empty_users_file_log_in_and_the_token_no_longer_does(live_users):
    path, start = live_users
    app, users, settle = start("# no agents yet\n", token=AGENT_TOKEN)
    first = app.test_client()
    assert login(first, AGENT_TOKEN).status_code == 302 and first.get("/agent/").status_code == 200
    path.write_text(f"alice:{generate_password_hash('pw-a')}\n", encoding="utf-8")
    settle()
    assert first.get("/agent/").status_code == 302  # the token's session ended
    assert login(app.test_client(), AGENT_TOKEN).status_code == 401
    assert login(app.test_client(), "pw-a", "alice").status_code == 302


def test_sessions_expire_after_their_lifetime_and_when_idle(make_app):
    from webapp import db

    app = make_app()
    client = app.test_client()
    login(client)
    assert client.get("/agent/").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie.expires is not None  # the cookie itself ends too (KB_SESSION_HOURS)
    with app.app_context(), db.engine().begin() as conn:  # the session's 12 hours are over
        conn.execute(db.agent_sessions.update().values(expires_at=time.time() - 1))
    assert client.get("/agent/").status_code == 302
    login(client)
    with app.app_context(), db.engine().begin() as conn:  # 121 minutes without a request
        conn.execute(db.agent_sessions.update().values(last_seen=time.time() - 121 * 60))
    assert client.get("/agent/").status_code == 302
    with app.app_context(), db.engine().connect() as conn:
        assert conn.execute(db.agent_sessions.select()).fetchall() == []  # ended sessions are deleted


@pytest.mark.parametrize("target", ["/%09/evil.example/", "/%0a/x", "/%5C/evil.example", "//evil.example/", "https://evil.example/"])
def test_login_never_redirects_off_the_site(make_app, target):
    r = login(make_app().test_client(), next_=target)
    assert r.status_code == 302
    assert r.headers["Location"] in ("/agent/", "http://localhost/agent/")


def test_login_redirects_to_a_local_path(make_app):
    r = login(make_app().test_client(), next_="/agent/requests/1?x=1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/agent/requests/1?x=1")


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(make_app):
    from webapp import db

    app = make_app()
    attacker = app.test_client()
    attacker.send_csrf = False
    r = attacker.post("/articles/lost-2fa-en/vote", data={"helpful": "no"})
    assert r.status_code == 400 and "This form has expired" in r.get_data(as_text=True)  # the reader's words, not "CSRF"
    assert attacker.post("/support/new", data={"subject": "x", "description": "y", "email": "a@b.cc"}).status_code == 400
    agent = app.test_client()
    login(agent)
    agent.send_csrf = False  # a logged-in agent lured to another site's auto-submitting form
    assert agent.post("/agent/requests/1/reply", data={"reply": "attacker's text", "status": "closed"}).status_code == 400
    with app.app_context(), db.engine().connect() as conn:
        assert conn.execute(db.article_votes.select()).fetchall() == []
        assert conn.execute(db.requests.select()).fetchall() == []


def test_every_form_that_posts_carries_its_csrf_token():
    """Each POST form of every template sends the token itself (the tests' client adds one to whatever it posts,
    so a form that lost its field would pass them and fail in a browser)."""
    from pathlib import Path

    from bs4 import BeautifulSoup

    templates = sorted((Path(__file__).resolve().parent.parent / "webapp" / "templates").rglob("*.html"))
    forms = [(path.name, form) for path in templates
             for form in BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").find_all("form")
             if form.get("method", "get").lower() == "post"]
    assert len(forms) >= 10  # the login, ticket, vote, follow-up, agent and outbox forms
    missing = [name for name, form in forms
               if not form.find("input", attrs={"type": "hidden", "name": "csrf_token", "value": "{{ csrf_token() }}"})]
    assert missing == []


def test_a_post_from_another_origin_is_refused_json_included(make_app):
    app = make_app()
    client = app.test_client()
    evil = {"Origin": "http://localhost:5001"}  # another port of the same host is another origin
    assert client.post("/api/suggest", json={"subject": "deposit"}, headers=evil).status_code == 403
    assert client.post("/api/deflections", json={"article_id": "lost-2fa-en"}, headers=evil).status_code == 403
    login(client)
    r = client.post("/agent/requests/1/feedback", json={"article_id": "lost-2fa-en", "verdict": "wrong"}, headers=evil)
    assert r.status_code == 403
    same = {"Origin": "http://localhost"}
    assert client.post("/api/suggest", json={"subject": "deposit"}, headers=same).status_code == 200


def test_wrong_logins_are_limited_per_client_and_the_right_one_waits_too(make_app):
    client = make_app(KB_RATE_LIMITS="login=5/minute").test_client()
    assert [login(client, "wrong").status_code for _ in range(5)] == [401] * 5
    assert login(client, "wrong").status_code == 429
    limited = login(client)
    assert limited.status_code == 429 and limited.headers.get("Retry-After")
    other = client.post("/agent/login", data={"name": "a", "secret": AGENT_TOKEN},
                        environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302  # another client is not locked out


def test_right_logins_are_not_counted(make_app):
    client = make_app(KB_RATE_LIMITS="login=3/minute").test_client()
    assert [login(client).status_code for _ in range(6)] == [302] * 6


def test_wrong_bearer_tokens_are_limited(make_app):
    client = make_app(KB_RATE_LIMITS="bearer=5/minute").test_client()
    codes = [client.get("/api/agent/search?q=x", headers={"Authorization": "Bearer wrong"}).status_code for _ in range(7)]
    assert codes == [401] * 5 + [429] * 2
    right = client.get("/api/agent/search?q=x", headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
    assert right.status_code == 429  # guessing stops: over the limit, a token is not even checked


def test_public_apis_are_limited_and_off_turns_limits_off(make_app):
    client = make_app(KB_RATE_LIMITS="search=3/minute").test_client()
    assert [client.get("/api/search?q=deposit").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert client.get("/search?q=deposit").status_code == 429  # one budget for the page and the API
    body = client.get("/api/search?q=deposit").get_json()
    assert body["status"] == 429 and body["ok"] is False
    free = make_app(KB_RATE_LIMITS="off").test_client()
    assert {free.get("/api/search?q=deposit").status_code for _ in range(30)} == {200}
    for _ in range(30):
        assert login(free, "wrong").status_code == 401


def test_the_default_limits_are_on_and_a_bad_value_names_the_setting(make_app):
    from kb.config import DEFAULT_RATE_LIMITS
    from webapp.ratelimit import parse_limits

    assert set(parse_limits(DEFAULT_RATE_LIMITS)) == {"login", "bearer", "search", "suggest", "instant", "write", "email"}
    for bad in ("login=often", "logins=5/minute", "5/minute"):
        with pytest.raises(SettingsError, match="KB_RATE_LIMITS"):
            make_app(KB_RATE_LIMITS=bad)


def test_an_unknown_user_costs_a_password_check_too(make_app, tmp_path, monkeypatch):
    import webapp.auth as auth

    users = tmp_path / "agents.txt"
    users.write_text(f"alice:{generate_password_hash('pw-a')}\n", encoding="utf-8")
    client = make_app(KB_AGENT_USERS=str(users), KB_AGENT_TOKEN="", KB_RATE_LIMITS="off").test_client()
    checked = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, s: checked.append(h) or real(h, s))
    assert login(client, "wrong", "alice").status_code == 401
    assert login(client, "wrong", "nobody").status_code == 401
    assert len(checked) == 2 and checked[1] == auth.dummy_hash()  # the same work for a name that does not exist


def test_copied_links_never_come_from_the_host_header(make_app):
    from webapp import db

    app = make_app(KB_PUBLIC_URL="https://help.example.com")
    client = app.test_client()
    r = client.post("/support/new", data={"subject": "my account was hacked", "description": "freeze it",
                                          "email": "u@example.com"})
    rid = r.headers["Location"].rsplit("/", 1)[1]
    agent = {"Host": "evil.example", "Authorization": f"Bearer {AGENT_TOKEN}"}
    html = client.get(f"/agent/requests/{rid}", headers=agent).get_data(as_text=True)
    assert 'data-url="https://help.example.com/articles/' in html and "evil.example" not in html
    html = make_app().test_client().get(f"/agent/requests/{rid}", headers=agent).get_data(as_text=True)
    assert 'data-url="/articles/' in html and "evil.example" not in html  # a path; the browser adds its origin
    with app.app_context():
        assert db.get_request(int(rid)) is not None


def test_https_public_url_turns_on_secure_cookies_and_hsts(make_app):
    client = make_app(KB_PUBLIC_URL="https://help.example.com").test_client()
    r = login(client)
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert client.get("/").headers["Strict-Transport-Security"].startswith("max-age=")
    plain = make_app().test_client()
    assert "Strict-Transport-Security" not in plain.get("/").headers
    assert "Secure" not in login(plain).headers["Set-Cookie"]


def test_limits_off_never_breaks_a_bearer_request(make_app):
    client = make_app(KB_RATE_LIMITS="off").test_client()
    assert client.get("/api/agent/search?q=x", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/agent/search?q=x", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}).status_code == 200


def test_a_login_name_no_store_can_keep_is_a_wrong_login(make_app):
    assert login(make_app().test_client(), name="al\x00ice").status_code == 401


def test_a_nan_setting_is_refused():
    from kb.config import Settings

    with pytest.raises(SettingsError, match="KB_LOG_RETENTION_DAYS"):
        Settings.from_mapping({"log_retention_days": "nan"})


def test_the_client_behind_a_trusted_proxy_is_the_forwarded_address_and_only_then(make_app):
    behind = make_app(KB_RATE_LIMITS="search=2/minute", KB_TRUSTED_PROXIES=1).test_client()
    a, b = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    assert [behind.get("/api/search?q=fee", headers=a).status_code for _ in range(3)] == [200, 200, 429]
    assert behind.get("/api/search?q=fee", headers=b).status_code == 200  # another client behind the same proxy
    direct = make_app(KB_RATE_LIMITS="search=2/minute").test_client()
    # without a trusted proxy a forged header changes nothing: the connecting address is the client
    assert [direct.get("/api/search?q=fee", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(3)] == [200, 200, 429]
