"""Baseline: the tables `metadata.create_all` made before migrations existed, written out.

A database made by create_all is stamped at this revision (webapp.migrate) instead of running it. Never edit this
file: a schema change is a new revision.

Revision ID: 0001
Revises:
Create Date: 2025-12-01
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("chosen_category", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("urgent_topics", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shown", sa.Text(), nullable=False),
        sa.Column("opened", sa.Text(), nullable=False),
        sa.Column("session", sa.String(length=64), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_requests_created_at"), "requests", ["created_at"], unique=False)

    op.create_table(
        "deflections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("session", sa.String(length=64), nullable=True),
        sa.Column("article_id", sa.String(length=128), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("shown", sa.Text(), nullable=False),
        sa.Column("opened", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_deflections_created_at"), "deflections", ["created_at"], unique=False)

    op.create_table(
        "suggestion_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=128), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("verdict IN ('used', 'wrong')", name="verdict_kind"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
    )

    op.create_table(
        "search_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("surface", sa.String(length=16), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("result_ids", sa.Text(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column("no_answer", sa.Boolean(), nullable=False),
        sa.Column("clicked_id", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("session", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_search_log_created_at"), "search_log", ["created_at"], unique=False)

    op.create_table(
        "article_votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("article_id", sa.String(length=128), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_article_votes_created_at"), "article_votes", ["created_at"], unique=False)
    op.create_index(op.f("ix_article_votes_article_id"), "article_votes", ["article_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_article_votes_article_id"), table_name="article_votes")
    op.drop_index(op.f("ix_article_votes_created_at"), table_name="article_votes")
    op.drop_table("article_votes")
    op.drop_index(op.f("ix_search_log_created_at"), table_name="search_log")
    op.drop_table("search_log")
    op.drop_table("suggestion_feedback")
    op.drop_index(op.f("ix_deflections_created_at"), table_name="deflections")
    op.drop_table("deflections")
    op.drop_index(op.f("ix_requests_created_at"), table_name="requests")
    op.drop_table("requests")
