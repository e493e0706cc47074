"""Serve the help center in production on 127.0.0.1:5000 by default.

One process (--workers 1, the default): waitress with request threads. Several (--workers N): gunicorn with
N worker processes. Before forking them, the master imports the libraries and loads the live build (never the
model), so that every worker starts from the same pages, shared copy-on-write, rather than holding a copy of its
own; each worker then loads the model (its file is mapped: shared too) and its app. A build published later is
loaded by each worker for itself (restart to share it again). Either way the Chinese segmenter reads one mapped
table (kb.segmenter), not a dictionary per process. Encoding threads per
worker default to cores / workers, so that workers do not fight over the cores (KB_THREADS overrides)."""
from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import threading
import time

from kb.errors import KBError
from kb.memory import release_free_memory


def describe(app, started: float) -> str:
    snap = app.extensions["kb"].searcher.snapshot
    return (f"kb[{os.getpid()}]: {snap.manifest['counts']['articles']} articles, {snap.manifest['counts']['chunks']} chunks, "
            f"{snap.manifest.get('index_type', 'flat')} index, model {snap.manifest['model']}, "
            f"loaded in {time.perf_counter() - started:.1f} s")


def serve_waitress(args) -> int:
    from waitress import serve

    from webapp import create_app

    start = time.perf_counter()
    try:
        app = create_app()
    except KBError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    print(f"{describe(app, start)}; serving on http://{args.host}:{args.port}/", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="kb")
    return 0


def preload(settings) -> None:
    """In gunicorn's master, before it forks: what every worker would load the same, loaded once (the modules, the
    segmenter's mapped table, the live build's searcher and prefix tables). Then everything is frozen out of the
    collector's reach: a collection in a worker writes to each object it visits, copying its page. Never the
    model: its engine runs OpenMP, whose threads do not survive a fork (a worker would hang on its first query)."""
    import webapp.agent, webapp.api, webapp.instant, webapp.pages, webapp.tickets, webapp.writers  # noqa: E401, F401
    from kb.lexical import warm_up
    from kb.live import preload as preload_build

    warm_up()
    preload_build(settings)
    gc.collect()
    gc.freeze()
    release_free_memory()


def serve_gunicorn(args) -> int:
    from gunicorn.app.base import BaseApplication

    from kb.config import Settings
    from webapp import create_app, db

    try:  # fail fast, in the master, with the same message a worker would give
        settings = Settings.from_env()
    except (KBError, ValueError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    # The database's migrations run in a child while the live build loads: Alembic stays out of the master and
    # its workers, which find the database at head.
    migration = subprocess.Popen([sys.executable, "-m", "webapp.migrate"])
    try:
        preload(settings)
    except BaseException:
        migration.terminate()
        migration.wait()
        raise
    if migration.wait() != 0:
        print("cannot start: the database could not be migrated (above)", file=sys.stderr)
        return 1
    url = db.database_url(settings)
    if ":memory:" not in url:  # (an in-memory database is each process's own: each worker migrates its own)
        db.migrated_before_fork(url)

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"{args.host}:{args.port}", "workers": args.workers, "worker_class": "gthread",
                "threads": args.threads, "preload_app": False, "timeout": 60, "graceful_timeout": 10,
                "accesslog": None, "errorlog": "-", "loglevel": "warning", "proc_name": "kb",
            }.items():
                self.cfg.set(key, value)

        def load(self):
            start = time.perf_counter()
            try:
                app = create_app()
            except KBError as exc:
                print(f"cannot start: {exc}", file=sys.stderr, flush=True)
                sys.exit(4)  # gunicorn stops the whole server when a worker cannot boot
            print(describe(app, start), flush=True)
            return app

    print(f"kb: serving on http://{args.host}:{args.port}/ with {args.workers} worker processes", flush=True)
    Server().run()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1: waitress; more: gunicorn)")
    p.add_argument("--threads", type=int, default=8, help="request threads per process (default 8)")
    p.add_argument("--build", action="store_true",
                   help="build the index too, if it is missing or stale (make run): with none yet, serving starts as soon "
                        "as the build has published its words (searched by BM25 while the vectors are computed, "
                        "/healthz and the search page say how far it is); a stale one is served while it is rebuilt")
    p.add_argument("--watch", action="store_true",
                   help="--build, then a builder that watches the articles folder (kb build --watch): an edit is served "
                        "within seconds of being saved (make run)")
    args = p.parse_args(argv)
    if args.workers < 1 or args.threads < 1:
        p.error("--workers and --threads must be at least 1")
    if args.workers > 1 and "KB_THREADS" not in os.environ:
        os.environ["KB_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.workers))
    from kb.lexical import use_mapped_segmenter

    use_mapped_segmenter()  # the Chinese segmenter's dictionary: one mapped table for every process (kb.segmenter)
    builder = watcher = None
    if args.build or args.watch:
        try:
            builder = start_build()
        except (KBError, ValueError) as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            return 1
    if args.watch:
        watcher = Watcher(builder)
    try:
        return serve_gunicorn(args) if args.workers > 1 else serve_waitress(args)
    finally:
        if watcher is not None:
            watcher.stop()
        if builder is not None and builder.poll() is None:
            builder.terminate()  # what it encoded is in the passage cache: the next build starts from there


class Watcher:
    """`kb build --watch` in a child process, started when the first build (if one runs) has ended: every change to
    the articles folder is then built, and served as any new build is."""

    def __init__(self, first: subprocess.Popen | None):
        self._first, self._child, self._stopped = first, None, False
        self._lock = threading.Lock()
        threading.Thread(target=self._start, name="kb-watch", daemon=True).start()

    def _start(self) -> None:
        if self._first is not None:
            self._first.wait()
        with self._lock:
            if not self._stopped:
                # (--stop-with-parent: it stops by itself if this process is killed before it can stop it)
                self._child = subprocess.Popen([sys.executable, "-m", "kb.commands.build", "-q", "--watch",
                                                "--stop-with-parent"])

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._child is not None and self._child.poll() is None:
                self._child.terminate()


def start_build() -> subprocess.Popen:
    """`kb build` in a child process, which builds the index if it is missing or stale (and says it is up to date
    otherwise): the articles are read there, never in the server's process. With no index yet, return once the
    build has published one (its lexical snapshot); KBError if it failed first."""
    from kb.config import Settings
    from kb.store import current_build

    settings = Settings.from_env()
    first = current_build(settings.index_dir) is None
    print("kb: no index yet: building it, serving as soon as its words are published" if first else
          "kb: the live index is served; kb build updates it if the articles or the model changed", flush=True)
    builder = subprocess.Popen([sys.executable, "-m", "kb.commands.build", "-q"])
    while first and current_build(settings.index_dir) is None and builder.poll() is None:
        time.sleep(0.1)  # waiting for the build's first publish (a child process: nothing to join on but its exit)
    if first and current_build(settings.index_dir) is None:
        raise KBError(f"the first build failed (exit status {builder.returncode}): nothing to serve")
    return builder


if __name__ == "__main__":
    sys.exit(main())
