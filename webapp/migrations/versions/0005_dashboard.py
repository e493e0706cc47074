"""The writers' dashboard in SQL: each search-log row's content-gap key, and indexes for the dashboard's GROUP BYs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("search_log") as batch:
        batch.add_column(sa.Column("gap_key", sa.Text(), nullable=True))
    _fill_gap_keys()
    op.create_index("ix_search_log_gaps", "search_log", ["no_answer", "created_at", "surface", "locale", "gap_key"],
                    unique=False)
    op.create_index("ix_search_log_days", "search_log", ["created_at", "surface", "locale"], unique=False)


def _fill_gap_keys() -> None:
    """The key of every row logged before this revision, from its query as the dashboard shows it (scrubbed)."""
    from webapp.gaps import gap_key  # the function new rows get theirs from
    from webapp.privacy import scrub

    conn = op.get_bind()
    log = sa.table("search_log", sa.column("id", sa.Integer), sa.column("query", sa.Text),
                   sa.column("gap_key", sa.Text))
    last = 0
    while True:
        rows = conn.execute(sa.select(log.c.id, log.c.query).where(log.c.id > last).order_by(log.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return
        conn.execute(log.update().where(log.c.id == sa.bindparam("row_id")).values(gap_key=sa.bindparam("key")),
                     [{"row_id": r.id, "key": gap_key(scrub(r.query) or "")} for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_search_log_days", table_name="search_log")
    op.drop_index("ix_search_log_gaps", table_name="search_log")
    with op.batch_alter_table("search_log") as batch:
        batch.drop_column("gap_key")
