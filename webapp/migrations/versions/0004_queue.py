"""A queue for a real desk (assignment, the request's detected locale).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("ui_locale", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("assigned_to", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("urgency_rank", sa.SmallInteger(), server_default="2", nullable=False))
    # Requests filed before this revision kept the interface's locale as their `locale`: that is what ui_locale
    # means now (their `locale` stays as it was: nothing re-reads their text here).
    op.execute("UPDATE requests SET ui_locale = locale")
    op.execute("UPDATE requests SET urgency_rank = CASE urgency WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 ELSE 2 END")
    op.create_index("ix_requests_queue", "requests", ["status", "urgency_rank", "created_at", "id"], unique=False)
    op.create_index("ix_requests_rank", "requests", ["urgency_rank", "created_at", "id"], unique=False)
    op.create_index("ix_requests_assigned_to", "requests", ["assigned_to"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_requests_assigned_to", table_name="requests")
    op.drop_index("ix_requests_rank", table_name="requests")
    op.drop_index("ix_requests_queue", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("urgency_rank")
        batch.drop_column("assigned_to")
        batch.drop_column("ui_locale")
