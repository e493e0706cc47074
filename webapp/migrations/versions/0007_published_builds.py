"""Published builds (kb build --publish-to, replicas with KB_INDEX_SOURCE): the record of builds, their files in
chunks of bytes, and the one `current` row (kb/replicate.py). Used on PostgreSQL only; made on SQLite too, so
that every store has the same schema.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "kb_published_builds",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("built_at", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("stored", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "kb_published_files",
        sa.Column("build", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["build"], ["kb_published_builds.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("build", "path"),
    )
    op.create_table(
        "kb_published_chunks",
        sa.Column("build", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("chunk_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["build", "path"], ["kb_published_files.build", "kb_published_files.path"],
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("build", "path", "chunk_no"),
    )
    op.create_table(
        "kb_current",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("build", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.CheckConstraint("id = 1", name="kb_current_one_row"),
        sa.ForeignKeyConstraint(["build"], ["kb_published_builds.name"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("kb_current")
    op.drop_table("kb_published_chunks")
    op.drop_table("kb_published_files")
    op.drop_table("kb_published_builds")
