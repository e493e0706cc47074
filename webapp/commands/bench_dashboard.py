"""How long the writers' dashboard and its CSV exports take over a big search log, on SQLite and PostgreSQL.

Seeds a fresh store with --rows search-log rows over the dashboard's default range (the last 14 days, so every row
counts): page and API searches, ticket-form sessions, agent searches, in the four locales, many of them unique
(amounts, addresses, tx hashes, error codes), with no-answer searches, clicks and outcomes; plus helpful votes with
comments, agents' "wrong" marks and filed requests. Then it logs in as an agent and times, in the process (Flask's
test client: the server's work, no network), GET /writers/ and each /writers/export.csv, --repeat times each. The
first dashboard view encodes the content gaps' wordings (the query-vector cache is empty), the later ones do not.
It checks that the dashboard shows the seeded number of searches. PostgreSQL: --database-url, else a throw-away
server of Debian's postgresql package in a temporary folder."""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kb.config import PROJECT_ROOT as ROOT

DAY = 86400.0
PAGES = [("dashboard", "/writers/"), ("csv days", "/writers/export.csv?kind=days"),
         ("csv gaps", "/writers/export.csv?kind=gaps"), ("csv articles", "/writers/export.csv?kind=articles")]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# (locale, template): {coin} {net} {n} {code} {addr} {tx} filled at random, so that many queries are unique
TEMPLATES = [
    ("en", "deposit not arrived {coin}"), ("en", "withdrawal pending for {n} hours"), ("en", "how to reset 2FA"),
    ("en", "error {code} when I withdraw"), ("en", "sent {coin} to {addr} not credited"), ("en", "txid {tx}"),
    ("en", "wrong network {net} {coin} deposit"), ("en", "How do I cook rice?"), ("en", "stock price of apple"),
    ("en", "forgot memo tag {coin} deposit"), ("en", "account frozen why"), ("en", "{n} {coin} missing"),
    ("zh-CN", "充值没到账 {coin}"), ("zh-CN", "提现审核中 {n} 小时了"), ("zh-CN", "充值 没到账！"),
    ("zh-CN", "交易哈希 {tx} 查不到"), ("zh-CN", "转到 {addr} 没有到账"), ("zh-CN", "错误代码 {code}"),
    ("zh-CN", "今天天气怎么样"), ("zh-CN", "{net} 网络选错了"),
    ("ko", "입금이 안 돼요 {coin}"), ("ko", "출금 대기 {n}시간"), ("ko", "2단계 인증 재설정"), ("ko", "오류 {code}"),
    ("ko", "{addr} 로 보냈는데 안 들어왔어요"), ("ko", "맛있는 김치 만드는 법"),
    ("ja", "入金が反映されない {coin}"), ("ja", "出金が保留中 {n}時間"), ("ja", "エラー {code} が出る"),
    ("ja", "トランザクションID {tx} が見つからない"), ("ja", "{net} で送ってしまった"), ("ja", "おいしいラーメン屋"),
]
COMMENTS = ["steps unclear", "the screenshot is outdated", "thanks, solved", "没用", "不清楚怎么操作",
            "설명이 부족해요", "わかりやすかった", "call me at +1 415 555 0100", "mail me: someone@example.com"]


def _fill(template: str, rnd: random.Random) -> str:
    return template.format(
        coin=rnd.choice(["USDT", "BTC", "ETH", "XRP", "SOL", "TRX"]), net=rnd.choice(["TRC20", "ERC20", "BEP20"]),
        n=rnd.randint(1, 72), code=rnd.choice(["-1021", "1013", "2010", "-2015", "4001"]),
        addr=rnd.choice([f"0x{rnd.getrandbits(160):040x}", "T" + "".join(rnd.choices(_B58, k=33))]),
        tx=f"{rnd.getrandbits(256):064x}")


def _query(rnd: random.Random) -> tuple[str, str]:
    locale, template = rnd.choice(TEMPLATES)
    text = _fill(template, rnd)
    if rnd.random() < 0.2:  # the same question typed another way
        text = rnd.choice([text.lower(), text.upper(), text + "?", text.replace(" ", "  ")])
    return locale, text


def seed(engine, rows: int, articles: list[tuple[str, str]], now: float, rnd: random.Random) -> dict:
    """`rows` search-log rows over the last 14 days, and votes, wrong marks and requests; what was seeded."""
    from webapp import db
    from webapp.gaps import gap_key
    from webapp.privacy import scrub

    since = (now // DAY - 13) * DAY  # midnight UTC, 13 days ago: the first day of the dashboard's default range
    ids = [a for a, _ in articles]
    log, user_searches, session_n = [], 0, 0
    while len(log) < rows:
        surface = rnd.choices(["search", "api", "ticket", "agent"], [40, 15, 30, 15])[0]
        locale, text = _query(rnd)
        t = rnd.uniform(since, now)
        no_answer = rnd.random() < 0.3
        results = [] if no_answer and rnd.random() < 0.5 else rnd.sample(ids, min(len(ids), rnd.randint(1, 8)))
        base = {"surface": surface, "locale": locale, "result_ids": json.dumps(results), "no_answer": no_answer,
                "top_score": 0.2 if no_answer else 0.8, "clicked_id": None, "outcome": None, "session": None}
        if surface == "ticket":  # a form session: a few suggestion requests as the user types
            session_n += 1
            outcome = rnd.choices([None, "deflected", "filed"], [30, 30, 40])[0]
            for i in range(min(rnd.randint(1, 6), rows - len(log))):
                q = scrub(text[: max(4, len(text) * (i + 1) // 6)])
                log.append({**base, "query": q, "gap_key": gap_key(q), "created_at": t + i, "day": int((t + i) // DAY),
                            "outcome": outcome, "session": f"bench-{session_n}"})
            continue
        if surface == "search" and results and rnd.random() < 0.35:
            base["clicked_id"] = results[0]
        user_searches += surface in ("search", "api")
        q = scrub(text)
        log.append({**base, "query": q, "gap_key": gap_key(q), "created_at": t, "day": int(t // DAY)})
    votes = [{"created_at": rnd.uniform(since, now), "article_id": rnd.choice(ids), "helpful": rnd.random() < 0.7,
              "comment": scrub(rnd.choice(COMMENTS)) if rnd.random() < 0.3 else None,
              "locale": rnd.choice(["en", "zh-CN", "ko", "ja"])} for _ in range(max(1, rows // 20))]
    requests = [{"created_at": rnd.uniform(since, now), "updated_at": now, "subject": "bench", "description": "bench",
                 "email": "bench@example.com", "locale": "en", "urgency": "normal", "urgency_rank": 2,
                 "urgent_topics": "[]", "status": "open", "shown": "[]", "opened": "[]"} for _ in range(max(1, rows // 50))]
    seen = sorted({(r["day"], r["locale"], a) for r in log if r["surface"] != "agent" for a in json.loads(r["result_ids"])})
    with engine.begin() as conn:
        for i in range(0, len(log), 5000):
            conn.execute(db.search_log.insert(), log[i:i + 5000])
        conn.execute(db.articles_seen.insert(), [{"day": d, "locale": loc, "article_id": a} for d, loc, a in seen])
        conn.execute(db.article_votes.insert(), votes)
        conn.execute(db.requests.insert(), requests)
        first = conn.execute(db.requests.select().limit(1)).first().id
        conn.execute(db.suggestion_feedback.insert(), [
            {"created_at": rnd.uniform(since, now), "request_id": first, "article_id": rnd.choice(ids),
             "verdict": rnd.choice(["used", "wrong"]), "agent": "bench"} for _ in range(max(1, rows // 100))])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would have by now
    return {"log_rows": len(log), "user_searches": user_searches, "votes": len(votes), "requests": len(requests)}


class _Postgres:
    """A throw-away PostgreSQL server (Debian's binaries) on a unix socket in a temporary folder."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = found[-1] if found else shutil.which("initdb")
        if not initdb:
            raise SystemExit("bench-dashboard: PostgreSQL is not installed (apt-get install postgresql); "
                             "or pass --database-url, or --db sqlite")
        self.pg_ctl = str(Path(initdb).with_name("pg_ctl"))
        self.dir = tempfile.mkdtemp(prefix="kb-bench-pg-")
        os.chmod(self.dir, 0o777)
        self.data, sock = os.path.join(self.dir, "data"), os.path.join(self.dir, "sock")
        os.makedirs(sock)
        os.chmod(sock, 0o777)
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # it refuses to run as root
        subprocess.run([*self.prefix, initdb, "-D", self.data, "-A", "trust", "-U", "kb", "--no-sync"],
                       check=True, capture_output=True)
        subprocess.run([*self.prefix, self.pg_ctl, "-D", self.data, "-w", "-l", os.path.join(self.dir, "log"), "-o",
                        f"-c listen_addresses='' -k {sock} -p 54330", "start"], check=True, capture_output=True)
        self.url = f"postgresql+psycopg://kb@/postgres?host={sock}&port=54330"

    def stop(self):
        subprocess.run([*self.prefix, self.pg_ctl, "-D", self.data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def run_one(name: str, url: str, args, settings, embedder) -> dict:
    import sqlalchemy as sa

    from webapp import create_app, db
    from webapp.state import searcher

    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="kb-bench-dash-") as tmp:
        app = create_app({"KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
                          "KB_DATABASE_URL": url, "KB_DB_PATH": str(Path(tmp) / "unused.sqlite3"),
                          "KB_AGENT_TOKEN": token, "SECRET_KEY": secrets.token_urlsafe(16), "KB_RATE_LIMITS": "off"},
                         embedder=embedder)
        engine = app.extensions["kb"].db
        try:
            with app.app_context():
                with engine.connect() as conn:
                    if conn.execute(sa.select(sa.func.count()).select_from(db.search_log)).scalar():
                        raise SystemExit(f"bench-dashboard: {name}: the database is not empty; give an empty one")
                arts = [(a.id, a.locale) for a in searcher().snapshot.articles.values() if a.is_public]
                t0 = time.perf_counter()
                seeded = seed(engine, args.rows, arts, time.time(), random.Random(args.seed))
                seeded["seed_s"] = round(time.perf_counter() - t0, 1)
            client = app.test_client()
            page = client.get("/agent/login").get_data(as_text=True)
            client.post("/agent/login", data={"name": "bench", "secret": token,
                                              "csrf_token": _CSRF.search(page).group(1)})
            timings = {}
            for label, path in PAGES:
                runs = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    r = client.get(path)
                    body = r.get_data(as_text=True)
                    runs.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        raise SystemExit(f"bench-dashboard: {name}: {path} answered {r.status_code}")
                    if label == "dashboard" and f'id="kpi-searches">{seeded["user_searches"]}<' not in body:
                        raise SystemExit(f"bench-dashboard: {name}: the dashboard does not show the "
                                         f"{seeded['user_searches']} searches seeded")
                timings[label] = [round(x, 3) for x in runs]
        finally:
            if url.startswith("postgresql"):
                db.metadata.drop_all(engine)
                with engine.begin() as conn:
                    conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            engine.dispose()
    return {"database": name, **seeded, "seconds": timings}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000, help="search-log rows to seed (default 100000)")
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both", help="which databases (default both)")
    p.add_argument("--database-url", help="an empty PostgreSQL database to use (default: a throw-away server)")
    p.add_argument("--repeat", type=int, default=3, help="times each page is fetched (default 3)")
    p.add_argument("--articles", default=str(ROOT / "articles"), help="knowledge base (default: the shipped one)")
    p.add_argument("--index", default=str(ROOT / "var" / "bench" / "dashboard-index"),
                   help="its index, built or brought up to date first (default var/bench/dashboard-index)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the seeded log")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        p.error("--rows and --repeat must be at least 1")

    from kb.build import build_index
    from kb.config import Settings
    from kb.embed import load_embedder

    settings = Settings.from_env(articles_dir=args.articles, index_dir=args.index)
    embedder = load_embedder(settings.model, settings.threads)
    build_index(settings, embedder=embedder)  # incremental: nothing to do when it is up to date
    results, pg = [], None
    try:
        if args.db in ("sqlite", "both"):
            with tempfile.TemporaryDirectory(prefix="kb-bench-sqlite-") as tmp:
                results.append(run_one("sqlite", f"sqlite:///{tmp}/kb.sqlite3", args, settings, embedder))
        if args.db in ("postgresql", "both"):
            url = args.database_url
            if not url:
                pg = _Postgres()
                url = pg.url
            results.append(run_one("postgresql", url, args, settings, embedder))
    finally:
        if pg:
            pg.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(f"{r['database']}: {r['log_rows']} log rows ({r['user_searches']} searches), {r['votes']} votes, "
              f"{r['requests']} requests, seeded in {r['seed_s']} s")
        for label, runs in r["seconds"].items():
            print(f"  {label:13} median {statistics.median(runs):.3f} s  (runs: {', '.join(f'{x:.3f}' for x in runs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
