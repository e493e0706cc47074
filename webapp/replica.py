"""A replica: with KB_INDEX_SOURCE set, a thread per process polls the PostgreSQL database builds are published to
(kb build --publish-to) every KB_INDEX_POLL_SECONDS and fetches a newer build into the local index folder
(kb.replicate.Source.fetch); the LiveIndex then switches to it as to a local build. A failed check is logged when its
error changes, counted and shown in /healthz: it never stops the thread or fails a request.

Also registers the published-build tables on the store's metadata, so that the migrations' check (and autogenerate)
sees the tables revision 0007 made as part of the schema."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from kb import replicate
from kb.config import Settings
from kb.errors import KBError
from kb.store import current_build

from . import db

log = logging.getLogger(__name__)

for _table in replicate.metadata.sorted_tables:
    if _table.name not in db.metadata.tables:
        _table.to_metadata(db.metadata)


class Replica:
    """The poller of one process: its source, its thread and what /healthz reports."""

    def __init__(self, settings: Settings, model: str | None = None):
        self.source = replicate.Source(settings.index_source)
        self.index_dir, self.keep, self.every, self.model = settings.index_dir, settings.keep_builds, \
            settings.index_poll_seconds, model
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.published: str | None = None  # the build the source's `current` named at the last check
        self.fetched: str | None = None  # the last build this process downloaded
        self.checks = self.failures = 0
        self.last_error: str | None = None
        self.last_check_at: float | None = None

    def poll(self, wait: bool = False) -> Path | None:
        """One check, and a fetch when the source has a newer build: the build made current, or None. Raises
        what went wrong, after counting and logging it."""
        try:
            published = self.source.current()
            with self._lock:
                self.published = published.name if published else None
            fetched = self.source.fetch(self.index_dir, published, self.keep, wait, self.model) if published else None
        except Exception as exc:  # noqa: BLE001 (a bug must not end the thread: counted and reported)
            message = str(exc) if isinstance(exc, KBError) else f"{type(exc).__name__}: {replicate.reason(exc)}"
            with self._lock:
                self.checks += 1
                self.failures += 1
                self.last_check_at = time.time()
                repeated, self.last_error = self.last_error == message, message
            if not repeated:
                log.error("replica: cannot fetch from %s: %s", self.source.where, message,
                          exc_info=not isinstance(exc, KBError))
            raise
        with self._lock:
            self.checks += 1
            self.last_check_at = time.time()
            if self.last_error is not None:
                log.info("replica: %s answers again", self.source.where)
            self.last_error = None
            if fetched is not None:
                self.fetched = fetched.name
        return fetched

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 (logged and counted by poll)
                pass

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="kb-replica", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=60)  # a download in progress finishes (or fails) first
            self.thread = None
        self.source.dispose()

    def report(self) -> dict[str, Any]:
        """For /healthz (agents): ok while the last check worked."""
        with self._lock:
            return {"ok": self.last_error is None, "source": self.source.where, "published": self.published,
                    "fetched": self.fetched, "checks": self.checks, "failed_checks": self.failures,
                    "last_error": self.last_error, "last_check_at": self.last_check_at,
                    "poll_seconds": self.every}


def init(settings: Settings, model: str | None) -> Replica | None:
    """The replica of KB_INDEX_SOURCE (None when unset), not started yet, after one check: a newer published build
    is fetched before the LiveIndex made next loads the local one. With no local index, that check waits for
    another worker fetching it, and a failure stops the start (there is nothing to serve)."""
    if not settings.index_source:
        return None
    replica = Replica(settings, model)
    missing = current_build(settings.index_dir) is None
    try:
        replica.poll(wait=missing)
    except Exception as exc:  # noqa: BLE001 (with a local index: logged and counted by poll, served anyway)
        if missing:
            replica.stop()
            raise replicate.ReplicaError(f"no index in {settings.index_dir} and none fetched from "
                                         f"{replica.source.where}: {exc}") from None
    if current_build(settings.index_dir) is None:
        replica.stop()
        raise replicate.ReplicaError(f"no index in {settings.index_dir} and no build published to "
                                     f"{replica.source.where} yet; run: kb build --publish-to <that database's URL>")
    return replica
