#!/usr/bin/env python3
"""Serve the help center with waitress (a production WSGI server) on 127.0.0.1:5000 by default."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from waitress import serve  # noqa: E402

from kb.errors import KBError  # noqa: E402
from webapp import create_app  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    p.add_argument("--threads", type=int, default=8, help="request threads (default 8)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        app = create_app()
    except KBError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    snap = app.extensions["kb"].searcher.snapshot
    print(f"kb: {snap.manifest['counts']['articles']} articles, {snap.manifest['counts']['chunks']} chunks, "
          f"model {snap.manifest['model']}, loaded in {time.perf_counter() - start:.1f} s; "
          f"serving on http://{args.host}:{args.port}/", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="kb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
