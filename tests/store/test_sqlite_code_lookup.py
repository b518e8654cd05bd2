"""Verification code look-ups on SQLite go through the number's index, not an index of codes
(random codes made every allowed SMS dirty its own page: most of a batch's commit)."""

from __future__ import annotations

from pathlib import Path

from reachguard.state import ContactRecord
from reachguard.store import SQLiteStore


def _indexes(store: SQLiteStore) -> set[str]:
    with store.read() as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts'")}


def test_an_older_store_loses_the_code_index_and_still_finds_codes(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    store = SQLiteStore(path)
    with store.read() as db:  # as stores made before had it
        db.execute("CREATE INDEX contacts_by_code ON contacts(code) WHERE code IS NOT NULL")
    contact = ContactRecord("acme", "+8613800138000", "sms", "service", "borrower", None, 1000.0)
    with store.transaction():
        store.record_contacts([(contact, "a1", None, "ABCD2345")])
    store.close()

    reopened = SQLiteStore(path)
    assert "contacts_by_code" not in _indexes(reopened) and "contacts_by_number" in _indexes(reopened)
    assert reopened.contact_by_code("ABCD2345", "+8613800138000") == ("acme", 1000.0)
    assert reopened.contact_by_code("ABCD2345", "+8613800138001") is None
    with reopened.read() as db:
        plan = " ".join(row[3] for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT org, at FROM contacts WHERE code=? AND number=? ORDER BY seq LIMIT 1", ("A", "+1")))
    assert "USING INDEX contacts_by_number" in plan
    reopened.close()
