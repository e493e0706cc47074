"""Several replicas behind nginx (issue 17): rate limits shared through Redis, and on loopback a whole deployment
as the README's "Running on several machines" describes it: PostgreSQL, Redis, nginx (deploy/nginx.conf itself)
and 3 replicas (`kb serve --workers 2`, gunicorn), with a fourth process publishing builds (`kb build --publish-to`).
The long soak is marked slow (pytest --run-slow)."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import AGENT_TOKEN, FIXTURE_KB
from services import NginxServer, RedisServer, free_port, listening, wait_for

KB = str(Path(sys.executable).parent / "kb")
SECRET = "replicas-test-secret"
WORKERS = 2  # gunicorn workers per replica


@pytest.fixture(scope="module")
def redis():
    server = RedisServer()
    yield server
    server.close()


def limited_app(shared_index, embedder, tmp_path, name: str, storage: str, limits: str):
    from webapp import create_app

    return create_app({
        "TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
        "KB_DB_PATH": str(tmp_path / f"{name}.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN, "SECRET_KEY": "t",
        "KB_RATE_LIMITS": limits, "KB_RATE_LIMIT_STORAGE": storage,
    }, embedder=embedder)


def wrong_login(client):
    return client.post("/agent/login", data={"name": "alice", "secret": "wrong"}).status_code


# -- rate limits in Redis ------------------------------------------------------------------------------------

def test_two_apps_sharing_redis_share_one_login_failure_budget(shared_index, embedder, tmp_path, redis):
    """Two processes (here two apps) with one redis:// store: 4 failed logins in all, wherever they land, use up
    login=4/minute on both; apps counting in memory would each have allowed 4."""
    a, b = (limited_app(shared_index, embedder, tmp_path, n, redis.url, "login=4/minute") for n in "ab")
    alone = limited_app(shared_index, embedder, tmp_path, "alone", "memory://", "login=4/minute")
    try:
        ca, cb, calone = a.test_client(), b.test_client(), alone.test_client()
        assert [wrong_login(ca), wrong_login(cb), wrong_login(ca), wrong_login(cb)] == [401] * 4
        assert wrong_login(ca) == 429 and wrong_login(cb) == 429
        # a right password is refused too while the budget is spent, on either app
        assert cb.post("/agent/login", data={"name": "alice", "secret": AGENT_TOKEN}).status_code == 429
        assert int(ca.post("/agent/login", data={"name": "alice", "secret": "wrong"}).headers["Retry-After"]) > 0
        assert [wrong_login(calone) for _ in range(4)] == [401] * 4  # its own counters: nothing of a's and b's
    finally:
        for app in (a, b, alone):
            app.extensions["kb"].db.dispose()


def test_bearer_failures_are_shared_too(shared_index, embedder, tmp_path, redis):
    """The limits kb counts by hand (failed Bearer tokens) are in the same store."""
    a, b = (limited_app(shared_index, embedder, tmp_path, n, redis.url, "bearer=3/minute") for n in "cd")
    try:
        wrong = {"Authorization": "Bearer wrong"}
        codes = [c.get("/api/agent/search?q=freeze", headers=wrong).status_code
                 for c in (a.test_client(), b.test_client(), a.test_client())]
        assert codes == [401, 401, 401]
        assert b.test_client().get("/api/agent/search?q=freeze", headers=wrong).status_code == 429
    finally:
        for app in (a, b):
            app.extensions["kb"].db.dispose()


def test_a_limit_store_that_is_down_fails_no_request(shared_index, embedder, tmp_path, caplog):
    """Redis unreachable from the start: searches, pages and logins answer as usual (never a 500), and the limits
    still hold, counted in this process until the store answers again."""
    dead = f"redis://127.0.0.1:{free_port()}"  # nothing listens there
    app = limited_app(shared_index, embedder, tmp_path, "dead", dead, "login=2/minute, bearer=2/minute, search=600/minute")
    try:
        client = app.test_client()
        started = time.monotonic()
        assert client.get("/api/search?q=withdrawal+pending").status_code == 200
        assert client.get("/search?q=withdrawal").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert [wrong_login(client), wrong_login(client), wrong_login(client)] == [401, 401, 429]
        wrong = {"Authorization": "Bearer wrong"}
        assert [client.get("/api/agent/search?q=x", headers=wrong).status_code for _ in range(3)] == [401, 401, 429]
        assert time.monotonic() - started < 20  # no request waited on the dead store's timeouts
        assert "rate-limit store unreachable" in caplog.text or "falling back to in-memory" in caplog.text
    finally:
        app.extensions["kb"].db.dispose()


def test_a_limit_store_that_dies_while_serving_fails_no_request(shared_index, embedder, tmp_path):
    """Redis killed between two requests (the replicas' store gone at once): the next ones are answered."""
    store = RedisServer()
    try:
        app = limited_app(shared_index, embedder, tmp_path, "dies", store.url, "login=5/minute, search=600/minute")
        client = app.test_client()
        assert client.get("/api/search?q=deposit").status_code == 200 and wrong_login(client) == 401
        store.stop()
        assert [client.get("/api/search?q=deposit").status_code for _ in range(3)] == [200] * 3
        assert [wrong_login(client) for _ in range(6)] == [401] * 5 + [429]  # the fallback counts from zero
        app.extensions["kb"].db.dispose()
    finally:
        store.close()


# -- a deployment on loopback --------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def cookie(self, name: str = "session") -> str | None:
        for header in self.headers.get_all("Set-Cookie") or []:
            if header.startswith(f"{name}="):
                return header.split(";", 1)[0]
        return None

    def csrf(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.text).group(1)


def fetch(base: str, path: str, *, form: dict | None = None, cookie: str | None = None, source: str = "127.0.0.1",
          timeout: float = 60) -> Reply:
    """One request on a connection of its own, from loopback address `source` (127.0.0.x: a client of its own for
    the rate limits), redirects not followed; a form is POSTed with the Origin a browser sends."""
    where = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=timeout, source_address=(source, 0))
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": base})
    try:
        conn.request("POST" if form is not None else "GET", path, body, headers)
        r = conn.getresponse()
        return Reply(r.status, r.headers, r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def health(base: str) -> dict | None:
    try:
        r = fetch(base, "/healthz", timeout=10)
    except OSError:
        return None
    return json.loads(r.text) if r.status == 200 else None


def clean_env() -> dict[str, str]:
    """This environment without any KB_* setting of the machine running the tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KB_")}


@dataclass
class Replica:
    """One machine: `kb serve --workers 2` (gunicorn) on its own port and index folder, in a process group of its
    own so that SIGKILL takes the master and its workers at once, as a machine that dies would."""
    n: int
    port: int
    env: dict[str, str]
    dir: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = open(self.dir / f"serve-{self.starts}.log", "wb")
        self.proc = subprocess.Popen([KB, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(WORKERS),
                                      "--threads", "4"], env=self.env, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()

    def log(self) -> str:
        """What this start of the replica has printed so far (its workers' log lines too)."""
        return (self.dir / f"serve-{self.starts}.log").read_text(encoding="utf-8", errors="replace")

    def serves(self, build: str) -> bool:
        """Every worker serves `build`: /healthz answers from one worker, the others are counted by their
        "switched to index" lines (kb.live logs one per worker and switch)."""
        return (health(self.url) or {}).get("build") == build and self.log().count(f"switched to index {build}") >= WORKERS

    def wait_ready(self, timeout: float = 180) -> dict:
        def ready():
            assert self.proc.poll() is None, f"replica {self.n} exited ({self.proc.returncode}):\n{self.log()[-3000:]}"
            return health(self.url)
        return wait_for(ready, timeout, f"replica {self.n} to answer /healthz", interval=0.2)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # gunicorn's graceful stop, workers included
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Cluster:
    nginx: NginxServer
    replicas: list[Replica]
    articles: Path
    writer_env: dict[str, str]
    source: str  # the PostgreSQL URL: store, KB_INDEX_SOURCE and --publish-to alike
    builds: list[str] = field(default_factory=list)

    def publish(self) -> str:
        """The writer's machine: `kb build --publish-to <database>` in a process of its own; the new build's name."""
        from kb.store import current_build

        run = subprocess.run([KB, "build", "-q", "--publish-to", self.source], env=self.writer_env, capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        name = current_build(self.writer_env["KB_INDEX_DIR"]).name
        self.builds.append(name)
        return name

    def upstream_lines(self, start: int, source: str) -> list[tuple[str, str, str]]:
        """(request, upstreams, their statuses) of the access log's lines from `start` on, for client `source`."""
        found = []
        for line in self.nginx.log_lines()[start:]:
            m = re.match(r'(\S+) \[[^\]]+\] "([^"]+)" \d+ \S+ upstream=(.*) upstream_status=(.*)$', line)
            if m and m.group(1) == source:
                found.append((m.group(2), m.group(3), m.group(4)))
        return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres, redis):
    """PostgreSQL, Redis, a first build published from the writer's process, then 3 replicas that start with empty
    index folders (each fetches the published build) and nginx in front of them."""
    root = tmp_path_factory.mktemp("replicas")
    articles = root / "articles"
    shutil.copytree(FIXTURE_KB, articles)
    writer_env = {**clean_env(), "KB_ARTICLES_DIR": str(articles), "KB_INDEX_DIR": str(root / "writer" / "index"),
                  "KB_DB_PATH": str(root / "writer" / "kb.sqlite3")}
    replicas = []
    for n in range(3):
        home = root / f"replica-{n}"
        home.mkdir()
        env = {**clean_env(),
               # what a replica's machine has: no articles (it serves what was published), its own index folder
               "KB_ARTICLES_DIR": str(home / "no-articles"), "KB_INDEX_DIR": str(home / "index"),
               "KB_DB_PATH": str(home / "kb.sqlite3"),
               # and what every replica shares
               "KB_DATABASE_URL": postgres.url, "KB_INDEX_SOURCE": postgres.url, "KB_INDEX_POLL_SECONDS": "2",
               "KB_RELOAD_INTERVAL": "1", "KB_SECRET_KEY": SECRET, "KB_AGENT_TOKEN": AGENT_TOKEN,
               "KB_RATELIMIT_STORAGE_URI": redis.url, "KB_TRUSTED_PROXIES": "1",
               # the load tests' searches come from one address: their limit out of the way, the login's kept
               "KB_RATE_LIMITS": "login=5/minute;50/hour, search=100000/minute"}
        replicas.append(Replica(n, free_port(), env, home))
    c = Cluster(None, replicas, articles, writer_env, postgres.url)
    nginx = None
    try:
        c.publish()
        for r in replicas:
            r.start()
        for r in replicas:
            r.wait_ready()
        nginx = c.nginx = NginxServer([r.port for r in replicas])
        yield c
    finally:
        if nginx:
            nginx.close()
        for r in replicas:
            r.stop()


def test_fresh_replicas_fetch_the_published_build_and_answer_through_nginx(cluster):
    """Each replica started with an empty index folder and serves the build the writer published; nginx spreads
    searches over all three."""
    for r in cluster.replicas:
        assert health(r.url)["build"] == cluster.builds[-1], r.n
        assert (r.dir / "index" / "builds" / cluster.builds[-1]).is_dir()
    start = len(cluster.nginx.log_lines())
    for _ in range(6):
        r = fetch(cluster.nginx.url, "/api/search?q=withdrawal+pending", source="127.0.0.5")
        assert r.status == 200 and json.loads(r.text)["results"][0]["id"].startswith("withdrawal-pending-review")
    lines = wait_for(lambda: len(got := cluster.upstream_lines(start, "127.0.0.5")) == 6 and got, 10, "nginx's log")
    assert {up for _, up, _ in lines} == {r.addr for r in cluster.replicas}
    assert "/api/search" in lines[0][0] and "withdrawal" not in lines[0][0]  # the path logged, never the query


def test_an_agent_logged_in_through_nginx_stays_logged_in_on_every_replica(cluster):
    """One KB_SECRET_KEY and the sessions in PostgreSQL: a login through nginx holds on whichever replica answers
    (the CSRF token of one replica's form is good on another), and a logout through nginx ends it on all."""
    me, base = "127.0.0.4", cluster.nginx.url
    page = fetch(base, "/agent/login", source=me)
    r = fetch(base, "/agent/login", form={"name": "alice", "secret": AGENT_TOKEN, "csrf_token": page.csrf()},
              cookie=page.cookie(), source=me)
    assert r.status == 302 and r.headers["Location"].endswith("/agent/"), r.text[:300]
    cookie = r.cookie()
    start = len(cluster.nginx.log_lines())
    for _ in range(9):
        r = fetch(base, "/agent/", cookie=cookie, source=me)
        assert r.status == 200 and "Log out" in r.text
        cookie = r.cookie() or cookie  # as a browser keeps it (the page's CSRF token is in the new one)
    # (nginx writes a request's line after its answer: the login's lines may come after `start` was read)
    pages = lambda: [line for line in cluster.upstream_lines(start, me) if line[0] == "GET /agent/"]  # noqa: E731
    lines = wait_for(lambda: len(got := pages()) == 9 and got, 10, "nginx's log")
    assert {up for _, up, _ in lines} == {r.addr for r in cluster.replicas}
    for replica in cluster.replicas:  # and straight at each one, nginx left out
        assert fetch(replica.url, "/agent/", cookie=cookie).status == 200, replica.n
    out = fetch(base, "/agent/logout", form={"csrf_token": r.csrf()}, cookie=cookie, source=me)
    assert out.status == 302 and "/agent/login" in out.headers["Location"]
    for replica in cluster.replicas:
        r = fetch(replica.url, "/agent/", cookie=cookie)
        assert r.status == 302 and "/agent/login" in r.headers["Location"], replica.n


def test_failed_logins_are_counted_once_for_all_replicas(cluster):
    """login=5/minute over Redis, per client (nginx's X-Forwarded-For, KB_TRUSTED_PROXIES=1): 5 failures spread
    over the replicas spend the budget on all of them; another client still has its own."""
    base = cluster.nginx.url

    def wrong(source):
        page = fetch(base, "/agent/login", source=source)
        return fetch(base, "/agent/login", form={"name": "alice", "secret": "wrong", "csrf_token": page.csrf()},
                     cookie=page.cookie(), source=source).status

    start = len(cluster.nginx.log_lines())
    assert [wrong("127.0.0.2") for _ in range(5)] == [401] * 5
    lines = wait_for(lambda: len(got := cluster.upstream_lines(start, "127.0.0.2")) == 10 and got, 10, "nginx's log")
    assert len({up for req, up, _ in lines if req.startswith("POST")}) >= 2  # not all on one replica
    assert wrong("127.0.0.2") == 429
    assert wrong("127.0.0.3") == 401


def test_a_build_published_from_a_fourth_process_reaches_every_replica_within_10_s(cluster):
    """The writer edits an article and runs `kb build --publish-to`: every replica polls the database, downloads
    the build, checks it and switches, within 10 s, with no restart."""
    before = cluster.builds[-1]
    path = cluster.articles / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n## Zebra crossing\n\nThe zebra section explains striped QR codes.\n",
                    encoding="utf-8")
    new = cluster.publish()
    assert new != before
    published = time.monotonic()
    for r in cluster.replicas:
        wait_for(lambda: r.serves(new), 10 - (time.monotonic() - published), f"replica {r.n} to serve {new}", interval=0.1)
    took = time.monotonic() - published
    for r in cluster.replicas:
        top = json.loads(fetch(r.url, "/api/search?q=zebra+striped+QR").text)["results"][0]
        assert top["id"] == "lost-2fa-en" and any(s["heading"] == "Zebra crossing" for s in top["sections"]), r.n
    print(f"{new} served by every worker of every replica {took:.1f} s after kb build --publish-to returned")
    assert took <= 10


class Load:
    """`clients` threads searching through nginx until stopped, each request on a new connection."""

    QUERIES = ["withdrawal pending", "充值未到账", "lost google authenticator", "TRC20 deposit", "zebra"]

    def __init__(self, base: str, clients: int):
        self.base, self.ok, self.failed, self.errors = base, 0, 0, []
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def _client(self, n: int) -> None:
        i = n
        while not self._stop.is_set():
            i += 1
            q = urllib.parse.quote(self.QUERIES[i % len(self.QUERIES)])
            try:
                r = fetch(self.base, f"/api/search?q={q}")
                ok, err = r.status == 200 and json.loads(r.text)["ok"], None if r.status == 200 else f"{r.status} {r.text[:200]}"
            except Exception as exc:  # any failed request is what the test counts
                ok, err = False, repr(exc)
            with self._lock:
                self.ok += bool(ok)
                self.failed += not ok
                if err:
                    self.errors.append(err)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join()

    def answered(self) -> int:
        with self._lock:
            return self.ok + self.failed


def kill_and_restart(cluster: Cluster, load: Load, replica: Replica) -> None:
    """SIGKILL a replica while the load runs, let the load hit the hole, restart it on the same port and folder,
    and wait until nginx sends it requests again."""
    wait_for(lambda: load.answered() >= 20, 60, "the load to run")
    replica.kill()
    seen = load.answered()
    wait_for(lambda: load.answered() >= seen + 40, 60, "requests while the replica is dead")
    assert not listening(replica.port)
    replica.start()
    restarted = len(cluster.nginx.log_lines())
    replica.wait_ready()
    wait_for(lambda: any(up.split(", ")[-1] == replica.addr and status.split(", ")[-1] == "200"
                         for _, up, status in cluster.upstream_lines(restarted, "127.0.0.1")),
             60, f"nginx to send replica {replica.n} requests again", interval=0.2)


def test_a_replica_killed_under_load_costs_no_request(cluster):
    """4 clients search through nginx while one replica is killed with SIGKILL and restarted: no request fails
    (nginx retries what the dead replica refused or dropped on the next one), and the restarted replica serves again."""
    victim = cluster.replicas[1]
    start = len(cluster.nginx.log_lines())
    with Load(cluster.nginx.url, clients=4) as load:
        kill_and_restart(cluster, load, victim)
    retried = [up for _, up, _ in cluster.upstream_lines(start, "127.0.0.1") if "," in up]
    print(f"{load.ok} searches answered, {load.failed} failed, {len(retried)} moved on by nginx")
    assert load.failed == 0, load.errors[:5]
    assert load.ok > 60
    assert retried and all(up.startswith(victim.addr) for up in retried), retried[:5]  # what the dead one refused
    assert health(victim.url)["build"] == cluster.builds[-1]


@pytest.mark.slow
def test_soak_each_replica_killed_and_builds_published_under_load(cluster):
    """The long run (--run-slow): 8 clients searching while each replica in turn is killed and restarted, and a
    build published after each (about a minute); no request fails and every replica ends on the last build."""
    with Load(cluster.nginx.url, clients=8) as load:
        for n, replica in enumerate(cluster.replicas):
            kill_and_restart(cluster, load, replica)
            path = cluster.articles / "deposit-not-credited-en.md"
            path.write_text(path.read_text(encoding="utf-8") + f"\n## Soak {n}\n\nSoak round {n} section.\n", encoding="utf-8")
            new = cluster.publish()
            for r in cluster.replicas:
                wait_for(lambda: r.serves(new), 30, f"replica {r.n} to serve {new}", interval=0.2)
    assert load.failed == 0, load.errors[:5]
    assert load.ok > 500
