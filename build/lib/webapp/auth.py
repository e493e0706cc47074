"""Agent login: a configured token, or a users file of hashed passwords. No built-in password:
with neither configured, a random token is generated once into var/agent-token (mode 0600)."""
from __future__ import annotations

import functools
import hmac
import logging
import os
import secrets
from pathlib import Path

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash

log = logging.getLogger(__name__)


def load_users(path: str) -> dict[str, str]:
    users = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not name or not hashed:
            raise ValueError(f"{path}:{n}: expected 'name:password-hash'")
        users[name] = hashed
    return users


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
    users = load_users(settings.agent_users) if settings.agent_users else {}
    token = settings.agent_token
    if not token and not users:
        token_file = Path(settings.db_path).parent / "agent-token"
        token = persistent_secret(token_file)
        log.warning("no agent token or users configured: agents log in with the token in %s", token_file)
    app.extensions["kb"].agents = {"token": token, "users": users}


def check_login(name: str, secret: str) -> str | None:
    """The agent's name if the credentials are right, else None."""
    agents = current_app.extensions["kb"].agents
    if agents["users"]:
        hashed = agents["users"].get(name)
        return name if hashed and check_password_hash(hashed, secret) else None
    token = agents["token"]
    return (name or "agent") if token and hmac.compare_digest(secret.encode(), token.encode()) else None


def current_agent() -> str | None:
    """From the session cookie, or an `Authorization: Bearer <token>` header for API clients."""
    if "agent" in g:
        return g.agent
    agent = session.get("agent")
    header = request.headers.get("Authorization", "")
    if not agent and header.startswith("Bearer "):
        agent = check_login("api", header[7:].strip())
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
