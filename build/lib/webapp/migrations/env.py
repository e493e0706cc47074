"""Alembic environment. webapp.migrate.upgrade runs it with the app's connection in config.attributes["connection"]
(inside its transaction and lock: nothing is committed here). Without one (e.g. a developer's own Config for
`command.revision(..., autogenerate=True)`), it connects to the config's sqlalchemy.url. No logging setup: the
app's own logging stays as it is."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from webapp.db import metadata

config = context.config
target_metadata = metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, dialect_opts={"paramstyle": "named"},
                      render_as_batch=config.get_main_option("sqlalchemy.url", "").startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: sa.Connection) -> None:
    # Batch mode on SQLite, whose ALTER TABLE cannot change columns: Alembic rebuilds the table instead.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
