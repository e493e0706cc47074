"""One helpful vote per reader and article: the reader's key (a hash of the reader cookie) on each vote.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Votes cast before this revision have no reader: they stay, each counted once, as they were.
    with op.batch_alter_table("article_votes") as batch:
        batch.add_column(sa.Column("reader", sa.String(64), nullable=True))
    op.create_index("ix_article_votes_reader", "article_votes", ["article_id", "reader"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_article_votes_reader", table_name="article_votes")
    with op.batch_alter_table("article_votes") as batch:
        batch.drop_column("reader")
