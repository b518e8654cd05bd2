"""Reputation tables: the reports log, per-number vote aggregates, reporters, appeals, sender numbers.

Reporters are kept only as keyed hashes (HMAC-SHA256 with a server secret, 16 bytes); see
reputation/ and docs/reputation.md. Mirrors the SQLite store's tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def key(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(collation="C"), nullable=nullable)


def at(name: str = "at", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(precision=53), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "reports", sa.Column("seq", sa.BigInteger, sa.Identity(always=False), primary_key=True), key("number"),
        sa.Column("label", sa.Text, nullable=False), sa.Column("reporter", sa.LargeBinary, nullable=False), at(),
        sa.Column("text", sa.Text),
    )
    op.create_table(
        "report_aggregates", key("number"), sa.Column("votes", sa.LargeBinary, nullable=False),
        sa.Column("reports", sa.BigInteger, nullable=False), sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "reporters", sa.Column("hash", sa.LargeBinary, nullable=False), at("first_at"), at("last_at"),
        sa.Column("reports", sa.BigInteger, nullable=False), sa.Column("burst", sa.Float(precision=53), nullable=False),
        at("burst_at"), sa.Column("peak", sa.Float(precision=53), nullable=False),
        sa.Column("agree", sa.BigInteger, nullable=False), sa.Column("disagree", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "appeals", sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True), key("number"), key("org"),
        sa.Column("label", sa.Text), sa.Column("reason", sa.Text, nullable=False), at(),
    )
    op.create_index("appeals_by_number", "appeals", ["number"])
    op.create_table("sender_numbers", key("number"), key("org"), at(), sa.PrimaryKeyConstraint("number"))
    op.create_index("sender_numbers_by_org", "sender_numbers", ["org"])


def downgrade() -> None:
    for table in ("sender_numbers", "appeals", "reporters", "report_aggregates", "reports"):
        op.drop_table(table)
