"""Play a scripted session of help-center users against a running kb server, over HTTP, as browsers would.

Each user takes a query from a queries JSONL (the dev set by default): searches the help center and maybe opens
the first result and votes on it; or opens the ticket form, types (suggestions per keystroke), and either marks a
suggestion as "this solved my problem" or files the request. It prints what it did, so that a writer can compare
it with what the dashboard (/writers/) shows. Deterministic for a given --seed."""
from __future__ import annotations

import argparse
import html
import http.cookiejar
import json
import random
import re
import secrets
import sys
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

from kb.config import PROJECT_ROOT as ROOT  # dev data lives in the checkout
_RESULT_LINK = re.compile(r'href="(/articles/[^"?#]+\?sl=\d+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def browser():
    """An opener that keeps cookies, as a browser does (the session holds the forms' CSRF token)."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def csrf_token(page: str) -> str:
    """The CSRF token of a form on the page (every form post needs the one of a page its browser loaded)."""
    found = _CSRF.search(page)
    return found.group(1) if found else ""


def post(base: str, path: str, data: dict, as_json: bool = False, opener=None) -> tuple[int, bytes]:
    body = json.dumps(data).encode() if as_json else urllib.parse.urlencode(data).encode()
    ctype = "application/json" if as_json else "application/x-www-form-urlencoded"
    req = urllib.request.Request(base + path, data=body, headers={"Content-Type": ctype}, method="POST")
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get(base: str, path: str, opener=None) -> tuple[int, str]:
    with (opener or urllib.request.build_opener()).open(base + path, timeout=30) as r:
        return r.status, r.read().decode("utf-8")


def searcher_user(base: str, query: str, rnd: random.Random, done: Counter) -> None:
    user = browser()
    _, page = get(base, "/search?" + urllib.parse.urlencode({"q": query}), user)
    done["searches"] += 1
    links = _RESULT_LINK.findall(page)
    if links and rnd.random() < 0.6:
        link = html.unescape(links[0])
        _, article = get(base, link, user)
        done["clicks"] += 1
        if rnd.random() < 0.5:
            helpful = "yes" if rnd.random() < 0.7 else "no"
            post(base, link.split("?")[0] + "/vote", {"helpful": helpful, "csrf_token": csrf_token(article)}, opener=user)
            done[f"votes_{helpful}"] += 1


def ticket_user(base: str, query: str, rnd: random.Random, done: Counter) -> None:
    session = secrets.token_hex(8)
    done["ticket_forms"] += 1
    suggestions: list = []
    for cut in sorted({max(4, len(query) // 3), max(4, 2 * len(query) // 3), len(query)}):
        status, body = post(base, "/api/suggest", {"subject": query[:cut], "session": session}, as_json=True)
        done["keystroke_suggests"] += 1
        if status == 200:
            suggestions = json.loads(body).get("suggestions", [])
    if suggestions and rnd.random() < 0.45:
        post(base, "/api/deflections", {"article_id": suggestions[0]["id"], "session": session, "query": query,
                                        "shown": [s["id"] for s in suggestions]}, as_json=True)
        done["deflected"] += 1
    else:
        # a browser keeps the session cookie that lets it see its request's confirmation page
        user = browser()
        _, form = get(base, "/support/new", user)
        status, page = post(base, "/support/new", {"subject": query[:200], "description": f"{query}\n(simulated user)",
                                                   "email": f"user{rnd.randrange(10**6)}@example.com", "session": session,
                                                   "csrf_token": csrf_token(form)},
                            opener=user)
        done["filed" if status == 200 else "filing_failed"] += 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="http://127.0.0.1:5000", help="the server (default http://127.0.0.1:5000)")
    p.add_argument("--queries", default=str(ROOT / "tests" / "data" / "queries.jsonl"), help="queries JSONL")
    p.add_argument("--users", type=int, default=120, help="how many users (default 120)")
    p.add_argument("--ticket-share", type=float, default=0.3, help="share of users who go to the ticket form")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    queries = [json.loads(line)["query"] for line in Path(args.queries).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not queries:
        p.error(f"--queries: no queries in {args.queries}")
    rnd = random.Random(args.seed)
    done: Counter = Counter()
    for _ in range(args.users):
        query = rnd.choice(queries)
        (ticket_user if rnd.random() < args.ticket_share else searcher_user)(args.base.rstrip("/"), query, rnd, done)
    print(json.dumps(dict(sorted(done.items())), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
