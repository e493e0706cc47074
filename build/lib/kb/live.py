"""LiveIndex: the searcher a server uses, switched to a newly published build without a restart."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from .cache import QueryCache
from .config import Settings
from .embed import Embedder
from .errors import IndexNotBuilt, KBError
from .index import set_threads
from .search import Searcher
from .store import BUILD_HINT, current_build, current_link, load_snapshot

log = logging.getLogger(__name__)


class LiveIndex:
    """Holds the current Searcher; a cheap readlink every `reload_interval` seconds notices a new build,
    which is loaded in a background thread while requests keep using the old one."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        set_threads(settings.threads)
        self.embedder = QueryCache(embedder, settings.query_cache_size) if settings.query_cache_size else embedder
        self._lock = threading.Lock()
        self._loading = False
        self._next_check = 0.0
        self._failed: dict[Path, str] = {}
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._searcher = self._initial()

    def _load(self, build: Path) -> Searcher:
        snapshot = load_snapshot(build, self.embedder.name, self.embedder.dim)
        return Searcher(snapshot, self.embedder, self.settings)

    def _initial(self) -> Searcher:
        """The live build; if it is unreadable, the newest older build that loads (and say so)."""
        build = current_build(self.settings.index_dir)
        if build is None:
            raise IndexNotBuilt(f"no index in {self.settings.index_dir}; {BUILD_HINT}")
        try:
            return self._load(build)
        except KBError as exc:
            self._failed[build] = str(exc)
            self.last_error = str(exc)
            builds = sorted((p for p in (Path(self.settings.index_dir) / "builds").glob("[!.]*") if p != build), reverse=True)
            for older in builds:
                try:
                    searcher = self._load(older)
                except KBError:
                    continue
                log.error("live index unusable (%s); serving the older build %s", exc, older.name)
                return searcher
            raise

    @property
    def searcher(self) -> Searcher:
        self.maybe_reload()
        return self._searcher

    def maybe_reload(self, wait: bool = False) -> None:
        now = time.monotonic()
        if now < self._next_check and not wait:
            return
        self._next_check = now + self.settings.reload_interval
        try:
            build = current_build(self.settings.index_dir)
        except OSError:
            return
        if build is None or build == self._searcher.snapshot.path or build in self._failed:
            if wait and self._thread is not None:
                self._thread.join()
            return
        with self._lock:
            if not self._loading:
                self._loading = True
                self._thread = threading.Thread(target=self._reload, args=(build,), name="kb-index-reload", daemon=True)
                self._thread.start()
            thread = self._thread
        if wait and thread is not None:
            thread.join()

    def _reload(self, build: Path) -> None:
        try:
            searcher = self._load(build)
        except KBError as exc:
            self._failed[build] = str(exc)
            self.last_error = str(exc)
            log.error("new index at %s not loaded, still serving %s: %s", build, self._searcher.snapshot.path.name, exc)
        else:
            self._searcher = searcher  # one reference assignment: requests see the old or the new, never a mix
            self.last_error = None
            log.info("switched to index %s (%s)", build.name, current_link(self.settings.index_dir))
        finally:
            with self._lock:
                self._loading = False
