"""The Flask app: help-center pages, the JSON API and health, over one LiveIndex loaded at start."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from kb.config import Settings
from kb.embed import Embedder, load_embedder
from kb.lexical import warm_up_in_background
from kb.live import LiveIndex
from kb.triage import UrgentRules

from . import auth, db, errors, i18n, mail, ratelimit, replica, security
from .state import KBState


def split_config(config: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate kb settings (`index_dir` or `KB_INDEX_DIR`) from Flask's own keys (TESTING, ...)."""
    known = {name for name, _, _ in Settings.describe()}
    kb_values, flask_values = {}, {}
    for key, value in (config or {}).items():
        name = key.lower()[3:] if key.upper().startswith("KB_") else key.lower()
        (kb_values if name in known else flask_values)[name if name in known else key] = value
    return kb_values, flask_values


def wants_json() -> bool:
    """An error for a script (the APIs, /healthz, a fetch that sent JSON) is JSON; a page's is a page."""
    return request.path.startswith("/api/") or request.path == "/healthz" or request.is_json


def create_app(config: Mapping[str, Any] | None = None, *, embedder: Embedder | None = None) -> Flask:
    """App factory: settings from KB_* variables overridden by `config` (checked: a bad or unknown setting
    stops the start with a message naming it); model and index loaded once here. `embedder` replaces the
    configured model (tests pass the one they already loaded)."""
    app = Flask(__name__)
    kb_values, flask_values = split_config(config)
    settings = Settings.from_env(**kb_values)
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key or None,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    app.config.update(flask_values)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    warm_up_in_background()  # the segmenter's dictionary loads while the model and index do
    embedder = embedder or load_embedder(settings.model, settings.threads, settings.query_threads)
    poller = replica.init(settings, embedder.name)  # KB_INDEX_SOURCE: the published build, fetched if none is here
    live = LiveIndex(settings, embedder)
    app.extensions["kb"] = KBState(settings, live, UrgentRules.load(settings.urgent_topics or None), replica=poller)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = auth.persistent_secret(Path(settings.db_path).parent / "secret-key")

    from .agent import bp as agent_bp
    from .api import bp as api_bp
    from .instant import bp as instant_bp
    from .pages import bp as pages_bp
    from .tickets import bp as tickets_bp
    from .writers import bp as writers_bp

    for bp in (pages_bp, api_bp, instant_bp, tickets_bp, agent_bp, writers_bp):
        app.register_blueprint(bp)
    i18n.init_app(app)
    db.init_app(app)
    app.jinja_env.filters["datetime"] = lambda ts: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
    auth.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    mail.init_app(app)  # the requester's mail: settings checked, follow-up pages and outbox, the sender thread
    app.jinja_env.globals["public_base"] = security.public_base(settings)
    if poller is not None:
        poller.start()  # last: a start that fails above leaves no thread behind
    first = threading.Lock()

    @app.after_request
    def instant_after_first_answer(response):
        # The prefix tables of suggestions while typing are made once the first response is sent, not before it.
        if not first.locked() and first.acquire(blocking=False):
            response.call_on_close(live.warm_instant)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            body = {"ok": False, "error": exc.description, "status": exc.code}
            if getattr(exc, "parameter", None):
                body["parameter"] = exc.parameter
            return jsonify(body), exc.code
        return errors.render_error_page(exc)  # the reader's language, no developer text

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify(ok=False, error="internal error; it has been logged", status=500), 500
        return errors.render_error_page(InternalServerError())

    return app
