"""Published builds (kb.replicate, webapp.replica): a build uploaded to PostgreSQL reaches replicas whole and
checked; a corrupt chunk is refused; re-publishing changes nothing; one machine downloads once; `kb build
--publish-to` works on an empty database. On a real PostgreSQL server (tests/pg.py)."""
from __future__ import annotations

import fcntl
import itertools
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import AGENT_TOKEN, FIXTURE_KB
from kb import replicate
from kb.build import build_index
from kb.commands import build as build_command
from kb.config import Settings
from kb.live import LiveIndex
from kb.manifest import MANIFEST
from kb.store import current_build, published_builds
from webapp import create_app
from webapp.db import make_engine
from webapp.migrate import upgrade

BEARER = {"Authorization": f"Bearer {AGENT_TOKEN}"}
NEW_WORD = "zebrafish"  # only in the second build
SECTION = f"\n## Recovery codes\n\nKeep your {NEW_WORD} recovery codes offline; each code works once.\n"
names = (f"kb_replicate_{n}" for n in itertools.count())


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, embedder) -> tuple[Path, Path]:
    """Two builds of the fixture knowledge base (the second has one more section), read-only for the tests."""
    root = tmp_path_factory.mktemp("builds")
    shutil.copytree(FIXTURE_KB, root / "articles")
    settings = Settings.from_mapping({"articles_dir": str(root / "articles"), "index_dir": str(root / "index")})
    first = Path(build_index(settings, embedder=embedder).build_dir)
    with open(root / "articles" / "lost-2fa-en.md", "a", encoding="utf-8") as f:
        f.write(SECTION)
    second = Path(build_index(settings, embedder=embedder).build_dir)
    assert first.name != second.name
    return first, second


@pytest.fixture
def url(postgres):
    """A new, empty database on the module's server, with the app's schema; dropped after the test."""
    name = next(names)
    admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    database = postgres.url.replace("/postgres?", f"/{name}?")
    engine = make_engine(database)
    upgrade(engine)
    engine.dispose()
    yield database
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def replica_app(url, embedder, tmp_path):
    """A factory of apps that replicate `url` into an index folder of their own (empty at first); their poller
    threads are stopped after the test."""
    apps = []

    def make(index_dir: Path, poll: float = 0.1):
        app = create_app({"TESTING": True, "KB_INDEX_DIR": str(index_dir), "KB_INDEX_SOURCE": url,
                          "KB_INDEX_POLL_SECONDS": poll, "KB_RELOAD_INTERVAL": 0, "KB_AGENT_TOKEN": AGENT_TOKEN,
                          "KB_DB_PATH": str(tmp_path / f"store-{len(apps)}.sqlite3"), "SECRET_KEY": "t"},
                         embedder=embedder)
        apps.append(app)
        return app

    yield make
    for app in apps:  # a start that failed made no app and left no thread
        app.extensions["kb"].replica.stop()
        app.extensions["kb"].db.dispose()


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def sections(client) -> list[str]:
    """The sections a search for the second build's new words finds."""
    body = client.get("/api/search", query_string={"q": f"{NEW_WORD} recovery codes"}).get_json()
    return [hit["section"] for hit in body["results"]]


def wait_for(condition, what: str, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"not within {seconds:.0f} s: {what}")


def rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        result = conn.exec_driver_sql(sql)
        found = [tuple(r) for r in result] if result.returns_rows else []
    engine.dispose()
    return found


def test_publish_then_fetch_gives_the_same_files_and_a_fresh_replica_serves_them(two_builds, url, tmp_path,
                                                                                 replica_app, embedder):
    first, _ = two_builds
    plain = url.replace("postgresql+psycopg://", "postgresql://")  # both spellings are accepted
    result = replicate.publish_build(plain, first)
    assert result.uploaded and result.made_current and result.files == len(files_of(first))
    assert result.summary().startswith(f"published {first.name} to ") and "/kb_replicate_" in result.where

    fetched = replicate.fetch_current(url, tmp_path / "replica")
    assert fetched == tmp_path / "replica" / "builds" / first.name
    assert files_of(fetched) == files_of(first)
    assert current_build(tmp_path / "replica") == fetched
    assert [b["name"] for b in published_builds(tmp_path / "replica")] == [first.name]
    assert not [p for p in (tmp_path / "replica" / "builds").iterdir() if p.name.startswith(".tmp-")]
    assert replicate.fetch_current(url, tmp_path / "replica") is None  # current already
    assert LiveIndex(Settings.from_mapping({"index_dir": str(tmp_path / "replica")}), embedder).searcher \
        .snapshot.path.name == first.name

    app = replica_app(tmp_path / "fresh")  # no local index: fetched before the LiveIndex loads
    client = app.test_client()
    health = client.get("/healthz").get_json()
    assert health["build"] == first.name and health["ok"] is True
    assert health["replica"] == {"ok": True, "published": first.name, "serving_published": True}
    body = client.get("/api/search", query_string={"q": "lost authenticator"}).get_json()
    assert body["results"][0]["id"] == "lost-2fa-en"
    details = client.get("/healthz", headers=BEARER).get_json()["replica"]
    assert details["source"] == result.where and details["failed_checks"] == 0 and details["last_error"] is None


def test_a_replica_with_nothing_to_serve_says_what_to_run(url, replica_app, tmp_path):
    with pytest.raises(replicate.ReplicaError, match=r"no build published to .*/kb_replicate_\d+ yet; run: kb build "
                                                     r"--publish-to"):
        replica_app(tmp_path / "empty")
    assert current_build(tmp_path / "empty") is None


def test_a_second_publish_reaches_a_running_replica(two_builds, url, tmp_path, replica_app):
    first, second = two_builds
    replicate.publish_build(url, first)
    client = replica_app(tmp_path / "replica").test_client()
    assert client.get("/healthz").get_json()["build"] == first.name
    assert "Recovery codes" not in sections(client)

    replicate.publish_build(url, second)

    wait_for(lambda: client.get("/healthz").get_json()["build"] == second.name, "the replica serves the second build")
    assert "Recovery codes" in sections(client)
    assert client.get("/healthz").get_json()["replica"]["serving_published"] is True
    assert [b["name"] for b in published_builds(tmp_path / "replica")] == [first.name, second.name]


def test_a_corrupt_chunk_is_refused_naming_the_file_and_the_replica_keeps_serving(two_builds, url, tmp_path,
                                                                                  replica_app):
    first, second = two_builds
    replicate.publish_build(url, first)
    app = replica_app(tmp_path / "replica", poll=3600)  # this test polls by hand
    client = app.test_client()
    before = files_of(tmp_path / "replica")
    poller = app.extensions["kb"].replica

    replicate.publish_build(url, second)
    rows(url, "UPDATE kb_published_chunks SET data = set_byte(data, 10, mod(get_byte(data, 10) + 1, 256)) "
              f"WHERE build = '{second.name}' AND path = 'chunks.json'")
    with pytest.raises(replicate.ReplicaError, match=r"chunks\.json.*sha256.*the local index is unchanged"):
        replicate.fetch_current(url, tmp_path / "replica")
    assert files_of(tmp_path / "replica") == before  # no folder of the second build, no temporary one
    assert current_build(tmp_path / "replica").name == first.name

    with pytest.raises(replicate.ReplicaError, match="chunks.json"):
        poller.poll()
    health = client.get("/healthz").get_json()
    assert health["ok"] is False and health["status"] == "degraded" and health["build"] == first.name
    assert health["replica"] == {"ok": False, "published": second.name, "serving_published": False}
    assert "chunks.json" not in str(health)  # errors name files: for agents only
    details = client.get("/healthz", headers=BEARER).get_json()["replica"]
    assert "chunks.json" in details["last_error"] and details["failed_checks"] == 1
    assert client.get("/api/search", query_string={"q": "lost authenticator"}).status_code == 200


def test_republishing_is_a_no_op_and_old_builds_leave_only_their_record(two_builds, url):
    first, second = two_builds
    assert replicate.publish_build(url, first).uploaded
    before = rows(url, "SELECT name, published_at, stored FROM kb_published_builds")
    chunks = rows(url, "SELECT count(*) FROM kb_published_chunks")

    again = replicate.publish_build(url, first)
    assert (again.uploaded, again.made_current) == (False, False) and again.summary().endswith("(already there)")
    assert rows(url, "SELECT name, published_at, stored FROM kb_published_builds") == before
    assert rows(url, "SELECT count(*) FROM kb_published_chunks") == chunks

    replicate.publish_build(url, second, keep=1)  # the first build's files go; its row stays, as the record
    assert rows(url, "SELECT name, stored FROM kb_published_builds ORDER BY published_at") == \
        [(first.name, False), (second.name, True)]
    assert rows(url, "SELECT DISTINCT build FROM kb_published_files") == [(second.name,)]
    back = replicate.publish_build(url, first, keep=1)  # a roll-back uploads it again
    assert (back.uploaded, back.made_current) == (True, True)
    assert rows(url, "SELECT build FROM kb_current") == [(first.name,)]


def test_a_lexical_snapshot_is_not_published(two_builds, url, tmp_path):
    partial = tmp_path / "builds" / "20261202T000000000000Z-1"
    shutil.copytree(two_builds[0], partial)
    manifest = json.loads((partial / MANIFEST).read_text(encoding="utf-8"))
    (partial / MANIFEST).write_text(json.dumps({**manifest, "partial": True}), encoding="utf-8")
    with pytest.raises(replicate.ReplicaError, match="lexical snapshot"):
        replicate.publish_build(url, partial)
    assert rows(url, "SELECT count(*) FROM kb_published_builds") == [(0,)]


def test_one_download_per_machine(two_builds, url, tmp_path, monkeypatch):
    first, _ = two_builds
    replicate.publish_build(url, first)
    index_dir = tmp_path / "replica"
    index_dir.mkdir()
    with open(index_dir / replicate.FETCH_LOCK, "w") as held:  # another worker is fetching
        fcntl.flock(held, fcntl.LOCK_EX)
        assert replicate.fetch_current(url, index_dir) is None
        assert current_build(index_dir) is None and not (index_dir / "builds").exists()

    downloads = []
    download = replicate.Source._download_file

    def counted(self, conn, name, path, meta, tmp):
        if path == MANIFEST:
            downloads.append(name)
            time.sleep(0.2)  # the others ask while this one holds the lock
        return download(self, conn, name, path, meta, tmp)

    monkeypatch.setattr(replicate.Source, "_download_file", counted)
    start, results = threading.Barrier(4), []

    def fetch():
        start.wait()
        results.append(replicate.fetch_current(url, index_dir))

    threads = [threading.Thread(target=fetch) for _ in range(4)]  # flock: per open file, as between processes
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert downloads == [first.name]
    assert sorted(map(str, results)) == sorted([str(index_dir / "builds" / first.name)] + ["None"] * 3)
    assert current_build(index_dir).name == first.name


def test_kb_build_publish_to_an_empty_database(kb_dir, tmp_path, postgres, capsys):
    admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = next(names)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")  # no tables at all
    url = postgres.url.replace("/postgres?", f"/{name}?")
    index = tmp_path / "index"
    try:
        assert build_command.main(["--articles", str(kb_dir), "--index", str(index), "-q", "--publish-to", url]) == 0
        live = current_build(index)
        out = capsys.readouterr().out.strip().splitlines()
        assert out[-1].startswith(f"published {live.name} to ") and "/" + name in out[-1] and "MB" in out[-1]
        assert rows(url, "SELECT build FROM kb_current") == [(live.name,)]

        # up to date: nothing built, the live build is there already
        assert build_command.main(["--articles", str(kb_dir), "--index", str(index), "-q", "--publish-to", url]) == 0
        assert capsys.readouterr().out.strip().endswith("(already there)")

        # an unreachable database: exit status 1, the local build still live (the upload step alone, built already)
        settings = Settings.from_mapping({"articles_dir": str(kb_dir), "index_dir": str(index)})
        nowhere = f"postgresql://kb@/{name}?host={tmp_path / 'no-server'}&port=54329"
        assert build_command.publish_live(settings, nowhere) == 1
        err = capsys.readouterr().err
        assert "publish failed: cannot migrate" in err and f"{live.name} stays the live build" in err
        assert current_build(index) == live
        assert build_command.publish_live(settings, f"sqlite:///{tmp_path / 'x.sqlite3'}") == 1
        assert "published to PostgreSQL" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            build_command.main(["--articles", str(kb_dir), "--index", str(index), "--check", "--publish-to", url])
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()
