"""Rate limits per client (Flask-Limiter), all from one setting, KB_RATE_LIMITS: `group=N/period;N/period`, comma
separated, or `off`. Groups:

    login    failed agent logins (a right one is never counted)
    bearer   failed `Authorization: Bearer` tokens; over the limit, a client's Bearer header is not even checked
    search   the search page, /api/search, /api/articles/<id>
    suggest  the ticket form's suggestions and deflections (it asks while the user types)
    instant  the search box's suggestions while typing (/api/instant, about one request a keystroke) and the
             chosen suggestion (/instant/open)
    write    new requests and helpful votes (anonymous writes; logged-in agents' work is not limited: a desk
             behind one office address would hit any per-address limit together)
    email    new requests per requester's e-mail address, whichever client files them (counted by the ticket
             form itself: a limited form comes back with the user's text and says why)

A limited request gets 429 with a Retry-After header. The client is the connecting address (behind a proxy, run
with the proxy's address forwarded: see the README)."""
from __future__ import annotations

import re
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from kb.config import SettingsError

GROUPS = ("login", "bearer", "search", "suggest", "instant", "write", "email")
# endpoint → group; the endpoints' own views stay free of limit decorators (one table, here)
ROUTES = {
    "pages.search": "search", "api.search": "search", "api.article": "search",
    "instant.suggest": "instant", "instant.open_article": "instant",
    "tickets.api_suggest": "suggest", "tickets.api_deflect": "suggest", "tickets.api_undo_deflection": "suggest",
    "tickets.submit_request": "write", "pages.vote": "write",
}


def parse_limits(spec: str) -> dict[str, str] | None:
    """KB_RATE_LIMITS as {group: "N/period;N/period"}; None for `off`. A bad value is a SettingsError naming it."""
    spec = spec.strip()
    if spec.lower() == "off":
        return None
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        group, sep, value = part.partition("=")
        group, value = group.strip(), value.strip()
        if not sep or group not in GROUPS:
            raise SettingsError(f"KB_RATE_LIMITS: {part!r}: expected group=N/period with a group among {', '.join(GROUPS)}")
        try:
            if not value or not parse_many(value):
                raise ValueError(value)
        except ValueError:
            raise SettingsError(f"KB_RATE_LIMITS: {group}={value!r} is not a limit such as 10/minute;100/hour") from None
        out[group] = re.sub(r"\s+", " ", value)
    return out


def init_app(app: Flask) -> None:
    settings = app.extensions["kb"].settings
    limits = parse_limits(settings.rate_limits)
    app.config.setdefault("RATELIMIT_ENABLED", limits is not None)
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.rate_limit_storage)
    app.extensions["kb"].rate_limits = limits or {}
    # One limiter per app (its limits are registered per view below; a module-level one would collect every app's)
    limiter = Limiter(key_func=get_remote_address, headers_enabled=True, app=app)
    app.extensions["kb"].limiter = limiter
    views = app.view_functions  # a decorated view checks its limit when called, so the views are replaced
    for endpoint, group in ROUTES.items():
        if limits and group in limits:
            views[endpoint] = limiter.shared_limit(limits[group], scope=group)(views[endpoint])
    if limits and "login" in limits:
        views["agent.login"] = limiter.shared_limit(limits["login"], scope="login", methods=["POST"],
                                                    deduct_when=lambda response: response.status_code == 401)(views["agent.login"])


def _limits(group: str):
    state = current_app.extensions["kb"]
    value = state.rate_limits.get(group)
    if not value or not state.limiter.enabled:  # off: the limiter has no strategy to ask
        return None, []
    return state.limiter.limiter, parse_many(value)


def over_limit(group: str, key: str | None = None) -> bool:
    """Whether this client (or `key`) has used up `group` (for limits counted by hand: failed Bearer tokens, the
    requests of one e-mail address)."""
    strategy, items = _limits(group)
    return any(not strategy.test(item, group, key or get_remote_address()) for item in items)


def count(group: str, key: str | None = None) -> None:
    """Count one event against `group` for this client (or `key`)."""
    strategy, items = _limits(group)
    for item in items:
        strategy.hit(item, group, key or get_remote_address())


def count_failure(group: str) -> None:
    count(group)


def retry_after(group: str, key: str | None = None) -> int:
    """Seconds until this client (or `key`) may act in `group` again (0: now)."""
    strategy, items = _limits(group)
    key = key or get_remote_address()
    waits = [stats.reset_time - time.time() for stats in (strategy.get_window_stats(item, group, key) for item in items)
             if stats.remaining <= 0]
    return max(1, int(max(waits)) + 1) if waits else 0
