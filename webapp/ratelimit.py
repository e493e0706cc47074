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
with the proxy's address forwarded: see the README).

Counters live in KB_RATE_LIMIT_STORAGE: `memory://` per process, `redis://host:6379` shared by every process and
replica. A shared store that is down never fails a request: the limits count in this process's memory until the
store answers again (Flask-Limiter's in-memory fallback for its own limits, `limit_fallback` for the ones counted here)."""
from __future__ import annotations

import logging
import re
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import STRATEGIES

from kb.config import SettingsError

log = logging.getLogger(__name__)

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


def storage_options(uri: str) -> dict:
    """Every backend's errors raised as limits' StorageError; a redis that does not answer is given up on after half
    a second, not left to hold the request (redis-py waits without limit by default)."""
    options: dict = {"wrap_exceptions": True}
    if uri.partition(":")[0] in ("redis", "rediss", "redis+unix"):
        options.update(socket_connect_timeout=0.5, socket_timeout=0.5)
    return options


def init_app(app: Flask) -> None:
    settings = app.extensions["kb"].settings
    limits = parse_limits(settings.rate_limits)
    app.config.setdefault("RATELIMIT_ENABLED", limits is not None)
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.rate_limit_storage)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", storage_options(app.config["RATELIMIT_STORAGE_URI"]))
    # the store down: count in this process until it answers again (checked at growing intervals), and an error
    # the fallback does not cover (a deduction after the response) is logged, never a 500
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.extensions["kb"].rate_limits = limits or {}
    # One limiter per app (its limits are registered per view below; a module-level one would collect every app's)
    limiter = Limiter(key_func=get_remote_address, headers_enabled=True, app=app)
    app.extensions["kb"].limiter = limiter
    # the limits counted by hand (over_limit, count, retry_after) fall back to this while the store is down
    app.extensions["kb"].limit_fallback = STRATEGIES[app.config.get("RATELIMIT_STRATEGY", "fixed-window")](MemoryStorage())
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


def _counted(group: str, call):
    """`call(strategy, items)` on the shared store; on this process's own counters while the store fails."""
    strategy, items = _limits(group)
    try:
        return call(strategy, items)
    except StorageError as exc:
        log.warning("rate-limit store unreachable (%s): counting %s in this process", type(exc.storage_error).__name__, group)
        return call(current_app.extensions["kb"].limit_fallback, items)


def over_limit(group: str, key: str | None = None) -> bool:
    """Whether this client (or `key`) has used up `group` (for limits counted by hand: failed Bearer tokens, the
    requests of one e-mail address)."""
    key = key or get_remote_address()
    return _counted(group, lambda strategy, items: any(not strategy.test(item, group, key) for item in items))


def count(group: str, key: str | None = None) -> None:
    """Count one event against `group` for this client (or `key`)."""
    key = key or get_remote_address()
    _counted(group, lambda strategy, items: [strategy.hit(item, group, key) for item in items])


def count_failure(group: str) -> None:
    count(group)


def retry_after(group: str, key: str | None = None) -> int:
    """Seconds until this client (or `key`) may act in `group` again (0: now)."""
    key = key or get_remote_address()
    stats = _counted(group, lambda strategy, items: [strategy.get_window_stats(item, group, key) for item in items])
    waits = [s.reset_time - time.time() for s in stats if s.remaining <= 0]
    return max(1, int(max(waits)) + 1) if waits else 0
