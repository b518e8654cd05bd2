"""Complaint cases of the web console's complaints queue (mirrors the SQLite table).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def at(name: str = "at", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(precision=53), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "complaint_cases", sa.Column("org", sa.Text(collation="C"), nullable=False), sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("number", sa.Text), at(), sa.Column("text", sa.Text), sa.Column("status", sa.Text, nullable=False),
        sa.Column("assignee", sa.Text), sa.Column("reply", sa.Text), at("acknowledged_at", nullable=True),
        at("resolved_at", nullable=True), at("updated_at", nullable=True),
        sa.PrimaryKeyConstraint("org", "seq"),
    )


def downgrade() -> None:
    op.drop_table("complaint_cases")
