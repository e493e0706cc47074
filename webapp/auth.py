"""Agent login: a configured token, or a users file of hashed passwords. No built-in password:
with neither configured, a random token is generated once into var/agent-token (mode 0600).

Sessions are kept on the server (db.agent_sessions): the cookie holds a random session id, and each request
looks it up. A session ends at logout, `KB_SESSION_HOURS` after login, `KB_SESSION_IDLE_MINUTES` after its last
request, and as soon as the credential it was opened with is gone: a new `KB_AGENT_TOKEN`, a changed password,
or a user removed from `KB_AGENT_USERS` (each session records a fingerprint of its credential). The users file
is read again when it changes (`kb add-agent`, an edit; see Users): a new password or a removed user takes effect
within about two seconds, without a restart."""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from . import db, storehealth
from .ratelimit import count_failure, over_limit

log = logging.getLogger(__name__)

@functools.cache
def dummy_hash() -> str:
    """Checked against a password when the user name is unknown, so that a wrong name costs as long as a wrong
    password (no telling from the time which names exist). Made once per process, in the background at start when
    there are users (init_app): about 0.2 s that a start does not wait for."""
    return generate_password_hash(secrets.token_urlsafe(16))
TOUCH_EVERY = 60.0  # seconds: how stale a session's last_seen may get before a request writes it again


def load_users(path: str) -> dict[str, str]:
    return parse_users(Path(path).read_bytes(), path)


def parse_users(data: bytes, path: str) -> dict[str, str]:
    """The names and hashes of a users file's bytes (ValueError naming the file, and the line, if they are not)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 ({exc.reason})") from None
    users = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not name or not hashed:
            raise ValueError(f"{path}:{n}: expected 'name:password-hash'")
        users[name] = hashed
    return users


class Users:
    """The users file's names and hashes, read again when its contents change (read at most once a second; the
    file is a few lines). A new version is taken once two reads in a row agree, so that a file caught half
    rewritten is never taken for the truth. One that no longer parses, or that has lost every user while agents
    were configured, keeps the users the server has and says why once: locking every agent out, or letting a
    removed one in, would both be worse."""

    CHECK_EVERY = 1.0

    def __init__(self, path: str):
        self.path = path
        data = Path(path).read_bytes()
        self.by_name = parse_users(data, path)
        self._digest = hashlib.sha256(data).digest()
        self._pending: bytes | None = None  # a changed version seen once
        self._refused: bytes | None = None  # a changed version already refused
        self._said: tuple[bytes, str] | None = None  # the last refusal logged
        self._lock = threading.Lock()
        self._next_check = time.monotonic() + self.CHECK_EVERY

    def current(self) -> dict[str, str]:
        now = time.monotonic()
        if now < self._next_check:
            return self.by_name
        with self._lock:
            if now >= self._next_check:
                self._next_check = now + self.CHECK_EVERY
                self._check()
        return self.by_name

    def _check(self) -> None:
        try:
            data = Path(self.path).read_bytes()
        except OSError as exc:
            return self._refuse(b"", f"unreadable ({exc.strerror})")
        digest = hashlib.sha256(data).digest()
        if digest == self._digest or digest == self._refused:
            self._pending = None
            return
        if digest != self._pending:  # changed: taken at the next read if it still says the same
            self._pending = digest
            return
        self._pending = None
        try:
            users = parse_users(data, self.path)
        except ValueError as exc:
            return self._refuse(digest, str(exc))
        if not users and self.by_name:
            return self._refuse(digest, "it has no users left (restart the server to log in with the token)")
        self.by_name, self._digest = users, digest
        log.info("agent users file changed: %d users", len(users))

    def _refuse(self, digest: bytes, why: str) -> None:
        """Keep the users; say why once for each version (b"": the file could not be read)."""
        if (digest, why) != self._said:
            log.error("agent users file not taken, keeping its %d users: %s", len(self.by_name), why)
            self._said = (digest, why)
        if digest:
            self._refused = digest


def persistent_secret(path: Path) -> str:
    """A random secret created once (mode 0600) and reused, so that sessions survive a restart."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def init_app(app: Flask) -> None:
    settings = app.extensions["kb"].settings
    users = Users(settings.agent_users) if settings.agent_users else None  # while it has none, the token logs in
    token = settings.agent_token
    if not token and (users is None or not users.by_name):
        token_file = Path(settings.db_path).parent / "agent-token"
        token = persistent_secret(token_file)
        log.warning("no agent token or users configured: agents log in with the token in %s", token_file)
    app.extensions["kb"].agents = {"token": token, "users": users}
    if users is not None:  # hashlib's key derivation lets go of the GIL: requests are served meanwhile
        threading.Thread(target=dummy_hash, name="kb-dummy-hash", daemon=True).start()


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(("kb-agent-credential\0" + secret).encode()).hexdigest()


def configured_users() -> dict[str, str]:
    """The agents of the users file as it is now (empty: there is none, or it has no users yet; the token logs in)."""
    users = current_app.extensions["kb"].agents["users"]
    return users.current() if users is not None else {}


def credential(name: str) -> str | None:
    """A fingerprint of the credential agent `name` logs in with now (None: the agent no longer exists)."""
    users = configured_users()
    if users:
        hashed = users.get(name)
        return _fingerprint(hashed) if hashed else None
    token = current_app.extensions["kb"].agents["token"]
    return _fingerprint(token) if token else None


def verify_login(name: str, secret: str) -> tuple[str, str] | None:
    """The agent's name and the fingerprint of the credential that was checked, if the credentials are right."""
    users = configured_users()
    if users:
        hashed = users.get(name)
        right = check_password_hash(hashed or dummy_hash(), secret)
        return (name, _fingerprint(hashed)) if hashed and right else None
    token = current_app.extensions["kb"].agents["token"]
    if token and hmac.compare_digest(secret.encode(), token.encode()):
        return name or "agent", _fingerprint(token)
    return None


def check_login(name: str, secret: str) -> str | None:
    """The agent's name if the credentials are right, else None."""
    verified = verify_login(name, secret)
    return verified[0] if verified else None


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(agent: str, checked: str) -> None:
    """Log `agent` in: a new server-side session (any earlier cookie state is dropped: no session fixation),
    bound to `checked`, the fingerprint of the credential the login was checked against (verify_login): a password
    changed while it was being checked ends this session at its first use, not the next one."""
    settings = current_app.extensions["kb"].settings
    session.clear()
    session_id = secrets.token_urlsafe(32)
    db.open_session(_session_hash(session_id), agent, checked, settings.session_hours)
    session["sid"] = session_id
    session.permanent = True  # the cookie ends with the session (PERMANENT_SESSION_LIFETIME = KB_SESSION_HOURS)
    g.agent = agent


def end_session() -> None:
    session_id = session.pop("sid", None)
    if isinstance(session_id, str):
        db.close_session(_session_hash(session_id))
    session.clear()
    g.agent = None


def session_agent() -> str | None:
    """The agent of the request's session, if it is still open; an ended one is removed."""
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        return None
    key = _session_hash(session_id)
    row = db.get_session(key)
    if row is None:
        return None
    settings = current_app.extensions["kb"].settings
    now = time.time()
    idle = now - row["last_seen"] > settings.session_idle_minutes * 60
    current = credential(row["agent"])
    if now >= row["expires_at"] or idle or current is None or not hmac.compare_digest(row["credential"], current):
        db.close_session(key)
        session.pop("sid", None)
        return None
    if now - row["last_seen"] > TOUCH_EVERY:
        db.touch_session(key, now)
    return row["agent"]


def current_agent() -> str | None:
    """From the session cookie, or an `Authorization: Bearer <token>` header for API clients."""
    if "agent" in g:
        return g.agent
    try:
        agent = session_agent()
    except storehealth.StoreError as exc:  # the store is down: no session can be checked, so none is open
        storehealth.health().failed("session lookup", exc, write=False)
        agent = None
    header = request.headers.get("Authorization", "")
    if not agent and header.startswith("Bearer "):
        if over_limit("bearer"):
            abort(429, description="too many wrong tokens from this address; try again later")
        agent = check_login("api", header[7:].strip())
        if agent is None:
            count_failure("bearer")
    g.agent = agent
    return agent


def agent_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_agent() is None:
            if request.path.startswith("/api/"):
                abort(401, description="agent login required (session cookie or Authorization: Bearer <token>)")
            return redirect(url_for("agent.login", next=request.full_path))
        return view(*args, **kwargs)
    return wrapped


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: never an open redirect. Browsers read `/\\t/host`,
    `/\\n/host` and `/\\\\host` as `//host`, so any control character or backslash is refused."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    return target
