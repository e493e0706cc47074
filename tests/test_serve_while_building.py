"""Serving while the first build computes its vectors (issue 17): the build publishes a lexical snapshot first, the
server searches it by BM25 and says how far the build is, then switches to the full build without a restart."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import AGENT_TOKEN
from kb.config import PROJECT_ROOT as ROOT
from kb.build import build_index, index_is_stale
from kb.store import INDEXING, current_build, load_current, published_builds, read_manifest


class HeldEmbedder:
    """The real embedder, whose passage encoding waits until the test lets it go on."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.go = threading.Event()
        self.waiting = threading.Event()

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, batch_size=32):
        self.waiting.set()
        assert self.go.wait(60), "the test never let the build go on"
        return self.inner.encode_passages(texts, batch_size)


def wait_for(condition, seconds=30.0, what="condition"):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_first_build_is_searchable_by_its_words_before_its_vectors_exist(settings, embedder, tmp_path):
    from webapp import create_app

    held = HeldEmbedder(embedder)
    reports = []
    builder = threading.Thread(target=lambda: reports.append(build_index(settings, embedder=held)))
    builder.start()
    try:
        assert held.waiting.wait(60)
        partial = current_build(settings.index_dir)
        assert partial is not None and read_manifest(partial).partial
        progress = json.loads((Path(settings.index_dir) / INDEXING).read_text())
        assert progress["done"] == 0 and progress["total"] > 0

        app = create_app({"TESTING": True, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
                          "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN,
                          "SECRET_KEY": "test", "KB_RELOAD_INTERVAL": "0"}, embedder=embedder)
        client = app.test_client()
        found = client.get("/api/search?q=deposit not arrived").get_json()
        assert found["mode"] == "bm25" and found["results"][0]["id"] == "deposit-not-credited-en"
        health = client.get("/healthz").get_json()
        assert health["indexing"] == {"partial": True, "percent": 0} and health["build"] == partial.name
        assert "chunks" not in health  # counts are for agents
        page = client.get("/search?q=deposit&lang=ko").get_data(as_text=True)
        assert 'class="notice indexing"' in page and "0%" in page  # the Korean banner: "색인 작성 중(0%)"
    finally:
        held.go.set()
        builder.join(120)
    report = reports[0]
    assert report.published and report.partial_published == partial.name

    live = app.extensions["kb"].live
    live.maybe_reload(wait=True)
    assert live.searcher.snapshot.path == current_build(settings.index_dir) != partial
    assert client.get("/api/search?q=deposit not arrived").get_json()["mode"] == "hybrid"
    assert client.get("/healthz").get_json()["indexing"] is None
    assert 'notice indexing' not in client.get("/search?q=deposit").get_data(as_text=True)
    assert not partial.exists() and partial.name not in {e["name"] for e in published_builds(settings.index_dir)}
    assert not (Path(settings.index_dir) / INDEXING).exists()
    app.extensions["kb"].db.dispose()


def test_no_lexical_snapshot_is_published_over_a_live_index(built, kb_dir, embedder):
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8").replace("1 to 3 business days", "2 to 4 business days"), "utf-8")
    report = build_index(built, embedder=embedder, full=True)
    assert report.published and report.partial_published is None
    assert not read_manifest(current_build(built.index_dir)).partial


def test_a_lexical_snapshot_left_by_a_killed_build_is_rebuilt_in_full_its_zeros_never_reused(settings, embedder):
    held = HeldEmbedder(embedder)
    builder = threading.Thread(target=lambda: pytest.raises(Exception, build_index, settings, embedder=held), daemon=True)
    builder.start()
    assert held.waiting.wait(60)
    partial = current_build(settings.index_dir)
    held.inner = None  # the build dies in its first batch, as a killed one would: the snapshot stays live
    held.go.set()
    builder.join(60)
    assert current_build(settings.index_dir) == partial
    assert index_is_stale(settings) == (True, "the index is a lexical snapshot, its vectors not computed yet")

    report = build_index(settings, embedder=embedder)
    assert report.published and report.full and report.partial_published is None  # a live index: served meanwhile
    snap = load_current(settings.index_dir)
    assert not snap.manifest.partial and (abs(snap.vectors.vectors()).sum(axis=1) > 0).all()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def start_serve(kb_dir, tmp_path, port: int, flag: str, **env) -> subprocess.Popen:
    """`kb serve <flag>` on the fixture copy, its output (and its builders') on one pipe."""
    env = {**os.environ, "KB_ARTICLES_DIR": str(kb_dir), "KB_INDEX_DIR": str(tmp_path / "index"),
           "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN, "KB_RATE_LIMITS": "off", **env}
    return subprocess.Popen([sys.executable, "-m", "webapp.commands.serve", flag, "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_kb_serve_build_serves_a_new_machine_before_the_vectors_are_done(kb_dir, tmp_path):
    """`make run` on a new machine: `kb serve --build` answers while its build waits after the lexical snapshot
    (KB_BUILD_FAULT=after-partial holds it there)."""
    port = free_port()
    server = start_serve(kb_dir, tmp_path, port, "--build", KB_BUILD_FAULT="after-partial")
    build_pid = None
    try:
        def answers():
            assert server.poll() is None, server.stdout.read()
            try:
                return get(f"http://127.0.0.1:{port}/api/search?q=deposit+not+arrived")
            except OSError:
                return None

        wait_for(answers, 90, "the first answer")
        found = answers()
        assert found["mode"] == "bm25" and found["results"][0]["id"] == "deposit-not-credited-en"
        assert get(f"http://127.0.0.1:{port}/healthz")["indexing"]["partial"] is True
        build_pid = json.loads((tmp_path / "index" / INDEXING).read_text())["pid"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()
        if build_pid is not None:
            try:
                os.kill(build_pid, signal.SIGKILL)  # paused by the fault point; the server's exit ends it too
            except ProcessLookupError:
                pass


def test_kb_serve_watch_serves_an_edit_seconds_after_it_is_saved(kb_dir, tmp_path):
    """`make run` (kb serve --build --watch): after the first build, a builder watches the articles folder; an article
    saved there is served without a restart, and the builder stops with the server, even one killed with SIGKILL."""
    port = free_port()
    server = start_serve(kb_dir, tmp_path, port, "--watch", KB_RELOAD_INTERVAL="0.2")
    lines: list[str] = []  # the server's output and its builders' (they share it)
    reader = threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True)
    reader.start()

    def page() -> str:
        assert server.poll() is None, "".join(lines)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/articles/lost-2fa-en", timeout=10) as r:
                return r.read().decode()
        except OSError:
            return ""

    def builders() -> set[int]:
        found = set()
        for task in Path(f"/proc/{server.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                try:
                    if b"--watch" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        found.add(int(pid))
                except OSError:  # (the first build's process, ended since)
                    pass
        return found

    watcher: set[int] = set()
    try:
        wait_for(lambda: "business days" in page(), 120, "the first build's page")
        wait_for(lambda: any(line.startswith("watching ") for line in list(lines)), 60, "the builder to watch")
        watcher = builders()
        assert len(watcher) == 1
        edited = kb_dir / "lost-2fa-en.md"
        edited.write_text(edited.read_text(encoding="utf-8") + "\n\nOne more, a sentence saved by the writer.\n",
                          encoding="utf-8")
        wait_for(lambda: "a sentence saved by the writer" in page(), 60, "the edit served")
    finally:
        server.kill()  # no chance to stop its builder: the builder sees it gone
        server.wait()
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in watcher), 20, "the builder to stop")
    reader.join(10)  # (the output ends when the builder's copy of it is closed too)
    server.stdout.close()
