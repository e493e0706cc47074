"""The writers' dashboard in SQL: each search-log row's UTC day and content-gap key, the articles seen per day,
and covering indexes for the dashboard's GROUP BYs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

import json
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
        batch.add_column(sa.Column("day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("gap_key", sa.Text(), nullable=True))
    op.create_table(
        "articles_seen",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("article_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("day", "locale", "article_id"),
    )
    _fill()
    op.create_index("ix_search_log_days", "search_log", ["day", "surface", "locale", "no_answer", "clicked_id"],
                    unique=False)
    op.create_index("ix_search_log_sessions", "search_log", ["surface", "day", "session", "outcome", "locale"],
                    unique=False)
    op.create_index("ix_search_log_gaps", "search_log", ["no_answer", "day", "surface", "locale", "gap_key"],
                    unique=False)


def _fill() -> None:
    """The day and gap key of every row logged before this revision (the key from its query as the dashboard
    shows it: scrubbed), and the articles each day's searches showed."""
    from webapp.gaps import gap_key  # the function new rows get theirs from
    from webapp.privacy import scrub

    conn = op.get_bind()
    log = sa.table("search_log", sa.column("id", sa.Integer), sa.column("created_at", sa.Float),
                   sa.column("query", sa.Text), sa.column("surface", sa.String), sa.column("locale", sa.String),
                   sa.column("result_ids", sa.Text), sa.column("day", sa.Integer), sa.column("gap_key", sa.Text))
    seen_table = sa.table("articles_seen", sa.column("day", sa.Integer), sa.column("locale", sa.String),
                          sa.column("article_id", sa.String))
    seen: set[tuple[int, str, str]] = set()
    last = 0
    while True:
        rows = conn.execute(sa.select(log).where(log.c.id > last).order_by(log.c.id).limit(BATCH)).all()
        if not rows:
            break
        values = []
        for r in rows:
            day = int(r.created_at // 86400)
            values.append({"row_id": r.id, "d": day, "key": gap_key(scrub(r.query) or "")})
            if r.surface != "agent":
                try:
                    ids = json.loads(r.result_ids or "[]")
                except ValueError:
                    ids = []
                seen.update((day, r.locale or "", str(a)) for a in ids if isinstance(a, str))
        conn.execute(log.update().where(log.c.id == sa.bindparam("row_id"))
                     .values(day=sa.bindparam("d"), gap_key=sa.bindparam("key")), values)
        last = rows[-1].id
    if seen:
        conn.execute(seen_table.insert(), [{"day": d, "locale": loc, "article_id": a} for d, loc, a in sorted(seen)])


def downgrade() -> None:
    op.drop_index("ix_search_log_gaps", table_name="search_log")
    op.drop_index("ix_search_log_sessions", table_name="search_log")
    op.drop_index("ix_search_log_days", table_name="search_log")
    op.drop_table("articles_seen")
    with op.batch_alter_table("search_log") as batch:
        batch.drop_column("gap_key")
        batch.drop_column("day")
