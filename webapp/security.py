"""What every response and every state-changing request goes through: CSRF tokens on the pages' forms and
scripts (Flask-WTF), the Origin check on every POST (JSON bodies and APIs included), Secure cookies and HSTS behind an https KB_PUBLIC_URL, and the
security headers."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, abort, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HSTS = "max-age=31536000"


def public_base(settings) -> str:
    """The configured public address without a trailing slash ('' when not configured)."""
    return settings.public_url.rstrip("/")


def init_app(app: Flask) -> None:
    settings = app.extensions["kb"].settings
    https = urlsplit(settings.public_url).scheme == "https"
    public_host = urlsplit(settings.public_url).netloc
    app.config["SESSION_COOKIE_SECURE"] = https
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_hours)
    # A form's token is good for as long as its session: a ticket form left open for an afternoon still sends.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked below, for forms; JSON APIs get the Origin check
    csrf.init_app(app)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)

    @app.before_request
    def refuse_cross_origin():
        if request.method not in UNSAFE:
            return
        origin = request.headers.get("Origin")
        # A browser sends Origin with every cross-origin POST (form or fetch); API clients send none.
        if origin is not None and urlsplit(origin).netloc not in {request.host, public_host} - {""}:
            abort(403, description=f"cross-origin request refused (Origin {origin[:100]})")
        # Pages' forms and scripts send the token (a form field, or the X-CSRFToken header of a fetch); the public
        # JSON APIs (/api/) and Bearer-token clients have no session for another site to ride on.
        bearer = request.headers.get("Authorization", "").startswith("Bearer ")
        if not request.path.startswith("/api/") and not bearer and app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
        )
        if https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
