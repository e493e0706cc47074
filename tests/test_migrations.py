"""Schema migrations (webapp.migrate): a database made by the old `metadata.create_all` keeps its rows and is
brought to head; an empty one gets a schema equal to webapp.db.metadata; the baseline revision is exactly the old
schema; upgrading twice, or from several processes at once (gunicorn workers), is safe. On SQLite and PostgreSQL."""
import itertools
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from kb.config import Settings
from webapp import db
from webapp.migrate import BASELINE, MIGRATIONS, _config, upgrade

ROOT = Path(__file__).resolve().parent.parent
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()

# Frozen copy of the tables as db.py declared them before migrations existed: what `metadata.create_all` made on
# every database in use then. Never edit it (db.metadata changes with each revision; this must not).
LEGACY = sa.MetaData()
sa.Table(
    "requests", LEGACY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("locale", sa.String(16)),
    sa.Column("chosen_category", sa.String(64)),
    sa.Column("category", sa.String(64)),
    sa.Column("urgency", sa.String(16), nullable=False),
    sa.Column("urgent_topics", sa.Text, nullable=False, default="[]"),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("shown", sa.Text, nullable=False, default="[]"),
    sa.Column("opened", sa.Text, nullable=False, default="[]"),
    sa.Column("session", sa.String(64)),
    sa.Column("reply", sa.Text),
)
sa.Table(
    "deflections", LEGACY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("session", sa.String(64)),
    sa.Column("article_id", sa.String(128), nullable=False),
    sa.Column("query", sa.Text),
    sa.Column("locale", sa.String(16)),
    sa.Column("shown", sa.Text, nullable=False, default="[]"),
    sa.Column("opened", sa.Text, nullable=False, default="[]"),
)
sa.Table(
    "suggestion_feedback", LEGACY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
    sa.Column("article_id", sa.String(128), nullable=False),
    sa.Column("verdict", sa.String(8), nullable=False),
    sa.Column("agent", sa.String(64)),
    sa.CheckConstraint("verdict IN ('used', 'wrong')", name="verdict_kind"),
)
sa.Table(
    "search_log", LEGACY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("surface", sa.String(16), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("locale", sa.String(16)),
    sa.Column("result_ids", sa.Text, nullable=False, default="[]"),
    sa.Column("top_score", sa.Float),
    sa.Column("no_answer", sa.Boolean, nullable=False, default=False),
    sa.Column("clicked_id", sa.String(128)),
    sa.Column("outcome", sa.String(16)),
    sa.Column("session", sa.String(64)),
)
sa.Table(
    "article_votes", LEGACY,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("article_id", sa.String(128), nullable=False, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("locale", sa.String(16)),
)

ROWS = {  # one row of each table, every column given
    "requests": {"id": 1, "created_at": 1000.5, "updated_at": 1001.5, "subject": "Refund", "description": "Charged twice",
                 "email": "ana@example.com", "locale": "es", "chosen_category": "billing", "category": "billing",
                 "urgency": "high", "urgent_topics": '["refund"]', "status": "answered", "shown": '["a/1"]',
                 "opened": '["a/1"]', "session": "s-1", "reply": "Refunded."},
    "deflections": {"id": 1, "created_at": 1002.0, "session": "s-2", "article_id": "billing/refunds", "query": "refund",
                    "locale": "en", "shown": '["billing/refunds"]', "opened": "[]"},
    "suggestion_feedback": {"id": 1, "created_at": 1003.0, "request_id": 1, "article_id": "billing/refunds",
                            "verdict": "used", "agent": "bo"},
    "search_log": {"id": 1, "created_at": 1004.25, "surface": "search", "query": "how to get a refund", "locale": "en",
                   "result_ids": '["billing/refunds"]', "top_score": 0.75, "no_answer": False,
                   "clicked_id": "billing/refunds", "outcome": None, "session": "s-3"},
    "article_votes": {"id": 1, "created_at": 1005.0, "article_id": "billing/refunds", "helpful": True,
                      "comment": "clear", "locale": "en"},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request, tmp_path):
    """A factory of URLs of new, empty databases: SQLite files, or databases on the module's PostgreSQL server."""
    names = (f"kb_{n}" for n in itertools.count())
    if request.param == "sqlite":
        yield lambda: f"sqlite:///{tmp_path / next(names)}.sqlite3"
        return
    server = request.getfixturevalue("postgres")
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    created = []

    def make() -> str:
        name = next(names)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        created.append(name)
        return server.url.replace("/postgres?", f"/{name}?")

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def new_engine(new_url):
    """A factory of engines (made as the app makes them) on new, empty databases; disposed after the test."""
    engines = []

    def make() -> sa.Engine:
        engines.append(db.make_engine(new_url()))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def make_legacy(engine: sa.Engine) -> None:
    """A database as the app made it before migrations: create_all of the old tables, a row in each (id 1, given by
    the database as the app's inserts have it)."""
    LEGACY.create_all(engine)
    with engine.begin() as conn:
        for table in LEGACY.sorted_tables:
            values = {k: v for k, v in ROWS[table.name].items() if k != "id"}
            assert conn.execute(table.insert().values(**values)).inserted_primary_key[0] == 1


def rows(engine: sa.Engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.id))]
                for t in LEGACY.sorted_tables}


def versions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]


def schema(engine: sa.Engine) -> dict:
    """Everything the database says about its tables (alembic_version aside): columns, keys, indexes, checks,
    and on SQLite the CREATE statements themselves."""
    inspector = sa.inspect(engine)
    out = {}
    for name in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        out[name] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in inspector.get_columns(name)],
            "pk": inspector.get_pk_constraint(name)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                          for f in inspector.get_foreign_keys(name)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(name)),
            "checks": sorted((c["name"], c["sqltext"]) for c in inspector.get_check_constraints(name)),
        }
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            out["sqlite_master"] = sorted(tuple(r) for r in conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name != 'alembic_version'"))
    return out


def diff_from_metadata(engine: sa.Engine) -> list:
    """What `alembic check` would report: the differences between the database and webapp.db.metadata."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), db.metadata)


def test_database_made_by_create_all_is_stamped_and_upgraded_with_its_rows(new_engine):
    engine = new_engine()
    make_legacy(engine)
    before = rows(engine)
    assert [len(v) for v in before.values()] == [1] * 5

    upgrade(engine)

    assert versions(engine) == [HEAD]
    assert rows(engine) == before
    assert before["requests"][0]["email"] == "ana@example.com" and before["search_log"][0]["no_answer"] is False
    assert before["article_votes"][0]["helpful"] is True
    assert diff_from_metadata(engine) == []
    with engine.begin() as conn:  # the id sequences go on after the old rows
        new_id = conn.execute(db.search_log.insert().values(created_at=2000.0, surface="api", query="q", result_ids="[]",
                                                            no_answer=True)).inserted_primary_key[0]
    assert new_id == 2


def test_empty_database_gets_the_full_schema(new_engine):
    engine = new_engine()
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) == set(db.metadata.tables) | {"alembic_version"}
    assert versions(engine) == [HEAD]
    assert diff_from_metadata(engine) == []


def test_baseline_revision_is_exactly_the_old_create_all(new_engine):
    old, migrated = new_engine(), new_engine()
    LEGACY.create_all(old)
    with migrated.begin() as conn:
        command.upgrade(_config(conn), BASELINE)
    assert versions(migrated) == [BASELINE]
    expected = schema(old)
    assert set(expected) >= set(LEGACY.tables)
    assert expected["suggestion_feedback"]["checks"] and expected["article_votes"]["indexes"]
    assert schema(migrated) == expected


def test_upgrade_is_idempotent(new_engine):
    empty, legacy = new_engine(), new_engine()
    make_legacy(legacy)
    for engine in (empty, legacy):
        upgrade(engine)
        first, data = schema(engine), rows(engine)
        upgrade(engine)
        assert versions(engine) == [HEAD]
        assert schema(engine) == first
        assert rows(engine) == data
    assert rows(legacy)["requests"] == [ROWS["requests"]]
    assert rows(empty)["requests"] == []


def test_partial_database_without_version_is_refused(new_engine):
    engine = new_engine()
    LEGACY.tables["requests"].create(engine)
    with pytest.raises(RuntimeError, match="some of the tables but no alembic_version"):
        upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) == {"requests"}  # nothing done, nothing stamped


WORKER = """
import sys
from webapp.db import make_engine
from webapp.migrate import upgrade
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
upgrade(engine)
"""


@pytest.mark.parametrize("start", ["empty", "legacy"])
def test_processes_starting_at_once_migrate_once(new_engine, start):
    """Four processes, each with its modules loaded and its engine made, upgrade the same database at one signal."""
    engine = new_engine()
    if start == "legacy":
        make_legacy(engine)
    url = engine.url.render_as_string(hide_password=False)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url], cwd=ROOT, text=True, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    try:
        for p in procs:
            assert p.stdout.readline() == "ready\n"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    assert versions(engine) == [HEAD]
    assert diff_from_metadata(engine) == []
    assert rows(engine)["requests"] == ([ROWS["requests"]] if start == "legacy" else [])


def test_init_app_migrates_the_store(tmp_path):
    app = Flask(__name__)
    app.extensions["kb"] = SimpleNamespace(settings=Settings.from_mapping({"db_path": str(tmp_path / "var" / "kb.sqlite3")}), db=None)
    db.init_app(app)
    engine = app.extensions["kb"].db
    try:
        assert versions(engine) == [HEAD]
        with app.app_context():
            request_id = db.create_request(subject="s", description="d", email="e@example.com", urgency="normal")
            assert db.get_request(request_id)["status"] == "open"
    finally:
        engine.dispose()
