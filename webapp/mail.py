"""Mail to the requester: the acknowledgement of a new request and each agent reply, in the request's language,
with threading headers and a signed follow-up link; queued in the outbox and sent over SMTP by a background sender.

Filing a request or saving a reply only writes an outbox row (a failure to do even that is logged and counted,
never the request's failure). The sender, a thread per process, sends due rows: a temporary failure (no answer,
an SMTP 4xx) is tried again after 1, 2, 4 … minutes, MAX_ATTEMPTS times in all; a permanent one (SMTP 5xx) and
the last try mark the mail `failed`, which agents see in the outbox. Several processes may send from one store:
a sender claims a row before sending it. Without KB_SMTP_URL, mail is off: rows are written `off`, never sent."""
from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app, has_request_context, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from kb.config import LOCALES, SettingsError

from . import db
from .i18n import STRINGS
from .storehealth import StoreError, health

log = logging.getLogger(__name__)

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
MAX_ATTEMPTS = 8  # tries of one mail: 1 + 7 retries, about two hours of backoff
BACKOFF_FIRST, BACKOFF_MAX = 60.0, 3600.0  # seconds before the 2nd try; doubling, at most this
LEASE = 300.0  # a claimed mail is due again after this long if its sender died while sending it
POLL = 10.0  # the sender looks for due mails this often (and at once when this process queues one)
SMTP_TIMEOUT = 20.0
TOKEN_SALT = "kb.followup-link"  # signs follow-up links only: no other signed value of the app is one


@dataclass(frozen=True)
class SMTPConfig:
    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = ""


def parse_smtp_url(url: str) -> SMTPConfig | None:
    """KB_SMTP_URL → SMTPConfig; None when empty (mail off). A bad URL is a SettingsError naming the setting (never
    the password)."""
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SettingsError("KB_SMTP_URL: not a URL such as smtp://host:25 (is the port a number?)") from None
    if parts.scheme not in SCHEMES:
        raise SettingsError(f"KB_SMTP_URL must start with one of {', '.join(s + '://' for s in SCHEMES)}; "
                            f"got {parts.scheme + '://' if parts.scheme else 'no scheme'}")
    if not parts.hostname:
        raise SettingsError("KB_SMTP_URL names no host (smtp://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError("KB_SMTP_URL takes no path, query or fragment (smtp://user:pass@host:port)")
    if parts.password is not None and not parts.username:
        raise SettingsError("KB_SMTP_URL has a password but no user name")
    return SMTPConfig(parts.scheme, parts.hostname, port or SCHEMES[parts.scheme], unquote(parts.username or ""),
                      unquote(parts.password or ""))


def check_mail_from(value: str, required: bool) -> str:
    value = value.strip()
    if not value:
        if required:
            raise SettingsError("KB_MAIL_FROM must be set when KB_SMTP_URL is (Support <support@example.com>)")
        return ""
    name, address = parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@") or "\n" in value or "\r" in value:
        raise SettingsError(f"KB_MAIL_FROM is not an e-mail address: {value[:100]!r}")
    return value


def smtp_send(config: SMTPConfig, message: EmailMessage) -> None:
    """Send one message; raises smtplib.SMTPException or OSError on failure."""
    context = ssl.create_default_context()
    if config.scheme == "smtps":
        conn = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        conn = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT)
    with conn:
        if config.scheme == "smtp+starttls":
            conn.starttls(context=context)
        if config.username:
            conn.login(config.username, config.password)
        conn.send_message(message)


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """(what agents see: the error class and SMTP code, never an address; whether it is worth trying again)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):  # {address: (code, message)}: keep the codes only
        codes = sorted({c for c, _ in exc.recipients.values()})
        return f"{type(exc).__name__} {' '.join(map(str, codes))}".strip(), not all(c >= 500 for c in codes)
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int):
        return f"{type(exc).__name__} {code}", code < 500
    if isinstance(exc, ValueError):  # a message that cannot be written (an address no header takes): no retry helps
        return type(exc).__name__, False
    return type(exc).__name__, True


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed try."""
    return min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_MAX)


class Mailer:
    """The app's mail: settings checked at start, the sender thread, and what the routes and templates ask."""

    def __init__(self, app: Flask, transport: Callable[[SMTPConfig, EmailMessage], None] = smtp_send):
        settings = app.extensions["kb"].settings
        self.app = app
        self.smtp = parse_smtp_url(settings.smtp_url)
        self.mail_from = check_mail_from(settings.mail_from, required=self.smtp is not None)
        self.followup_days = settings.followup_days
        self.public_base = settings.public_url.rstrip("/")
        self.transport = transport
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.stepped = threading.Condition()  # notified after each step of the thread (to wait for its work)

    @property
    def enabled(self) -> bool:
        return self.smtp is not None

    # --- follow-up links -------------------------------------------------------------------------------------
    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.app.secret_key, salt=TOKEN_SALT)

    def make_token(self, request_id: int) -> str:
        return self._serializer().dumps({"r": request_id})

    def read_token(self, token: str) -> int:
        """The request id a link names; SignatureExpired past KB_FOLLOWUP_DAYS, BadSignature if forged or broken."""
        data = self._serializer().loads(token, max_age=self.followup_days * 86400)
        if not isinstance(data, dict) or not isinstance(data.get("r"), int):
            raise BadSignature("no request in the link")
        return data["r"]

    def followup_url(self, request_id: int, locale: str | None) -> str:
        """The link to the requester's page: on KB_PUBLIC_URL, else on the host this request came to."""
        path = url_for("followup.show", token=self.make_token(request_id), lang=locale if locale in LOCALES else None)
        base = self.public_base or (request.host_url.rstrip("/") if has_request_context() else "")
        return base + path

    # --- composing and queueing ------------------------------------------------------------------------------
    def _message_id(self, request_id: int, kind: str) -> str:
        domain = parseaddr(self.mail_from)[1].rpartition("@")[2] or urlsplit(self.public_base).hostname or "kb.invalid"
        # short enough that no header holding it is folded: <kb.12.ack.1f2e3d4c5b6a7988@help.example.com>
        return f"<kb.{request_id}.{kind}.{secrets.token_hex(8)}@{domain}>"

    def _queue(self, req: dict[str, Any], kind: str, reply: str = "") -> dict[str, Any]:
        locale = req.get("locale") if req.get("locale") in STRINGS else "en"
        t = {**STRINGS["en"], **STRINGS[locale]}
        subject = " ".join(req["subject"].split())  # a header holds one line
        values = {"number": req["id"], "subject": subject, "next_steps": t["next_steps"], "reply": reply,
                  "link": self.followup_url(req["id"], locale), "days": f"{self.followup_days:g}"}
        earlier = [m["message_id"] for m in reversed(db.mails(request_id=req["id"]))]  # oldest first
        now = time.time()
        row = {
            "request_id": req["id"], "created_at": now, "kind": kind, "recipient": req["email"], "locale": locale,
            "subject": ("Re: " if kind == "reply" else "") + t["mail_subject"].format(**values),
            "body": t["mail_ack_body" if kind == "ack" else "mail_reply_body"].format(**values),
            "message_id": self._message_id(req["id"], kind),
            "in_reply_to": earlier[-1] if earlier else None, "refs": " ".join(earlier) or None,
            "status": "pending" if self.enabled else "off", "attempts": 0,
            "next_attempt_at": now if self.enabled else None,
        }
        row["id"] = db.queue_mail(**row)
        self._wake.set()
        return row

    def request_filed(self, request_id: int) -> None:
        """Queue the acknowledgement of a new request; never raises (the request is filed either way)."""
        try:
            req = db.get_request(request_id)
            if req is not None:
                self._queue(req, "ack")
        except Exception as exc:  # noqa: BLE001 (logged and counted: the request must not fail for its mail)
            self._not_queued("acknowledgement", request_id, exc)

    def agent_replied(self, request_id: int, text: str | None, agent: str | None) -> None:
        """Record the agent's reply in the thread and queue its mail: once per new text (saving the same reply
        again, e.g. only to change the status, sends nothing); never raises."""
        text = (text or "").strip()
        if not text:
            return
        try:
            req = db.get_request(request_id)
            agents = [m for m in db.messages_for(request_id) if m["author"] == "agent"]
            if req is None or (agents and agents[-1]["body"] == text):
                return
            mail = self._queue(req, "reply", text)
            db.add_message(request_id, "agent", text, agent=agent, message_id=mail["message_id"])
        except Exception as exc:  # noqa: BLE001
            self._not_queued("reply", request_id, exc)

    @staticmethod
    def _not_queued(what: str, request_id: int, exc: Exception) -> None:
        if isinstance(exc, StoreError):
            health().failed(f"mail {what}", exc)
        log.error("mail: the %s of request #%d was not queued (%s)", what, request_id, type(exc).__name__)

    # --- sending ---------------------------------------------------------------------------------------------
    def build(self, row: dict[str, Any]) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = Address(addr_spec=row["recipient"])
        msg["Subject"] = row["subject"]
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = row["message_id"]
        if row["in_reply_to"]:
            msg["In-Reply-To"] = row["in_reply_to"]
            msg["References"] = row["refs"] or row["in_reply_to"]
        if row["kind"] == "ack":
            msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: no vacation auto-reply to an acknowledgement
        msg.set_content(row["body"])
        msg["Content-Language"] = row["locale"] or "en"  # after set_content, which drops Content-* headers
        return msg

    def step(self, now: float | None = None) -> int:
        """Send every mail due at `now` (default: the time) once; the number of mails tried. The sender thread
        calls this in a loop; tests call it with the time they want."""
        if not self.enabled:
            return 0
        now = time.time() if now is None else now
        tried = 0
        with self.app.app_context():
            for row in db.due_mails(now):
                if not db.claim_mail(row["id"], row["next_attempt_at"], now + LEASE):
                    continue  # another sender took it
                tried += 1
                attempts = row["attempts"] + 1
                try:
                    self.transport(self.smtp, self.build(row))
                except (smtplib.SMTPException, OSError, ValueError) as exc:
                    error, temporary = describe_error(exc)
                    last = attempts >= MAX_ATTEMPTS or not temporary
                    db.update_mail(row["id"], attempts=attempts, last_error=error[:200],
                                   status="failed" if last else "pending",
                                   next_attempt_at=None if last else now + backoff(attempts))
                    log.warning("mail #%d (request #%d, %s): try %d failed (%s)%s", row["id"], row["request_id"],
                                row["kind"], attempts, error, "; given up" if last else "")
                else:
                    db.update_mail(row["id"], attempts=attempts, status="sent", sent_at=time.time(),
                                   next_attempt_at=None, last_error=None)
        return tried

    def retry(self, mail_id: int) -> bool:
        """An agent sends a failed mail again: it is due now with a fresh count of tries."""
        row = db.get_mail(mail_id)
        if row is None or row["status"] != "failed" or not self.enabled:
            return False
        db.update_mail(mail_id, status="pending", attempts=0, next_attempt_at=time.time())
        self._wake.set()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except StoreError as exc:  # the store is down: try again at the next poll
                with self.app.app_context():
                    health().failed("mail sender", exc)
            except Exception:  # noqa: BLE001 (a bug must not end the thread and with it all mail)
                log.exception("mail sender: unexpected error")
            with self.stepped:
                self.stepped.notify_all()
            self._wake.wait(POLL)
            self._wake.clear()

    def start(self) -> None:
        if self.enabled and self.thread is None:
            self.thread = threading.Thread(target=self._run, name="kb-mail-sender", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.thread is not None:
            self.thread.join(timeout=SMTP_TIMEOUT + 5)
            self.thread = None


def mailer() -> Mailer:
    return current_app.extensions["kb_mail"]


def init_app(app: Flask) -> None:
    """Check the mail settings (a bad one stops the start), register the follow-up pages, start the sender."""
    app.extensions["kb_mail"] = m = Mailer(app)
    from . import followup

    followup.init_app(app)
    app.jinja_env.globals.update(mail_enabled=lambda: m.enabled)
    if app.config.get("MAIL_SENDER_THREAD", True):
        m.start()
    if m.enabled:
        log.info("mail: sending through %s:%d (%s)", m.smtp.host, m.smtp.port, m.smtp.scheme)
    else:
        log.info("mail: off (KB_SMTP_URL not set); mails are kept in the outbox at /agent/outbox")
