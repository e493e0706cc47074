"""Faults and hostile input: fuzzed articles, killed builds, corrupted indexes, rebuilds under load, XSS, oversized input."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conftest import AGENT_TOKEN
from kb.articles import parse_article
from kb.build import build_index
from kb.errors import ArticleError
from kb.live import LiveIndex
from kb.search import Searcher
from kb.store import current_build, load_current

ROOT = Path(__file__).resolve().parent.parent

FIELD_VALUES = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.lists(st.text(max_size=5), max_size=3),
                         st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_parser_fuzz_random_bytes(raw):
    """Any bytes: an Article, or an ArticleError naming the file (nothing else escapes)."""
    try:
        article = parse_article(raw, "fuzz.md")
    except ArticleError as exc:
        assert exc.path == "fuzz.md" and exc.reason
    else:
        assert article.id and article.title and article.body.strip()


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "title", "locale", "category", "tags", "audience", "status", "updated", "x"]),
                       FIELD_VALUES, max_size=9),
       st.text(max_size=200), st.sampled_from(["utf-8", "utf-16", "gb18030", "latin-1"]))
def test_parser_fuzz_front_matter_and_encodings(fields, body, encoding):
    import yaml

    text = "---\n" + yaml.safe_dump(fields, allow_unicode=True) + "---\n" + body
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        return
    try:
        article = parse_article(raw, "fuzz.md")
    except ArticleError as exc:
        assert exc.path == "fuzz.md"
    else:
        assert article.id and article.title and article.body.strip()


def start_paused_build(built, stage: str) -> subprocess.Popen:
    """The build CLI with KB_BUILD_FAULT=<stage>: returns once the build says it is paused at that stage."""
    env = {**os.environ, "KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir, "KB_BUILD_FAULT": stage}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "build_index.py"), "-q", "--full"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # blocks until the build reaches the stage (or exits)
        if f"paused at {stage}" in line:
            return proc
    proc.wait()
    proc.stderr.close()
    raise AssertionError(f"the build exited ({proc.returncode}) without reaching {stage}")


def kill_9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


@pytest.mark.parametrize("stage", ["before-write", "mid-write", "before-publish"])
def test_kill_9_at_a_build_stage_never_breaks_the_live_index(built, kb_dir, embedder, stage):
    """kill -9 the build CLI while it writes, and between writing and publishing: the live build stays live,
    loads and answers; the next build cleans up the leftovers and publishes the edit."""
    live = current_build(built.index_dir)
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nEdited after the kill.\n", encoding="utf-8")
    proc = start_paused_build(built, stage)
    builds = Path(built.index_dir) / "builds"
    if stage == "mid-write":
        assert [p for p in builds.iterdir() if p.name.startswith(".tmp-")]  # killed with a half-written folder
    kill_9(proc)
    assert current_build(built.index_dir) == live
    snap = load_current(built.index_dir, embedder.name, embedder.dim)
    assert Searcher(snap, embedder, built).search("withdrawal pending").results[0].id == "withdrawal-pending-review-en"
    report = build_index(built, embedder=embedder)
    assert report.published and report.changes["edited"] == ["lost-2fa-en"]
    assert not [p for p in builds.iterdir() if p.name.startswith(".tmp-")]


def test_kill_9_after_publishing_serves_the_new_build(built, kb_dir, embedder):
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nPublished, then killed.\n", encoding="utf-8")
    kill_9(start_paused_build(built, "after-publish"))
    snap = load_current(built.index_dir, embedder.name, embedder.dim)
    assert "Published, then killed." in snap.articles["lost-2fa-en"].body
    assert build_index(built, embedder=embedder).reason == ""  # up to date: nothing left to do


def test_corrupt_live_index_falls_back_to_the_last_good_build(built, kb_dir, embedder, caplog):
    good = current_build(built.index_dir)
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    build_index(built, embedder=embedder)
    bad = current_build(built.index_dir)
    data = (bad / "vectors.faiss").read_bytes()
    (bad / "vectors.faiss").write_bytes(data[:100])
    live = LiveIndex(built, embedder)
    assert live.searcher.snapshot.path == good
    assert "vectors.faiss" in live.last_error


def test_a_bad_new_build_is_not_switched_to(built, kb_dir, embedder):
    live = LiveIndex(built.replace(reload_interval=0.0), embedder)
    serving = live.searcher.snapshot.path
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    build_index(built, embedder=embedder)
    (current_build(built.index_dir) / "chunks.json").write_text("{not json", encoding="utf-8")
    live.maybe_reload(wait=True)
    assert live.searcher.snapshot.path == serving and "chunks" in live.last_error
    assert live.searcher.search("withdrawal pending").results


def test_no_index_at_all_refuses_to_start(tmp_path, embedder):
    from kb.errors import IndexNotBuilt

    with pytest.raises(IndexNotBuilt):
        LiveIndex(__import__("kb.config", fromlist=["Settings"]).Settings.from_mapping({"index_dir": str(tmp_path)}), embedder)


XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def test_xss_in_queries_is_inert_everywhere(client):
    page = client.get("/search", query_string={"q": XSS + " deposit"}).get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    body = client.get("/api/search", query_string={"q": XSS + " deposit"}).get_json()
    assert all("<script" not in h["snippet"] and "<img" not in h["snippet"] for h in body["results"])
    assert client.post("/api/suggest", json={"subject": XSS}).status_code == 200


def test_xss_in_a_ticket_is_inert_in_the_agent_view(app):
    client = app.test_client()
    r = client.post("/support/new", data={"subject": XSS, "description": XSS, "email": "x@example.com"})
    rid = r.headers["Location"].rsplit("/", 1)[1]
    client.post("/agent/login", data={"secret": AGENT_TOKEN})
    for html in (client.get(f"/agent/requests/{rid}").get_data(as_text=True), client.get("/agent/?status=all").get_data(as_text=True)):
        assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html


def test_oversized_input_is_refused(client):
    assert client.post("/api/suggest", data=b"{" + b" " * 200_000 + b"}", content_type="application/json").status_code == 413
    assert client.post("/support/new", data={"subject": "x", "description": "y" * 100_000, "email": "a@b.cc"}).status_code == 413
    assert client.get("/api/search", query_string={"q": "q" * 501}).status_code == 400


def test_no_public_surface_leaks_an_internal_article(app, client):
    snap = app.extensions["kb"].searcher.snapshot
    internal = [a for a in snap.articles.values() if a.audience == "internal"]
    assert internal
    for a in internal:
        for q in (a.title, a.body[:200]):
            assert a.id not in client.get("/api/search", query_string={"q": q[:500]}).get_data(as_text=True)
            assert a.id not in client.get("/search", query_string={"q": q[:500]}).get_data(as_text=True)
            assert a.id not in client.post("/api/suggest", json={"subject": q[:200]}).get_data(as_text=True)
        assert client.get(f"/articles/{a.id}").status_code == 404
        assert client.get(f"/api/articles/{a.id}").status_code == 404


def run_load(base: str, stop: threading.Event, clients: int = 4) -> dict:
    """Clients searching over HTTP until `stop`; returns the counts (run in a thread)."""
    counts = {"ok": 0, "failed": 0, "errors": []}
    lock = threading.Lock()
    queries = ["withdrawal pending", "充值未到账", "lost google authenticator", "TRC20 deposit", "zebra"]

    def client(n):
        i = n
        while not stop.is_set():
            i += 1
            url = f"{base}/api/search?" + urllib.parse.urlencode({"q": queries[i % len(queries)]})
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    ok = r.status == 200 and json.loads(r.read())["ok"]
                    err = None
            except Exception as exc:  # any failed request is what this test is about
                ok, err = False, repr(exc)
            with lock:
                counts["ok" if ok else "failed"] += 1
                if err:
                    counts["errors"].append(err)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def rebuild_under_load(built, kb_dir, embedder, tmp_path, clients: int, rebuilds: int, hold: float) -> dict:
    """Serve over HTTP with `clients` searching; rebuild `rebuilds` times, each time waiting for the switch."""
    from waitress.server import create_server

    from webapp import create_app

    app = create_app({"KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir,
                      "KB_RELOAD_INTERVAL": 0.2, "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN,
                      "SECRET_KEY": "test", "KB_RATE_LIMITS": "off"}, embedder=embedder)  # a load test
    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    base = f"http://127.0.0.1:{server.effective_port}"
    closing = threading.Event()

    def serve():
        try:
            server.run()
        except OSError:  # close() can pull the socket from under the loop's select(): only an error before that
            if not closing.is_set():
                raise

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    stop = threading.Event()
    result: dict = {"switched": 0, "builds": set()}
    load = threading.Thread(target=lambda: result.update(run_load(base, stop, clients)))
    load.start()
    try:
        time.sleep(hold)
        for n in range(rebuilds):
            path = kb_dir / "lost-2fa-en.md"
            word = f"zebra{n}"
            path.write_text(path.read_text(encoding="utf-8") + f"\n## Zebra crossing {n}\n\nThe {word} section explains striped QR codes.\n",
                            encoding="utf-8")
            result["builds"].add(app.extensions["kb"].searcher.snapshot.path)
            assert build_index(built, embedder=embedder).published
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                with urllib.request.urlopen(f"{base}/api/search?q={word}+striped+QR", timeout=10) as r:
                    top = json.loads(r.read())["results"][0]
                if top["id"] == "lost-2fa-en" and any(f"Zebra crossing {n}" == s["heading"] for s in top["sections"]):
                    result["switched"] += 1
                    break
                time.sleep(0.2)
            time.sleep(hold)  # keep the load on after the switch
        result["builds"].add(app.extensions["kb"].searcher.snapshot.path)
    finally:
        stop.set()
        load.join()
        closing.set()
        server.close()
        serving.join(timeout=10)
    return result


def test_rebuild_while_serving_at_load_fails_no_request_and_switches(built, kb_dir, embedder, tmp_path):
    """A writer rebuilds while users search: no request fails and answers move to the new index, no restart."""
    result = rebuild_under_load(built, kb_dir, embedder, tmp_path, clients=4, rebuilds=1, hold=1.0)
    assert result["switched"] == 1 and len(result["builds"]) == 2
    assert result["ok"] > 50 and result["failed"] == 0, result["errors"][:3]


@pytest.mark.slow
def test_soak_many_rebuilds_under_heavy_load(built, kb_dir, embedder, tmp_path):
    """The long run (--run-slow): 16 clients for about a minute while the index is rebuilt five times."""
    result = rebuild_under_load(built, kb_dir, embedder, tmp_path, clients=16, rebuilds=5, hold=8.0)
    assert result["switched"] == 5 and len(result["builds"]) == 6
    assert result["ok"] > 1000 and result["failed"] == 0, result["errors"][:3]
