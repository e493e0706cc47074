"""Build (or incrementally update) the search index from the articles folder.

--publish-to URL then uploads the live build to a PostgreSQL database (its tables made or migrated first, as the
app does), where replicas (KB_INDEX_SOURCE=URL) fetch it.

--watch watches the articles folder, builds, and builds again after every change, with the model loaded and the
build it published in memory: a rebuild after one edited article reads nothing back from disk (about 1 s at 10,000
articles). A change that does not build (an invalid article, a golden-query regression) is reported and the live
index stays as it was; the next change is built again. Ctrl-C stops it.

Exit status: 0 built or already up to date (and published), 1 invalid articles, build refused or upload failed,
2 bad usage; with --watch, 0 when stopped, 1 when the model does not load."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import traceback
from typing import Callable, Sequence

from tqdm import tqdm

from kb.build import Warm, build_index
from kb.config import Settings
from kb.errors import BuildError, KBError
from kb.store import current_build


def parser() -> argparse.ArgumentParser:
    defaults = Settings.from_env()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--articles", default=None, help=f"articles folder (default {defaults.articles_dir})")
    p.add_argument("--index", default=None, help=f"index folder (default {defaults.index_dir})")
    p.add_argument("--model", default=None, help=f"embedding model (default {defaults.model})")
    p.add_argument("--full", action="store_true", help="re-embed every article, not only new and changed ones")
    p.add_argument("--skip-invalid", action="store_true", help="build what is valid and list the invalid files")
    p.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    p.add_argument("--check", action="store_true", help="build and run the golden queries, but never publish")
    p.add_argument("--force", action="store_true", help="publish even if the golden queries regressed (and say so)")
    p.add_argument("--strict", action="store_true",
                   help="treat warnings (unknown front-matter fields, broken links) and skipped invalid articles as errors: "
                        "nothing is published")
    p.add_argument("--publish-to", metavar="URL", default=None,
                   help="then upload the live build to this PostgreSQL database (postgresql://user@host/db, e.g. "
                        "$KB_DATABASE_URL) for replicas (KB_INDEX_SOURCE) to fetch; the live build stays published "
                        "here if the upload fails (exit status 1)")
    p.add_argument("--watch", action="store_true",
                   help="then watch the articles folder and build again after every change (Ctrl-C stops)")
    p.add_argument("--stop-with-parent", action="store_true", help=argparse.SUPPRESS)  # kb serve --watch's builder
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar; only the summary and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="list every new, edited and deleted article")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.publish_to is not None and (args.dry_run or args.check):
        p.error("--publish-to uploads the published build: not with --dry-run or --check")
    if args.watch and (args.dry_run or args.check):
        p.error("--watch publishes each build: not with --dry-run or --check")
    logging.basicConfig(level=logging.WARNING)

    settings = Settings.from_env(articles_dir=args.articles, index_dir=args.index, model=args.model)
    if not args.watch:
        return build_once(settings, args)
    warm = Warm()
    try:
        from kb.embed import load_embedder

        warm.model = load_embedder(settings.model, settings.threads)  # once, before the first change
    except KBError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1

    def rebuild() -> int:
        status = build_once(settings, args, warm)
        args.full = False  # (--full: the first build only)
        return status

    parent = os.getppid()
    try:
        return watch(settings.articles_dir, rebuild, ignore=[settings.index_dir, settings.embedding_cache_dir], first=True,
                     alive=(lambda: os.getppid() == parent) if args.stop_with_parent else None)
    except KeyboardInterrupt:  # (Ctrl-C during a build: its unfinished folder is removed, the live index unchanged)
        return 0


IDLE_TRIM_S = 60.0  # a watch idle this long gives the memory its builds freed back to the system


def watch(folder: str, rebuild: Callable[[], int], stop: threading.Event | None = None,
          ready: Callable[[], None] | None = None, ignore: Sequence = (), *, first: bool = False,
          alive: Callable[[], bool] | None = None) -> int:
    """Call `rebuild` after each change below `folder` (changes close together: once), until Ctrl-C or `stop` is set,
    or `alive()` is false (checked twice a second). `first`: a build once the folder is watched, so that a change made
    while it runs is built next. A rebuild that raises (a file gone between listing and reading it, as in a git
    checkout) is reported and the watch goes on. Editors' swap and backup files are not changes, nor is anything
    below a folder of `ignore` (an index folder kept inside the articles folder). `ready`: called once the folder is
    watched (a change made before is not seen)."""
    from pathlib import Path

    from watchfiles import DefaultFilter, watch as changes_below

    from kb.memory import release_free_memory

    skipped = tuple({str(way(Path(d))) + "/" for d in ignore if d for way in (Path.resolve, Path.absolute)})
    editors = DefaultFilter()

    def wanted(change, path: str) -> bool:
        return editors(change, path) and not path.startswith(skipped)

    def guarded() -> None:
        nonlocal built
        try:
            rebuild()
        except Exception:
            print("build failed with an error kb did not expect; watching on:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
        built = time.monotonic()

    watching, built = False, None
    for changes in changes_below(Path(folder).resolve(), watch_filter=wanted, step=50, rust_timeout=500, yield_on_timeout=True,
                                 stop_event=stop, raise_interrupt=False):
        if alive is not None and not alive():
            print("kb build: the server that started this watch has stopped; so does the watch", file=sys.stderr, flush=True)
            return 0
        if not watching:  # the first wake-up, changes or not: the watcher is in place
            watching = True
            print(f"watching {folder} for changes (Ctrl-C to stop)", file=sys.stderr, flush=True)
            if ready is not None:
                ready()
            if first:
                guarded()
        if changes:
            print(f"{len(changes)} change(s) in {folder}: building", file=sys.stderr, flush=True)
            guarded()
        elif built is not None and time.monotonic() - built > IDLE_TRIM_S:
            release_free_memory()  # (what build_memory(keep=True) kept for the next build)
            built = None
    return 0


def build_once(settings: Settings, args: argparse.Namespace, warm: Warm | None = None) -> int:
    """One build as the flags ask, its report printed; the exit status."""
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        report = build_index(settings, full=args.full, skip_invalid=args.skip_invalid, dry_run=args.dry_run,
                             check_only=args.check, force=args.force, strict=args.strict, progress=progress, warm=warm)
    except BuildError as exc:
        for err in exc.errors:
            print(f"error: {err}", file=sys.stderr)
        for line in exc.golden.describe() if exc.golden else []:
            print(line, file=sys.stderr)
        print(f"build refused: {exc}", file=sys.stderr)
        return 1
    except KBError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()

    for err in report.skipped_invalid:
        print(f"skipped invalid: {err}", file=sys.stderr)
    for warn in report.warnings:
        print(f"warning: {warn}", file=sys.stderr)
    if args.verbose or args.dry_run:
        for kind in ("new", "edited", "deleted"):
            for article_id in report.changes.get(kind, []):
                print(f"  {kind:8} {article_id}")
    for line in report.golden.describe() if report.golden else []:
        print(line)
    if report.forced:
        print("forced: published although the golden queries regressed (--force)", file=sys.stderr)
    print(report.summary())
    for failure in report.gate_failures:
        print(f"check: {failure}", file=sys.stderr)
    if report.gate_failures:
        return 1
    return publish_live(settings, args.publish_to) if args.publish_to is not None else 0


def publish_live(settings: Settings, url: str) -> int:
    """Upload the live build to `url` after the app's migrations (Flask and Alembic are imported only here)."""
    from kb import replicate

    live = current_build(settings.index_dir)
    if live is None:
        print(f"publish failed: no published build in {settings.index_dir}", file=sys.stderr)
        return 1
    try:
        source = replicate.Source(url)
    except KBError as exc:
        print(f"publish failed: {exc}", file=sys.stderr)
        return 1
    try:
        import sqlalchemy as sa

        from webapp.migrate import upgrade

        try:
            upgrade(source.engine)  # the tables, in an empty database too: the same history the app runs
        except (sa.exc.SQLAlchemyError, RuntimeError) as exc:
            raise replicate.ReplicaError(f"cannot migrate {source.where}: {replicate.reason(exc)}") from None
        result = replicate.publish_build(source, live, keep=settings.keep_builds)
    except KBError as exc:
        print(f"publish failed: {exc}; {live.name} stays the live build here", file=sys.stderr)
        return 1
    finally:
        source.dispose()
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
