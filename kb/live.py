"""LiveIndex: the searcher a server uses, switched to a newly published build without a restart."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .cache import QueryCache
from .config import Settings
from .embed import Embedder
from .errors import IndexMismatch, IndexNotBuilt, KBError
from .index import set_threads
from .manifest import REBUILD_HINT, require_servable
from .memory import fewer_collections
from .search import Searcher
from .store import (BUILD_HINT, changed_files, current_build, current_link, fallback_builds, load_snapshot,
                    read_progress)

log = logging.getLogger(__name__)

# The live build's searcher as a server's master process made it before forking its workers (preload): each
# worker starts from the master's pages, shared copy-on-write, instead of reading and parsing a copy of its own.
_preloaded: dict[Path, Searcher] = {}


@dataclass(frozen=True)
class _Unloaded:
    """The name and dimension of the model a build was made with, standing for the model in a searcher made
    before any is loaded; a worker gives the searcher its own model before the first search."""

    name: str
    dim: int

    def encode_queries(self, texts):
        raise RuntimeError("a preloaded searcher was searched before its worker gave it a model")

    encode_passages = encode_queries


def preload(settings: Settings) -> Searcher | None:
    """Load the live build and make its searcher and prefix tables now, for the LiveIndex of every process
    forked after this call (None: nothing to preload, or it does not load: each worker then loads, falls back
    or refuses, and says why, as without). No model is loaded or run: a worker checks the build against its own
    model before serving it."""
    build = current_build(settings.index_dir)
    if build is None or not build.is_dir():
        return None
    with fewer_collections():
        try:
            snapshot = load_snapshot(build, served=True)
        except KBError as exc:
            log.info("live build not preloaded (%s): each worker loads it", exc)
            return None
        searcher = Searcher(snapshot, _Unloaded(snapshot.manifest.model, snapshot.manifest.dim), settings)
        searcher.instant
    _preloaded[build] = searcher
    return searcher


class LiveIndex:
    """Holds the current Searcher; a cheap readlink every `reload_interval` seconds notices a new build,
    which is loaded in a background thread while requests keep using the old one. The same check stats the
    serving build's files: one changed on disk is reported, and a memory-mapped build is left for a published
    build of the same model (a read of a truncated mapping kills the process)."""

    def __init__(self, settings: Settings, embedder: Embedder):
        self.settings = settings
        set_threads(settings.threads)
        self.embedder = QueryCache(embedder, settings.query_cache_size) if settings.query_cache_size else embedder
        self._lock = threading.Lock()
        self._loading = False
        self._next_check = 0.0
        self._failed: dict[Path, str] = {}
        self._thread: threading.Thread | None = None
        self._preloaded: Searcher | None = None  # the master's (kb.live.preload), while it is served
        self.last_error: str | None = None
        self._searcher = self._initial()

    def _take_preloaded(self, build: Path) -> Searcher | None:
        """The build's searcher as the master process made it, if it did (checked against this model as a load
        is, and its files' sizes against the manifest again: they may have changed since), given this model."""
        searcher = _preloaded.pop(build, None)
        if searcher is None:
            return None
        require_servable(searcher.snapshot.manifest, build, self.embedder.name, self.embedder.dim)
        if changed_files(build, searcher.snapshot.manifest):
            return None
        if searcher.settings != self.settings or searcher.ranker.model_name != self.embedder.name:
            return Searcher(searcher.snapshot, self.embedder, self.settings)
        searcher.embedder = self.embedder
        self._preloaded = searcher
        return searcher

    def _load(self, build: Path, instant: bool = True) -> Searcher:
        with fewer_collections():
            searcher = self._take_preloaded(build)
            if searcher is None:
                snapshot = load_snapshot(build, self.embedder.name, self.embedder.dim, served=True)
                searcher = Searcher(snapshot, self.embedder, self.settings)
            if instant:
                searcher.instant  # the prefix tables, made here while requests are served by the build before
        return searcher

    def _initial(self) -> Searcher:
        """The live build; if it is unreadable, the last published build of its model that loads (and say so).
        A live build that this model cannot search is refused: falling back would serve what `current` is not."""
        build = current_build(self.settings.index_dir)
        if build is None:
            raise IndexNotBuilt(f"no index in {self.settings.index_dir}; {BUILD_HINT}")
        try:
            return self._load(build, instant=False)  # the prefix tables after the first answer (warm_instant)
        except IndexMismatch:
            raise
        except KBError as exc:
            self._failed[build] = str(exc)
            self.last_error = str(exc)
            searcher = self._fall_back(build)
            if searcher is None:
                raise
            log.error("live index unusable (%s); serving the older published build %s", exc, searcher.snapshot.path.name)
            return searcher

    def _fall_back(self, failed: Path) -> Searcher | None:
        for older in fallback_builds(self.settings.index_dir, failed):
            if older in self._failed:
                continue
            try:
                return self._load(older)
            except KBError as exc:
                log.error("published build %s does not load either: %s", older.name, exc)
        return None

    def warm_instant(self) -> threading.Thread:
        """Make the serving searcher's prefix tables (kb.instant) in a background thread: a start does not wait
        for them, and a keystroke that comes first waits for this thread's tables (cached_property's lock)."""
        searcher = self._searcher
        thread = threading.Thread(target=lambda: searcher.instant, name="kb-instant-tables", daemon=True)
        thread.start()
        return thread

    def indexing(self) -> dict | None:
        """How far a build of this machine is with its vectors ({"partial", "done", "total", "percent"}: partial when
        the served build is a lexical snapshot), or None when no build is computing any and the build is complete."""
        progress = read_progress(self.settings.index_dir)
        partial = self._searcher.snapshot.manifest.partial
        if progress is None and not partial:
            return None
        return {"partial": partial, **(progress or {"done": None, "total": None, "percent": None})}

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
        self._check_serving()
        if build is not None and build != self._searcher.snapshot.path and build not in self._failed:
            self._start(self._reload, build)
        with self._lock:
            thread = self._thread
        if wait and thread is not None:
            thread.join()

    def _start(self, target, build: Path) -> None:
        with self._lock:
            if not self._loading:
                self._loading = True
                self._thread = threading.Thread(target=target, args=(build,), name="kb-index-reload", daemon=True)
                self._thread.start()

    def _check_serving(self) -> None:
        """Stat the serving build's files (cheap): a size that is not the manifest's is reported once, and a
        mapped build is replaced by the last published build of its model that loads."""
        snap = self._searcher.snapshot
        if snap.path in self._failed:
            return
        changed = changed_files(snap.path, snap.manifest)
        if not changed:
            return
        message = f"{changed[0]} (changed since it was built); {REBUILD_HINT}"
        with self._lock:
            if snap.path in self._failed:
                return
            self._failed[snap.path] = self.last_error = message
        if snap.mapped:
            log.error("serving build changed on disk: %s; switching to an older published build", message)
            self._start(self._leave, snap.path)
        else:
            log.error("serving build changed on disk: %s; still serving the copy loaded in memory", message)

    def _leave(self, failed: Path) -> None:
        try:
            searcher = self._fall_back(failed)
            if searcher is None:
                log.error("no published build to fall back to; still serving %s, mapped from a changed file", failed.name)
            else:
                self._switch(searcher)
                log.error("serving the older published build %s instead of %s", searcher.snapshot.path.name, failed.name)
        finally:
            with self._lock:
                self._loading = False

    def _switch(self, searcher: Searcher) -> None:
        old, self._searcher = self._searcher, searcher  # one reference assignment: requests see the old or the new
        if old is self._preloaded:
            # Frozen by the master (gc.freeze), so never collected: its one cycle (searcher ↔ prefix tables) is broken
            # for reference counting to free it (a request still holding it would make its tables again).
            old.__dict__.pop("instant", None)
            self._preloaded = None

    def _reload(self, build: Path) -> None:
        try:
            searcher = self._load(build)
        except KBError as exc:
            self._failed[build] = str(exc)
            self.last_error = str(exc)
            log.error("new index at %s not loaded, still serving %s: %s", build, self._searcher.snapshot.path.name, exc)
        else:
            self._switch(searcher)
            self.last_error = None
            log.info("switched to index %s (%s)", build.name, current_link(self.settings.index_dir))
        finally:
            with self._lock:
                self._loading = False
