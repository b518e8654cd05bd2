"""The SQLite store's service records: meta values, API keys, per-number views, verification
lookups, complaint cases, ended console sessions and message templates (the web console's
approval chain).

Why a module of its own: none of these is on a decision's path; they are the small tables the
API, the console and the CLI keep beside the state and the ledger.
"""

from __future__ import annotations

import json
from typing import Sequence

from reachguard.store.base import ApiKeyRecord, ComplaintCase, number_records_from
from reachguard.store.sqlite_session import SQLiteSession


class SQLiteRecords(SQLiteSession):
    """Meta, API keys, per-number views, complaint cases, templates (mixed into SQLiteStore)."""

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", (key, value))

    def init_meta(self, key: str, value: str) -> str:
        self._write("INSERT OR IGNORE INTO meta(key, value) VALUES (?,?)", (key, value))
        stored = self.get_meta(key)
        assert stored is not None  # meta rows are never deleted
        return stored

    # --- API keys -----------------------------------------------------------------------

    def add_api_key(self, key: ApiKeyRecord, key_hash: str) -> None:
        self._write(
            "INSERT INTO api_keys(key_id, key_hash, org, role, created_at, revoked_at, label) VALUES (?,?,?,?,?,?,?)",
            (key.key_id, key_hash, key.org, key.role, key.created_at, key.revoked_at, key.label),
        )

    _KEY_COLUMNS = "key_id, org, role, created_at, revoked_at, label"

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        rows = self._rows(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE key_hash=?", (key_hash,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_keys(self, org: str | None = None) -> list[ApiKeyRecord]:
        if org is None:
            rows = self._rows(f"SELECT {self._KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
        else:
            rows = self._rows(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE org=? ORDER BY created_at, key_id", (org,))
        return [ApiKeyRecord(*row) for row in rows]

    def revoke_api_key(self, key_id: str, at: float, org: str | None = None) -> bool:
        sql = "UPDATE api_keys SET revoked_at=? WHERE key_id=? AND revoked_at IS NULL"
        params: list = [at, key_id]
        if org is not None:
            sql += " AND org=?"
            params.append(org)
        with self.transaction():
            return self._db.execute(sql, params).rowcount > 0

    # --- per-number views and verification -----------------------------------------------

    def number_records(self, org: str, number: str) -> dict[str, list[dict]]:
        accounts = []
        for subject, borrower, dpd, contacts, at in self._rows(
            "SELECT subject, borrower, days_past_due, contacts, at FROM accounts WHERE org=? "
            "AND (borrower=? OR instr(contacts, ?) > 0) ORDER BY subject",
            (org, number, json.dumps(number)),
        ):
            designated = json.loads(contacts)
            if borrower != number and number not in designated:
                continue
            role = "borrower" if borrower == number else "contact"
            accounts.append({"subject": subject, "role": role, "borrower": borrower, "days_past_due": dpd,
                             "authorized": designated.get(number) if role == "contact" else None, "at": at})
        return number_records_from(self._rows, org, number, accounts)

    def contact_by_code(self, code: str, number: str) -> tuple[str, float] | None:
        rows = self._rows("SELECT org, at FROM contacts WHERE code=? AND number=? ORDER BY seq LIMIT 1", (code, number))
        return (rows[0][0], rows[0][1]) if rows else None

    # --- complaint cases (web console) ---------------------------------------------------

    def complaint_cases_add(self, cases: Sequence[ComplaintCase]) -> None:
        rows = [(c.org, c.seq, c.number, c.at, c.text, c.status) for c in cases]
        with self.transaction():
            self._db.executemany("INSERT OR IGNORE INTO complaint_cases(org, seq, number, at, text, status) "
                                 "VALUES (?,?,?,?,?,?)", rows)

    def complaint_cases(self, org: str, limit: int = 500) -> list[ComplaintCase]:
        rows = self._rows("SELECT org, seq, number, at, text, status, assignee, reply, acknowledged_at, resolved_at, "
                          "updated_at FROM complaint_cases WHERE org=? ORDER BY status = 'resolved', at, seq LIMIT ?",
                          (org, limit))
        return [ComplaintCase(*row) for row in rows]

    def complaint_case_update(self, org: str, seq: int, status: str, assignee: str | None, reply: str | None,
                              at: float) -> bool:
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE complaint_cases SET status=:status, assignee=:assignee, reply=:reply, updated_at=:at, "
                "acknowledged_at=COALESCE(acknowledged_at, CASE WHEN :status IN ('acknowledged', 'resolved') THEN :at END), "
                "resolved_at=CASE WHEN :status = 'resolved' THEN COALESCE(resolved_at, :at) END "
                "WHERE org=:org AND seq=:seq",
                {"status": status, "assignee": assignee, "reply": reply, "at": at, "org": org, "seq": seq})
            return cursor.rowcount > 0

    # --- ended console sessions (web console: logout) ----------------------------------

    def end_console_session(self, session_id: str, issued_at: float, keep_after: float) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM console_sessions_ended WHERE issued_at < ?", (keep_after,))
            self._db.execute("INSERT OR IGNORE INTO console_sessions_ended(session_id, issued_at) VALUES (?,?)",
                             (session_id, issued_at))

    def console_session_ended(self, session_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM console_sessions_ended WHERE session_id=?", (session_id,)))

    # --- templates (content review: approval chain) -------------------------------------

    def template_add_version(self, org: str, template_id: str, text: str, author: str, at: float) -> int:
        with self.transaction():
            row = self._db.execute(
                "SELECT max(version) FROM template_versions WHERE org=? AND template_id=?", (org, template_id)
            ).fetchone()
            version = (row[0] or 0) + 1
            self._db.execute("INSERT INTO template_versions VALUES (?,?,?,?,?,?)", (org, template_id, version, text, author, at))
        return version

    def template_version(self, org: str, template_id: str, version: int | None = None) -> tuple | None:
        sql = "SELECT org, template_id, version, text, author, at FROM template_versions WHERE org=? AND template_id=?"
        params: tuple = (org, template_id)
        if version is not None:
            sql, params = sql + " AND version=?", (org, template_id, version)
        with self._lock:
            return self._db.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()

    def template_add_review(self, org: str, template_id: str, version: int, level: int, level_name: str,
                            reviewer: str, verdict: str, comment: str, at: float) -> None:
        self._write("INSERT INTO template_reviews VALUES (?,?,?,?,?,?,?,?,?)",
                    (org, template_id, version, level, level_name, reviewer, verdict, comment, at))

    def template_reviews(self, org: str, template_id: str, version: int) -> list[tuple]:
        with self._lock:
            return self._db.execute(
                "SELECT level, level_name, reviewer, verdict, comment, at FROM template_reviews "
                "WHERE org=? AND template_id=? AND version=? ORDER BY level", (org, template_id, version)
            ).fetchall()

    def template_ids(self, org: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT DISTINCT template_id FROM template_versions WHERE org=? ORDER BY template_id", (org,))]
