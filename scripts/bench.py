#!/usr/bin/env python3
"""Benchmark kb over HTTP: full build time, index size, cold start, /api/search and /api/suggest latency.

Builds a fresh index of the articles folder in a temporary folder, starts scripts/serve.py on a free
loopback port in a separate process, then drives /api/search with N concurrent clients for a fixed time."""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_QUERIES = [
    "充值未到账", "USDT充值没到账", "提币一直审核中", "谷歌验证器丢了", "账户被盗了怎么办", "忘记填写memo",
    "withdrawal pending", "deposit not arrived", "forgot google authenticator", "trc20 sent to erc20 address",
    "how to contact support", "api key ip whitelist", "slippage market order", "kyc rejected", "funding rate",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def load_queries(path: str | None) -> list[str]:
    if not path:
        return DEFAULT_QUERIES
    return [json.loads(line)["query"] for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def search_request(base: str, query: str, rnd: random.Random) -> urllib.request.Request:
    return urllib.request.Request(f"{base}/api/search?" + urllib.parse.urlencode({"q": query, "k": 10}))


def suggest_request(base: str, query: str, rnd: random.Random) -> urllib.request.Request:
    """One keystroke of the ticket form: the subject typed so far (at least 4 characters)."""
    typed = query[: rnd.randint(min(4, len(query)), len(query))]
    return urllib.request.Request(f"{base}/api/suggest", data=json.dumps({"subject": typed}).encode(),
                                  headers={"Content-Type": "application/json"}, method="POST")


def drive(base: str, queries: list[str], clients: int, seconds: float, make=search_request) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(seed: int) -> None:
        nonlocal errors
        rnd = random.Random(seed)
        while time.monotonic() < stop:
            req = make(base, rnd.choice(queries), rnd)
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
                    ok = r.status == 200
            except Exception:
                ok = False
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(dt) if ok else None
                errors += 0 if ok else 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "clients": clients, "requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2), "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2), "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--articles", default=str(ROOT / "articles"), help="articles folder to index")
    p.add_argument("--model", default=None, help="embedding model (default: KB_MODEL or the built-in default)")
    p.add_argument("--queries", default=None, help="JSONL with a 'query' field per line (default: a built-in mix)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrent clients, one run each")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each run")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)

    from kb.build import build_index
    from kb.config import Settings

    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        settings = Settings.from_env(articles_dir=args.articles, index_dir=str(Path(tmp) / "index"), model=args.model)
        report = build_index(settings, full=True)
        build = Path(report.build_dir)
        figures["build"] = {
            "articles": report.articles, "chunks": report.chunks, "seconds": round(report.seconds, 2),
            "chunks_per_s": round(report.chunks / report.seconds, 1), "index_bytes": dir_size(build),
        }
        port = free_port()
        env = {**os.environ, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
               "KB_MODEL": settings.model, "KB_DB_PATH": str(Path(tmp) / "kb.sqlite3")}
        t0 = time.perf_counter()
        server = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py"), "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/search?q=deposit", timeout=2) as r:
                        r.read()
                    break
                except Exception:
                    if server.poll() is not None or time.perf_counter() - t0 > 120:
                        raise SystemExit("server did not start")
                    time.sleep(0.05)
            figures["cold_start_s"] = round(time.perf_counter() - t0, 2)
            queries = load_queries(args.queries)
            drive(base, queries, 2, 2.0)  # warm-up
            figures["search"] = [drive(base, queries, c, args.seconds) for c in args.clients]
            figures["suggest"] = [drive(base, queries, c, args.seconds, suggest_request) for c in args.clients]
        finally:
            server.terminate()
            server.wait(timeout=10)

    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        b = figures["build"]
        print(f"build: {b['articles']} articles, {b['chunks']} chunks in {b['seconds']} s ({b['chunks_per_s']} chunks/s), "
              f"index {b['index_bytes'] / 1e6:.2f} MB")
        print(f"cold start (process start → first answered search): {figures['cold_start_s']} s")
        for endpoint in ("search", "suggest"):
            for s in figures[endpoint]:
                print(f"/api/{endpoint}, {s['clients']} client(s): p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
                      f"p99 {s['p99_ms']} ms, {s['rps']} req/s, {s['requests']} requests, {s['errors']} errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
