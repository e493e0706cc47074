"""Schema migrations: Alembic (webapp/migrations), run programmatically to head at every start: by db.init_app in a
single-process server (waitress) and in tests, by `python -m webapp.migrate` (main, below) in a child of gunicorn's
master, whose workers then skip it (db.migrated_before_fork).

A database made before migrations existed (by `metadata.create_all`: the tables, no alembic_version) is stamped at
the baseline revision first, then upgraded; an empty one gets the whole history. Several processes may start at
once (replicas on one database, processes started together): the check-stamp-upgrade runs in one transaction under
a lock, so the first process migrates and the others wait, then find the database at head and do nothing."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

logging.getLogger("alembic").setLevel(logging.WARNING)  # it logs its plugins (at import) and context at every start

import sqlalchemy as sa  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
# The tables of the baseline revision, i.e. what `metadata.create_all` made before migrations existed.
BASELINE_TABLES = frozenset({"requests", "deflections", "suggestion_feedback", "search_log", "article_votes"})
PG_LOCK_KEY = 0x6B62_6D69_6772  # pg_advisory_xact_lock key ("kbmigr"), the same in every process
SQLITE_LOCK_WAIT_MS = 600_000  # how long a starting process waits for another one's migration (BEGIN IMMEDIATE)


def _config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection  # env.py runs the migrations on this connection
    return config


def _upgrade(connection: sa.Connection) -> None:
    """Stamp a pre-migration database at the baseline, then upgrade to head; in the caller's transaction."""
    config = _config(connection)
    if MigrationContext.configure(connection).get_current_revision() is None:
        present = BASELINE_TABLES & set(sa.inspect(connection).get_table_names())
        if present == BASELINE_TABLES:
            command.stamp(config, BASELINE)
        elif present:
            raise RuntimeError(f"database has some of the tables but no alembic_version: {sorted(present)} of "
                               f"{sorted(BASELINE_TABLES)}; not migrating it")
    command.upgrade(config, "head")


def upgrade(engine: sa.Engine) -> None:
    """Bring the database of `engine` to the newest revision; safe to call from several processes at once."""
    if engine.dialect.name == "sqlite":
        _upgrade_sqlite(engine)
        return
    with engine.begin() as connection:  # PostgreSQL: DDL is transactional, all or nothing
        if engine.dialect.name == "postgresql":
            # Released at commit or rollback; a second process waits here, then sees the first one's work.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        _upgrade(connection)


def _upgrade_sqlite(engine: sa.Engine) -> None:
    """SQLite: one BEGIN IMMEDIATE transaction (the database's write lock, taken before the version is read, so a
    second process waits for the first one to commit). Python's sqlite3 runs DDL inside an explicit transaction, so
    a failed migration rolls back whole. Foreign keys are off meanwhile, as SQLite's own recipe for rebuilding a
    table (Alembic's batch mode) requires, and checked before the commit."""
    with engine.connect() as connection:
        sql = connection.exec_driver_sql
        busy_timeout, foreign_keys = sql("PRAGMA busy_timeout").scalar(), sql("PRAGMA foreign_keys").scalar()
        sql(f"PRAGMA busy_timeout = {SQLITE_LOCK_WAIT_MS}")
        sql("PRAGMA foreign_keys = OFF")  # outside a transaction, or it is a no-op
        try:
            sql("BEGIN IMMEDIATE")
            _upgrade(connection)
            broken = sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:10]}")
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            sql(f"PRAGMA foreign_keys = {int(foreign_keys)}")
            sql(f"PRAGMA busy_timeout = {int(busy_timeout)}")
            connection.commit()


def main() -> int:
    """`python -m webapp.migrate`: the configured database (KB_DATABASE_URL, else KB_DB_PATH) brought to head. A
    gunicorn master runs it in a child process while it loads the live build, so that Alembic (20 MB) is never
    imported into the processes that serve; its workers then find the database migrated (webapp.db)."""
    from kb.config import Settings

    from .db import database_url, make_engine

    try:
        engine = make_engine(database_url(Settings.from_env()))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    except Exception as exc:  # (a message, not a traceback: the master says it cannot start)
        print(f"cannot migrate the database: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
