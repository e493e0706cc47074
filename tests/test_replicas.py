"""Several replicas behind nginx (issue 17): rate limits shared through Redis, and on loopback a whole deployment
as the README's "Running on several machines" describes it: PostgreSQL, Redis, nginx (deploy/nginx.conf itself)
and 3 replicas (`kb serve --workers 2`, gunicorn), with a fourth process publishing builds (`kb build --publish-to`).
The long soak is marked slow (pytest --run-slow)."""
from __future__ import annotations

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
import http.client
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import AGENT_TOKEN, FIXTURE_KB
from services import NginxServer, RedisServer, free_port, listening, wait_for

ROOT = Path(__file__).resolve().parents[1]
KB = str(Path(sys.executable).parent / "kb")
SECRET = "replicas-test-secret"


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
