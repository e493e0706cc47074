"""How the store is doing: failed writes counted for /healthz and logged without what they held.

Search never depends on the store: a log write that fails (full disk, database down) is logged with its error
code only (never the query, the comment or the SQL parameters), counted, and the search is answered. Any other
store error a request meets is a 503 that says so, not a 500."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app
from werkzeug.exceptions import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
StoreError = sa.exc.SQLAlchemyError  # what the engine raises for a full disk, a read-only file, a stopped server


def error_code(exc: BaseException) -> str:
    """The driver's error class and code (SQLITE_FULL, an SQLSTATE): never its message or the statement's values."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorname", None) or getattr(orig, "sqlstate", None)
    return type(orig).__name__ + (f" {code}" if code else "")


class StoreHealth:
    """Per process: failed writes since start, requests answered 503 for the store, and whether the latest store
    operation failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failed_writes = 0
        self.failed_requests = 0
        self.last_failure_at: float | None = None
        self.last_error: str | None = None
        self.last_success_at: float | None = None

    def failed(self, what: str, exc: BaseException, write: bool = True) -> None:
        code = error_code(exc)
        with self._lock:
            if write:
                self.failed_writes += 1
            else:
                self.failed_requests += 1
            self.last_failure_at, self.last_error = time.time(), code
            n = self.failed_writes
        log.warning("store: %s failed (%s); %d failed writes since start", what, code, n)

    def succeeded(self) -> None:
        with self._lock:
            self.last_success_at = time.time()

    def report(self, reachable: bool) -> dict[str, Any]:
        """For /healthz: ok when the store answers and nothing failed since the last write that worked."""
        with self._lock:
            recovered = self.last_failure_at is None or (self.last_success_at or 0) > self.last_failure_at
            return {"ok": reachable and recovered, "reachable": reachable, "failed_writes": self.failed_writes,
                    "failed_requests": self.failed_requests, "last_error": self.last_error,
                    "last_failure_at": self.last_failure_at}


def health() -> StoreHealth:
    return current_app.extensions["kb_store_health"]


def best_effort(what: str, write: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one write that must never fail the request (the search log, a vote): None if the store refused it."""
    try:
        result = write(*args, **kwargs)
    except StoreError as exc:
        health().failed(what, exc)
        return None
    health().succeeded()
    return result


def reachable() -> bool:
    from . import db

    try:
        with db.engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except StoreError:
        return False
    return True


def init_app(app: Flask) -> None:
    app.extensions["kb_store_health"] = StoreHealth()

    @app.errorhandler(StoreError)
    def store_unavailable(exc: StoreError):
        health().failed("a request's store operation", exc, write=False)
        # answered like any HTTP error: JSON for /api/*, the error page for pages
        return app.handle_http_exception(ServiceUnavailable(
            "The store is unavailable at the moment; nothing was changed. Please try again in a few minutes."))
