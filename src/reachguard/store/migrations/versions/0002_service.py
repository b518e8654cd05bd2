"""Service tables: API keys, signed ledger checkpoints, template versions and reviews.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def key(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(collation="C"), nullable=nullable)


def at(name: str = "at", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(precision=53), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys", key("key_id"), key("key_hash"), key("org"), sa.Column("role", sa.Text, nullable=False),
        at("created_at"), at("revoked_at", nullable=True), sa.Column("label", sa.Text),
        sa.PrimaryKeyConstraint("key_id"), sa.UniqueConstraint("key_hash"),
    )
    op.create_index("api_keys_by_org", "api_keys", ["org", "created_at"])
    op.create_table(
        "checkpoints", key("org"), sa.Column("seq", sa.BigInteger, nullable=False), sa.Column("entry_hash", sa.Text, nullable=False),
        at("signed_at"), sa.Column("key_id", sa.Text, nullable=False), sa.Column("signature", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org", "seq"),
    )
    op.create_table(
        "template_versions", key("org"), key("template_id"), sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False), sa.Column("author", sa.Text, nullable=False), at(),
        sa.PrimaryKeyConstraint("org", "template_id", "version"),
    )
    op.create_table(
        "template_reviews", key("org"), key("template_id"), sa.Column("version", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False), sa.Column("level_name", sa.Text, nullable=False),
        sa.Column("reviewer", sa.Text, nullable=False), sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False), at(),
        sa.PrimaryKeyConstraint("org", "template_id", "version", "level"),
    )


def downgrade() -> None:
    for table in ("template_reviews", "template_versions", "checkpoints", "api_keys"):
        op.drop_table(table)
