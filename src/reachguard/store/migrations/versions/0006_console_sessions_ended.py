"""Ended console sessions (mirrors the SQLite table): a logout records its session id here, so
a copy of the session cookie is refused by every replica. Rows of sessions whose cookies are
past their age are deleted by the next logout (store.end_console_session).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions_ended", sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("issued_at", sa.Float(precision=53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_sessions_ended")
