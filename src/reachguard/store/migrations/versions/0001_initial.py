"""Initial schema: the SQLite store's tables, plus the ledger and its pending queue.

Times are POSIX seconds (double precision), as in SQLite and in the engine, so that every
backend compares exactly the same floats. Key columns use the "C" collation: numbers and
org ids are compared byte-wise, which is what the engine does and is cheaper in B-trees.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def key(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(collation="C"), nullable=nullable)


def seq() -> sa.Column:
    return sa.Column("seq", sa.BigInteger, sa.Identity(always=False), primary_key=True)


def at(name: str = "at", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float(precision=53), nullable=nullable)


def upgrade() -> None:
    op.create_table("meta", sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "consents", seq(), key("org"), key("number"), sa.Column("channels", sa.Integer, nullable=False), at(),
        at("expires_at", nullable=True), sa.Column("withdrawn", sa.Boolean, nullable=False),
        sa.Column("evidence", sa.Text),
    )
    op.create_index("consents_by_number", "consents", ["number", "org"])
    op.create_table(
        "opt_outs", seq(), key("number"), key("org", nullable=True), sa.Column("channels", sa.Integer, nullable=False),
        at(), sa.Column("kind", sa.Text, nullable=False), sa.Column("note", sa.Text),
    )
    op.create_index("opt_outs_by_number", "opt_outs", ["number"])
    op.create_table("dnc", key("number"), key("list"), at(), sa.PrimaryKeyConstraint("number", "list"))
    op.create_table(
        "accounts", key("org"), key("subject"), key("borrower"), sa.Column("days_past_due", sa.Integer, nullable=False),
        sa.Column("contacts", postgresql.JSONB, nullable=False), at(), sa.PrimaryKeyConstraint("org", "subject"),
    )
    op.create_index("accounts_by_borrower", "accounts", ["borrower"])
    op.create_table(
        "outcomes", seq(), key("org"), key("number"), key("subject", nullable=True),
        sa.Column("result", sa.Text, nullable=False), at(),
    )
    op.create_index("outcomes_by_number", "outcomes", ["number", "org"])
    op.create_table(
        "contacts", seq(), key("org"), key("number"), sa.Column("channel", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False), sa.Column("relation", sa.Text, nullable=False),
        key("subject", nullable=True), at(), sa.Column("attempt_id", sa.Text), sa.Column("agent", sa.Text),
        key("code", nullable=True),
        # The contact's identity in Redis (PostgresRedisStore); NULL for contacts recorded without it.
        sa.Column("token", sa.Text),
    )
    op.create_index("contacts_by_number", "contacts", ["number", "org", "at"])
    op.create_index("contacts_by_subject", "contacts", ["org", "subject", "at"], postgresql_where=sa.text("subject IS NOT NULL"))
    op.create_index("contacts_by_code", "contacts", ["code"], postgresql_where=sa.text("code IS NOT NULL"))
    op.create_table(
        "inbound", seq(), key("sender"), sa.Column("recipient", sa.Text, nullable=False), key("org", nullable=True),
        sa.Column("text", sa.Text, nullable=False), at(),
    )
    op.create_index("inbound_by_sender", "inbound", ["sender"])
    # The ledger: one hash chain per org. Decisions write `ledger_pending` inside their own
    # transaction (durable, no per-org contention); the chainer moves pending rows into
    # `ledger` under a per-org advisory lock, computing seq and hashes (store/postgres.py).
    op.create_table(
        "ledger", key("org"), sa.Column("seq", sa.BigInteger, nullable=False), sa.Column("kind", sa.Text, nullable=False),
        at(), key("number", nullable=True), sa.Column("tag", sa.Text), sa.Column("body", sa.Text, nullable=False),
        sa.Column("body_hash", sa.Text, nullable=False), sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("entry_hash", sa.Text, nullable=False), sa.PrimaryKeyConstraint("org", "seq"),
    )
    op.create_index("ledger_by_number", "ledger", ["number", "org"], postgresql_where=sa.text("number IS NOT NULL"))
    op.create_table(
        "ledger_pending", sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True), key("org"),
        sa.Column("kind", sa.Text, nullable=False), at(), key("number", nullable=True), sa.Column("tag", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ledger_pending_by_org", "ledger_pending", ["org", "id"])


def downgrade() -> None:
    for table in ("ledger_pending", "ledger", "inbound", "contacts", "outcomes", "accounts", "dnc", "opt_outs", "consents", "meta"):
        op.drop_table(table)
