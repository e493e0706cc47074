"""Log retention while serving: search-log rows and votes older than KB_LOG_RETENTION_DAYS are deleted at start
and then every PURGE_EVERY seconds, by the first request after the time is up (in a background thread, so that
no request waits for the delete)."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from . import db
from .storehealth import best_effort

log = logging.getLogger(__name__)
PURGE_EVERY = 3600.0  # seconds


class PurgeSchedule:
    """When the next purge is due; `claim` hands each due time to exactly one caller (threads and requests race)."""

    def __init__(self, every: float = PURGE_EVERY, now: float | None = None):
        self.every = every
        self.next_at = (time.monotonic() if now is None else now) + every
        self.thread: threading.Thread | None = None  # the latest purge (tests join it)
        self._lock = threading.Lock()

    def claim(self, now: float) -> bool:
        with self._lock:
            if now < self.next_at:
                return False
            self.next_at = now + self.every
            return True


def purge(app: Flask) -> int | None:
    """Apply the retention once: the number of rows deleted, or None if the store refused (logged, counted)."""
    with app.app_context():
        n = best_effort("retention purge", db.purge_older_than, app.extensions["kb"].settings.log_retention_days)
    if n:
        log.info("retention: %d search-log rows and votes deleted", n)
    return n


def init_app(app: Flask) -> None:
    purge(app)  # at every start, as before
    schedule = PurgeSchedule()
    app.extensions["kb_purge_schedule"] = schedule

    @app.before_request
    def purge_when_due():
        if schedule.claim(time.monotonic()):
            schedule.thread = threading.Thread(target=purge, args=(app,), name="kb-retention", daemon=True)
            schedule.thread.start()
