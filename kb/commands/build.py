"""Build (or incrementally update) the search index from the articles folder.

Exit status: 0 built or already up to date, 1 invalid articles or build refused, 2 bad usage."""
from __future__ import annotations

import argparse
import logging
import sys

from tqdm import tqdm

from kb.build import build_index
from kb.config import Settings
from kb.errors import BuildError, KBError


def main(argv: list[str] | None = None) -> int:
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
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar; only the summary and errors")
    p.add_argument("-v", "--verbose", action="store_true", help="list every new, edited and deleted article")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    settings = Settings.from_env(articles_dir=args.articles, index_dir=args.index, model=args.model)
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
                             check_only=args.check, force=args.force, strict=args.strict, progress=progress)
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
    return 1 if report.gate_failures else 0


if __name__ == "__main__":
    sys.exit(main())
