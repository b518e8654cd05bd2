"""Drop the index of verification codes on contacts.

Verification looks a code up together with its number (contact_by_code: code AND number),
so contacts_by_number finds it among that number's few contacts. Codes are random, so every
allowed SMS inserted its entry on a random page of this index: a page read and dirtied per
contact, and a full-page image in the WAL the first time each page is touched after a
checkpoint. Old replicas keep working during a rolling upgrade (their look-up is the same).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("contacts_by_code", table_name="contacts")


def downgrade() -> None:
    op.create_index("contacts_by_code", "contacts", ["code"], postgresql_where=sa.text("code IS NOT NULL"))
