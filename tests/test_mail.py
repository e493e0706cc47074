"""E-mail both ways and the requester's follow-up (webapp.mail, webapp.followup): a real SMTP server (aiosmtpd)
receives the acknowledgement and the agent's reply; the signed link in them opens the requester's page; without
SMTP the outbox keeps the mails; a failed send is retried (the sender's step, called with the time) and shown."""
import dataclasses
import re
import shutil
import smtplib
import ssl
import string
import subprocess
import time
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from browser import OUTPUT as OUTPUT_DIR
from conftest import AGENT_TOKEN, missing_tool
from kb.config import SettingsError
from smtp import Inbox, free_port
from webapp import db, mail
from webapp.i18n import STRINGS

FROM = "Coinharbor Support <support@help.example.test>"
PUBLIC = "http://help.example.test"
LINK = re.compile(r"(https?://\S+/support/followup/\S+)")


def make_app(tmp_path_factory, shared_index, embedder, name, **config):
    from webapp import create_app

    store = tmp_path_factory.mktemp(name) / "kb.sqlite3"
    return create_app({
        "TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
        "KB_DB_PATH": str(store), "KB_AGENT_TOKEN": AGENT_TOKEN, "SECRET_KEY": "test", **config,
    }, embedder=embedder)


@pytest.fixture(scope="module")
def mail_app(tmp_path_factory, shared_index, embedder, smtp):
    """Mail on: the app's own sender thread sends to the test's SMTP server."""
    app = make_app(tmp_path_factory, shared_index, embedder, "mail_on", KB_SMTP_URL=smtp.url, KB_MAIL_FROM=FROM,
                   KB_PUBLIC_URL=PUBLIC)
    yield app
    app.extensions["kb_mail"].stop()
    app.extensions["kb"].db.dispose()


@pytest.fixture(scope="module")
def manual_app(tmp_path_factory, shared_index, embedder):
    """Mail on, towards a port nobody listens on, and no sender thread: the tests call the sender's step."""
    app = make_app(tmp_path_factory, shared_index, embedder, "mail_manual", KB_SMTP_URL=f"smtp://127.0.0.1:{free_port()}",
                   KB_MAIL_FROM=FROM, MAIL_SENDER_THREAD=False)
    yield app
    app.extensions["kb"].db.dispose()


def login(client):
    assert client.post("/agent/login", data={"name": "alice", "secret": AGENT_TOKEN}).status_code == 302


def file_request(client, subject, description, email, lang="en"):
    r = client.post(f"/support/new?lang={lang}", data={"subject": subject, "description": description, "email": email})
    assert r.status_code == 302, r.get_data(as_text=True)
    return int(r.headers["Location"].rsplit("/", 1)[1])


def reply(client, rid, text, status="answered"):
    r = client.post(f"/agent/requests/{rid}/reply", data={"reply": text, "status": status})
    assert r.status_code == 302, r.get_data(as_text=True)


def link_path(body: str) -> str:
    parts = urlsplit(LINK.search(body).group(1))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def keep(received, name):
    """The mail as the SMTP server received it, in test-output/ (the issue's closing note shows them)."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    (OUTPUT_DIR / name).write_bytes(received.raw)


def settled(app, rid):
    """The request's mails once the app's sender thread has finished with them (it notifies after each round)."""
    sender = app.extensions["kb_mail"]
    with sender.stepped:
        assert sender.stepped.wait_for(lambda: all(o["status"] != "pending" for o in outbox(app, rid)), timeout=15)
    return outbox(app, rid)


def outbox(app, rid):
    with app.app_context():
        return list(reversed(db.mails(request_id=rid)))  # oldest first


@pytest.mark.parametrize("lang, subject, description, texts", [
    ("en", "Withdrawal stuck in review", "My USDT withdrawal has been under review for two days.",
     {"prefix": "[Coinharbor request #{n}]", "ack": ["We received your request.", "Request number: #{n}",
      "usually within 4 hours"], "reply": "Our support team has answered your request #{n}", "page": "Your request"}),
    ("zh-CN", "我的USDT充值两小时还没到账", "我昨天从钱包充值了 100 USDT（TRC20），两小时了还没有到账，请帮忙查一下。",
     {"prefix": "[Coinharbor 工单 #{n}]", "ack": ["我们已收到你的工单。", "工单编号：#{n}", "通常 4 小时内"],
      "reply": "客服已回复你的工单 #{n}", "page": "你的工单"}),
])
def test_acknowledgement_and_reply_arrive_by_smtp_in_the_requesters_language_threaded(mail_app, smtp, lang, subject,
                                                                                      description, texts):
    user, agent = mail_app.test_client(), mail_app.test_client()
    address = f"requester-{lang.lower()}@example.com"
    rid = file_request(user, subject, description, address, lang)

    ack = smtp.inbox.wait_for(address)[0]
    keep(ack, f"mail-ack-{lang}.eml")
    m = ack.message
    prefix = texts["prefix"].format(n=rid)
    assert m["Subject"] == f"{prefix} {subject}"
    assert m["From"] == FROM and m["To"] == address and ack.rcpt_tos == [address]
    assert m["Content-Language"] == lang and m["Auto-Submitted"] == "auto-replied"
    assert re.fullmatch(r"<[^<>@\s]+@help\.example\.test>", m["Message-ID"]) and m["In-Reply-To"] is None
    body = m.get_content()
    for text in texts["ack"]:
        assert text.format(n=rid) in body
    assert subject in body and LINK.search(body).group(1).startswith(f"{PUBLIC}/support/followup/")

    stranger = mail_app.test_client()  # the link works in any browser: it is the requester's key
    page = stranger.get(link_path(body))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and texts["page"] in html and f"#{rid}" in html and description in html
    assert stranger.get(f"/support/requests/{rid}").status_code == 404  # the number alone opens nothing

    login(agent)
    answer = {"en": "We checked it: your withdrawal was approved and sent. TXID 0xabc123.",
              "zh-CN": "已查到：你的充值已经到账，请刷新资产页面查看。"}[lang]
    reply(agent, rid, answer)
    second = smtp.inbox.wait_for(address, count=2)[1]
    keep(second, f"mail-reply-{lang}.eml")
    r = second.message
    assert r["Subject"] == f"Re: {prefix} {subject}"
    assert r["In-Reply-To"] == m["Message-ID"] and r["References"] == m["Message-ID"]
    assert r["Message-ID"] != m["Message-ID"] and r["Auto-Submitted"] is None
    reply_body = r.get_content()
    assert texts["reply"].format(n=rid) in reply_body and answer in reply_body
    thread = stranger.get(link_path(reply_body)).get_data(as_text=True)
    assert answer in thread and thread.index(description) < thread.index(answer)
    assert [(o["kind"], o["status"], o["attempts"]) for o in settled(mail_app, rid)] == [("ack", "sent", 1), ("reply", "sent", 1)]


def test_requester_follow_up_reopens_the_request_and_shows_in_the_agents_thread(mail_app, smtp):
    user, agent = mail_app.test_client(), mail_app.test_client()
    address = "follow-up@example.com"
    rid = file_request(user, "Deposit missing", "My BTC deposit has not arrived after 6 confirmations.", address)
    login(agent)
    reply(agent, rid, "Please send us the TXID of the deposit.")
    path = link_path(smtp.inbox.wait_for(address, count=2)[1].message.get_content())
    with mail_app.app_context():
        assert db.get_request(rid)["status"] == "answered"

    browser = mail_app.test_client()
    r = browser.post(path.split("?")[0] + "/reply", data={"body": "The TXID is 3f2a9c71e0b4."})
    assert r.status_code == 302
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "Your message was added" in page and "The TXID is 3f2a9c71e0b4." in page
    with mail_app.app_context():
        assert db.get_request(rid)["status"] == "open"
        assert [(m["author"], m["body"]) for m in db.messages_for(rid)] == [
            ("agent", "Please send us the TXID of the deposit."), ("requester", "The TXID is 3f2a9c71e0b4.")]
    agent_page = agent.get(f"/agent/requests/{rid}").get_data(as_text=True)
    thread = agent_page[agent_page.index('id="mail-thread"'):]
    assert "Requester (follow-up)" in thread and "The TXID is 3f2a9c71e0b4." in thread and "Mail is off" not in thread

    assert browser.post(path.split("?")[0] + "/reply", data={"body": "   "}).status_code == 400  # nothing to add
    r = browser.post(path.split("?")[0] + "/solved")
    assert r.status_code == 302 and "Glad it is solved" in browser.get(r.headers["Location"]).get_data(as_text=True)
    with mail_app.app_context():
        assert db.get_request(rid)["status"] == "closed"
    browser.post(path.split("?")[0] + "/reply", data={"body": "It happened again today."})
    with mail_app.app_context():
        assert db.get_request(rid)["status"] == "open"  # a follow-up reopens even a solved request
    no_token = mail_app.test_client()
    no_token.send_csrf = False
    assert no_token.post(path.split("?")[0] + "/reply", data={"body": "forged"}).status_code == 400  # CSRF


def test_expired_tampered_and_foreign_links_are_refused(mail_app, smtp):
    user = mail_app.test_client()
    address = "links@example.com"
    subject = "Secret subject 7f3e"
    rid = file_request(user, subject, "KYC level 2 is still pending.", address)
    path = link_path(smtp.inbox.wait_for(address)[0].message.get_content())
    token = path.split("/")[3].split("?")[0]
    client = mail_app.test_client()
    assert client.get(path).status_code == 200

    class PastSigner(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 31 * 86400  # KB_FOLLOWUP_DAYS is 30

    expired = URLSafeTimedSerializer(mail_app.secret_key, salt=mail.TOKEN_SALT, signer=PastSigner).dumps({"r": rid})
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_salt = URLSafeTimedSerializer(mail_app.secret_key).dumps({"r": rid})  # signed, but not as a follow-up link
    other_key = URLSafeTimedSerializer("another key", salt=mail.TOKEN_SALT).dumps({"r": rid})
    no_such = URLSafeTimedSerializer(mail_app.secret_key, salt=mail.TOKEN_SALT).dumps({"r": rid + 1000})
    for bad, code in [(expired, 403), (tampered, 404), (other_salt, 404), (other_key, 404), (no_such, 404),
                      (str(rid), 404)]:
        r = client.get(f"/support/followup/{bad}")
        assert r.status_code == code and subject not in r.get_data(as_text=True), bad
        for action in ("reply", "solved"):
            assert client.post(f"/support/followup/{bad}/{action}", data={"body": "x"}).status_code == code
    assert "has expired" in client.get(f"/support/followup/{expired}").get_data(as_text=True)
    with mail_app.app_context():
        assert db.get_request(rid)["status"] == "open" and db.messages_for(rid) == []


def test_without_smtp_the_outbox_keeps_the_mails_and_the_agent_view_says_mail_is_off(app):
    user, agent = app.test_client(), app.test_client()
    rid = file_request(user, "Fees question", "What is the fee for a SEPA deposit?", "nomail@example.com")
    confirmation = user.get(f"/support/requests/{rid}").get_data(as_text=True)
    assert "E-mail is switched off" in confirmation
    link = re.search(r'id="followup-link" href="([^"]+)"', confirmation).group(1)
    assert link.startswith("http://localhost/support/followup/")  # no KB_PUBLIC_URL: the request's host
    assert app.test_client().get(urlsplit(link).path).status_code == 200

    login(agent)
    reply(agent, rid, "SEPA deposits are free.")
    mails = outbox(app, rid)
    assert [(o["kind"], o["status"], o["attempts"], o["next_attempt_at"]) for o in mails] == [
        ("ack", "off", 0, None), ("reply", "off", 0, None)]
    assert mails[1]["in_reply_to"] == mails[0]["message_id"] and "SEPA deposits are free." in mails[1]["body"]
    assert LINK.search(mails[0]["body"]).group(1).startswith("http://localhost/support/followup/")
    detail = agent.get(f"/agent/requests/{rid}").get_data(as_text=True)
    assert 'id="mail-off"' in detail and "Mail is off" in detail and "SEPA deposits are free." in detail
    page = agent.get("/agent/outbox").get_data(as_text=True)
    assert "Mail is off" in page and "nomail@example.com" in page and "[Coinharbor request #%d]" % rid in page
    assert app.test_client().get("/agent/outbox").status_code == 302  # agents only

    reply(agent, rid, "SEPA deposits are free.", status="closed")  # saved again, only to close it: no second mail
    assert len(outbox(app, rid)) == 2


def test_a_failed_send_is_retried_with_backoff_then_failed_and_shown_to_agents(manual_app, smtp):
    sender = manual_app.extensions["kb_mail"]
    user, agent = manual_app.test_client(), manual_app.test_client()
    rid = file_request(user, "Retry me", "Nobody listens on the SMTP port.", "retry@example.com")
    (row,) = outbox(manual_app, rid)
    assert row["status"] == "pending" and row["attempts"] == 0
    now = row["next_attempt_at"]
    waits = []
    for attempt in range(1, mail.MAX_ATTEMPTS + 1):
        assert sender.step(now) == 1
        (row,) = outbox(manual_app, rid)
        assert row["attempts"] == attempt and row["last_error"] == "ConnectionRefusedError"
        if attempt == mail.MAX_ATTEMPTS:
            break
        assert row["status"] == "pending"
        waits.append(round(row["next_attempt_at"] - now))
        assert sender.step(row["next_attempt_at"] - 1) == 0  # not due yet
        now = row["next_attempt_at"]
    assert waits == [60, 120, 240, 480, 960, 1920, 3600]
    assert row["status"] == "failed" and row["next_attempt_at"] is None
    assert sender.step(now + 10 * 86400) == 0  # given up: never tried again by itself

    login(agent)
    assert "Outbox (1 failed)" in agent.get("/agent/").get_data(as_text=True)
    page = agent.get("/agent/outbox?status=failed").get_data(as_text=True)
    assert "ConnectionRefusedError" in page and "Send again" in page and f"#{rid}" in page
    detail = agent.get(f"/agent/requests/{rid}").get_data(as_text=True)
    assert "mail-failed" in detail and "ConnectionRefusedError" in detail

    # the SMTP server is back: the agent sends it again, the next step delivers it
    sender.smtp = mail.parse_smtp_url(smtp.url)
    r = agent.post(f"/agent/outbox/{row['id']}/retry", data={"request": str(rid)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/agent/requests/{rid}")
    assert sender.step() == 1
    assert smtp.inbox.wait_for("retry@example.com")[0].message["Message-ID"] == row["message_id"]
    (row,) = outbox(manual_app, rid)
    assert row["status"] == "sent" and row["attempts"] == 1 and row["last_error"] is None


def test_a_refused_recipient_fails_at_once_without_the_address_in_the_error(manual_app, smtp, monkeypatch):
    sender = manual_app.extensions["kb_mail"]
    monkeypatch.setattr(sender, "smtp", mail.parse_smtp_url(smtp.url))
    rid = file_request(manual_app.test_client(), "Bounce", "This address does not exist.", "bounce-me@example.com")
    assert sender.step() == 1
    (row,) = outbox(manual_app, rid)
    assert row["status"] == "failed" and row["attempts"] == 1 and row["last_error"] == "SMTPRecipientsRefused 550"


def test_two_senders_never_send_one_mail_twice(manual_app):
    rid = file_request(manual_app.test_client(), "Claim", "Two workers see the same due mail.", "claim@example.com")
    (row,) = outbox(manual_app, rid)
    with manual_app.app_context():
        assert db.claim_mail(row["id"], row["next_attempt_at"], row["next_attempt_at"] + mail.LEASE)
        assert not db.claim_mail(row["id"], row["next_attempt_at"], row["next_attempt_at"] + mail.LEASE)
        db.update_mail(row["id"], status="sent")


def test_a_store_failure_while_queueing_never_fails_the_request(app, monkeypatch):
    def broken(**_):
        raise sa.exc.OperationalError("INSERT INTO outbox", {}, Exception("disk I/O error"))

    monkeypatch.setattr(db, "queue_mail", broken)
    client = app.test_client()
    rid = file_request(client, "Store hiccup", "The outbox cannot be written.", "hiccup@example.com")
    assert client.get(f"/support/requests/{rid}").status_code == 200
    with app.app_context():
        assert db.get_request(rid) is not None and db.mails(request_id=rid) == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl), trusted by the client through SSL_CERT_FILE."""
    openssl = shutil.which("openssl") or missing_tool("openssl is not installed (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_starttls_and_smtps_log_in_over_verified_tls(scheme, certificate, monkeypatch):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"desk@example.com", b"p:ss w0rd")
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 235 or 535

    inbox, port = Inbox(), free_port()
    # aiosmtpd does not count implicit TLS (smtps) as TLS: there it offers AUTH only when it does not insist on TLS
    starttls = scheme == "smtp+starttls"
    options = {"authenticator": authenticator, "auth_required": starttls, "auth_require_tls": starttls}
    if scheme == "smtps":
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_tls, **options)
    else:
        controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True,
                                **options)
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        config = mail.parse_smtp_url(f"{scheme}://desk%40example.com:p%3Ass%20w0rd@127.0.0.1:{port}")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = FROM, "tls@example.com", f"over {scheme}"
        message.set_content("sent over TLS after logging in")
        mail.smtp_send(config, message)
        assert inbox.wait_for("tls@example.com")[0].message["Subject"] == f"over {scheme}"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            mail.smtp_send(dataclasses.replace(config, password="wrong"), message)
        assert mail.describe_error(refused.value) == ("SMTPAuthenticationError 535", False)  # failed at once
        monkeypatch.delenv("SSL_CERT_FILE")
        with pytest.raises(ssl.SSLCertVerificationError):  # a certificate nobody vouches for is refused
            mail.smtp_send(config, message)
    finally:
        controller.stop()


@pytest.mark.parametrize("url, scheme, host, port, user, password", [
    ("smtp://localhost:2525", "smtp", "localhost", 2525, "", ""),
    ("smtp://mail.example.com", "smtp", "mail.example.com", 25, "", ""),
    ("smtp+starttls://desk%40example.com:p%3Ass@mail.example.com:587", "smtp+starttls", "mail.example.com", 587,
     "desk@example.com", "p:ss"),
    ("smtps://u:p@mail.example.com", "smtps", "mail.example.com", 465, "u", "p"),
])
def test_smtp_urls(url, scheme, host, port, user, password):
    assert mail.parse_smtp_url(url) == mail.SMTPConfig(scheme, host, port, user, password)


@pytest.mark.parametrize("url", ["http://mail.example.com", "mail.example.com:25", "smtp://:25", "smtp://host:port",
                                 "smtp://host:99999", "smtps://host/path", "smtp://:secret@host"])
def test_bad_smtp_urls_name_the_setting_and_never_the_password(url):
    with pytest.raises(SettingsError, match="KB_SMTP_URL") as info:
        mail.parse_smtp_url(url)
    assert "secret" not in str(info.value)


def test_the_app_does_not_start_with_a_bad_mail_setting(tmp_path, shared_index, embedder):
    from webapp import create_app

    base = {"KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
            "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "SECRET_KEY": "test"}
    with pytest.raises(SettingsError, match="KB_SMTP_URL"):
        create_app({**base, "KB_SMTP_URL": "smtp://mail.example.com:twentyfive", "KB_MAIL_FROM": FROM}, embedder=embedder)
    with pytest.raises(SettingsError, match="KB_MAIL_FROM"):
        mail.check_mail_from("", required=True)
    with pytest.raises(SettingsError, match="KB_MAIL_FROM"):
        mail.check_mail_from("support at example", required=False)


MAIL_KEYS = [k for k in STRINGS["en"] if k.startswith(("mail_", "followup_", "status_"))]


@pytest.mark.parametrize("locale", ["zh-CN", "ko", "ja"])
def test_mail_and_follow_up_texts_exist_in_every_locale_with_the_same_fields(locale):
    assert len(MAIL_KEYS) >= 20
    fields = lambda text: sorted(f for _, f, _, _ in string.Formatter().parse(text) if f)  # noqa: E731
    for key in MAIL_KEYS:
        assert STRINGS[locale].get(key, "").strip(), f"{locale} has no {key}"
        assert fields(STRINGS[locale][key]) == fields(STRINGS["en"][key]), f"{locale} {key}"
        assert STRINGS[locale][key] != STRINGS["en"][key], f"{locale} {key} is the English text"
