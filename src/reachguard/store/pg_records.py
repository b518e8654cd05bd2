"""The PostgreSQL store's service records: API keys, per-number views, verification lookups,
templates, complaint cases, ended console sessions, reputation (reports, appeals, sender numbers)."""

from __future__ import annotations

import json
from typing import Sequence

from reachguard.store.base import (
    AggregateRow,
    ApiKeyRecord,
    AppealRow,
    ComplaintCase,
    ReporterRow,
    ReportRow,
    number_records_from,
)
from reachguard.store.pg_session import _RANK, PgSessions, lock_key


class PgRecords(PgSessions):
    """Keys, templates, complaint cases, ended console sessions and reputation rows (mixed into PostgresStore)."""

    # --- API keys ---------------------------------------------

    _KEY_COLUMNS = "key_id, org, role, created_at, revoked_at, label"

    def add_api_key(self, key: ApiKeyRecord, key_hash: str) -> None:
        self._write(
            "INSERT INTO api_keys(key_id, key_hash, org, role, created_at, revoked_at, label) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (key.key_id, key_hash, key.org, key.role, key.created_at, key.revoked_at, key.label),
        )

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        rows = self._fetch(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE key_hash = %s", (key_hash,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_keys(self, org: str | None = None) -> list[ApiKeyRecord]:
        if org is None:
            rows = self._fetch(f"SELECT {self._KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id", None)
        else:
            rows = self._fetch(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE org = %s ORDER BY created_at, key_id", (org,))
        return [ApiKeyRecord(*row) for row in rows]

    def revoke_api_key(self, key_id: str, at: float, org: str | None = None) -> bool:
        sql = "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL"
        params: list = [at, key_id]
        if org is not None:
            sql += " AND org = %s"
            params.append(org)
        with self.transaction():
            return bool(self._fetch(sql + " RETURNING key_id", tuple(params), lock_keys=set()))

    def number_records(self, org: str, number: str) -> dict[str, list[dict]]:
        accounts = []
        for subject, borrower, dpd, contacts, at in self._fetch(
            "SELECT subject, borrower, days_past_due, contacts::text, at FROM accounts WHERE org = %s "
            "AND (borrower = %s OR jsonb_exists(contacts, %s)) ORDER BY subject",
            (org, number, number),
        ):
            designated = json.loads(contacts)
            role = "borrower" if borrower == number else "contact"
            accounts.append({"subject": subject, "role": role, "borrower": borrower, "days_past_due": dpd,
                             "authorized": designated.get(number) if role == "contact" else None, "at": at})
        records = number_records_from(lambda sql, params: self._fetch(sql.replace("?", "%s"), params),
                                      org, number, accounts)
        for consent in records["consents"]:
            consent["withdrawn"] = int(consent["withdrawn"])  # a boolean column here, an integer in SQLite
        return records

    def contact_by_code(self, code: str, number: str) -> tuple[str, float] | None:
        rows = self._fetch("SELECT org, at FROM contacts WHERE code = %s AND number = %s ORDER BY seq LIMIT 1", (code, number))
        return (rows[0][0], rows[0][1]) if rows else None

    # --- templates (content review: approval chain) -------------------------------------

    def template_add_version(self, org: str, template_id: str, text: str, author: str, at: float) -> int:
        with self.transaction():
            rows = self._fetch(
                "SELECT max(version) FROM template_versions WHERE org = %s AND template_id = %s",
                (org, template_id), lock_keys={(_RANK["t"], lock_key("t", org, template_id))},
            )
            version = (rows[0][0] or 0) + 1
            self._write(
                "INSERT INTO template_versions(org, template_id, version, text, author, at) VALUES (%s,%s,%s,%s,%s,%s)",
                (org, template_id, version, text, author, at),
            )
        return version

    def template_version(self, org: str, template_id: str, version: int | None = None) -> tuple | None:
        sql = "SELECT org, template_id, version, text, author, at FROM template_versions WHERE org = %s AND template_id = %s"
        params: tuple = (org, template_id)
        if version is not None:
            sql, params = sql + " AND version = %s", (org, template_id, version)
        rows = self._fetch(sql + " ORDER BY version DESC LIMIT 1", params)
        return tuple(rows[0]) if rows else None

    def template_add_review(self, org: str, template_id: str, version: int, level: int, level_name: str,
                            reviewer: str, verdict: str, comment: str, at: float) -> None:
        self._write(
            "INSERT INTO template_reviews(org, template_id, version, level, level_name, reviewer, verdict, comment, at) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (org, template_id, version, level, level_name, reviewer, verdict, comment, at),
        )

    def template_reviews(self, org: str, template_id: str, version: int) -> list[tuple]:
        return [tuple(row) for row in self._fetch(
            "SELECT level, level_name, reviewer, verdict, comment, at FROM template_reviews "
            "WHERE org = %s AND template_id = %s AND version = %s ORDER BY level", (org, template_id, version))]

    def template_ids(self, org: str) -> list[str]:
        return [row[0] for row in self._fetch(
            "SELECT DISTINCT template_id FROM template_versions WHERE org = %s ORDER BY template_id", (org,))]

    # --- complaint cases (web console) ---------------------------------------------------

    def complaint_cases_add(self, cases: Sequence[ComplaintCase]) -> None:
        rows = [(c.org, c.seq, c.number, c.at, c.text, c.status) for c in cases]
        if rows:
            self._write("INSERT INTO complaint_cases(org, seq, number, at, text, status) VALUES (%s,%s,%s,%s,%s,%s) "
                        "ON CONFLICT (org, seq) DO NOTHING", many=rows)

    def complaint_cases(self, org: str, limit: int = 500) -> list[ComplaintCase]:
        rows = self._fetch("SELECT org, seq, number, at, text, status, assignee, reply, acknowledged_at, resolved_at, "
                           "updated_at FROM complaint_cases WHERE org = %s ORDER BY status = 'resolved', at, seq LIMIT %s",
                           (org, limit))
        return [ComplaintCase(*row) for row in rows]

    def complaint_case_update(self, org: str, seq: int, status: str, assignee: str | None, reply: str | None,
                              at: float) -> bool:
        with self.transaction():
            rows = self._fetch(
                "UPDATE complaint_cases SET status = %(status)s, assignee = %(assignee)s, reply = %(reply)s, updated_at = %(at)s, "
                "acknowledged_at = COALESCE(acknowledged_at, CASE WHEN %(status)s IN ('acknowledged', 'resolved') THEN %(at)s END), "
                "resolved_at = CASE WHEN %(status)s = 'resolved' THEN COALESCE(resolved_at, %(at)s) END "
                "WHERE org = %(org)s AND seq = %(seq)s RETURNING seq",
                {"status": status, "assignee": assignee, "reply": reply, "at": at, "org": org, "seq": seq})
        return bool(rows)

    # --- ended console sessions (web console: logout) ----------------------------------

    def end_console_session(self, session_id: str, issued_at: float, keep_after: float) -> None:
        with self.transaction():
            self._write("DELETE FROM console_sessions_ended WHERE issued_at < %s", (keep_after,))
            self._write("INSERT INTO console_sessions_ended(session_id, issued_at) VALUES (%s,%s) "
                        "ON CONFLICT (session_id) DO NOTHING", (session_id, issued_at))

    def console_session_ended(self, session_id: str) -> bool:
        return bool(self._fetch("SELECT 1 FROM console_sessions_ended WHERE session_id = %s", (session_id,)))

    # --- reputation (reports, appeals, sender numbers) ----------------------------------
    # Report ingest runs under one advisory lock (reputation/ingest.py), so aggregates and
    # reporter rows are read and replaced by one writer at a time.

    _REPORTS_LOCK = (_RANK["n"], lock_key("n", "*reputation*", "reports"))

    def report_aggregates(self, numbers: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        # Inside a transaction (ingest) this read first takes the reports' advisory lock, on
        # both PostgreSQL backends (the Redis one locks recipients in Redis, not this).
        rows = self._fetch("SELECT number, votes, reports FROM report_aggregates WHERE number = ANY(%s)", (list(numbers),),
                           lock_keys={self._REPORTS_LOCK})
        return {row[0]: (bytes(row[1]), row[2]) for row in rows}

    def reporters(self, hashes: Sequence[bytes]) -> dict[bytes, ReporterRow]:
        rows = self._fetch(
            "SELECT hash, first_at, last_at, reports, burst, burst_at, peak, agree, disagree FROM reporters "
            "WHERE hash = ANY(%s)", (list(hashes),))
        return {bytes(row[0]): (bytes(row[0]), *row[1:]) for row in rows}  # type: ignore[misc]

    def save_reports(self, reports: Sequence[ReportRow], aggregates: Sequence[AggregateRow],
                     reporters: Sequence[ReporterRow]) -> None:
        with self.transaction():
            if reports:
                self._write("INSERT INTO reports(number, label, reporter, at, text) VALUES (%s,%s,%s,%s,%s)", many=list(reports))
            if aggregates:
                self._write("INSERT INTO report_aggregates(number, votes, reports) VALUES (%s,%s,%s) ON CONFLICT (number) "
                            "DO UPDATE SET votes = EXCLUDED.votes, reports = EXCLUDED.reports", many=list(aggregates))
            if reporters:
                self._write(
                    "INSERT INTO reporters(hash, first_at, last_at, reports, burst, burst_at, peak, agree, disagree) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (hash) DO UPDATE SET first_at = EXCLUDED.first_at, "
                    "last_at = EXCLUDED.last_at, reports = EXCLUDED.reports, burst = EXCLUDED.burst, "
                    "burst_at = EXCLUDED.burst_at, peak = EXCLUDED.peak, agree = EXCLUDED.agree, disagree = EXCLUDED.disagree",
                    many=list(reporters))

    def report_log(self, after: int, limit: int) -> list[tuple[int, ReportRow]]:
        rows = self._fetch("SELECT seq, number, label, reporter, at, text FROM reports WHERE seq > %s ORDER BY seq LIMIT %s",
                           (after, limit))
        return [(row[0], (row[1], row[2], bytes(row[3]), row[4], row[5])) for row in rows]

    def last_report_seq(self) -> int:
        return int(self._fetch("SELECT coalesce(max(seq), 0) FROM reports", None)[0][0])

    def clear_report_aggregates(self) -> None:
        with self.transaction():
            self._fetch("SELECT 1", None, lock_keys={self._REPORTS_LOCK})
            self._write("DELETE FROM report_aggregates")
            self._write("DELETE FROM reporters")

    def add_appeal(self, number: str, org: str, label: str | None, reason: str, at: float) -> int:
        with self.transaction():
            rows = self._fetch("INSERT INTO appeals(number, org, label, reason, at) VALUES (%s,%s,%s,%s,%s) RETURNING id",
                               (number, org, label, reason, at))
        return int(rows[0][0])

    def appeals(self, number: str) -> list[AppealRow]:
        return [tuple(row) for row in self._fetch(  # type: ignore[misc]
            "SELECT id, number, org, label, reason, at FROM appeals WHERE number = %s ORDER BY id", (number,))]

    def set_sender_number(self, number: str, org: str, at: float, registered: bool = True) -> None:
        if registered:
            self._write("INSERT INTO sender_numbers(number, org, at) VALUES (%s,%s,%s) ON CONFLICT (number) "
                        "DO UPDATE SET org = EXCLUDED.org, at = EXCLUDED.at", (number, org, at))
        else:
            self._write("DELETE FROM sender_numbers WHERE number = %s AND org = %s", (number, org))

    def sender_number_org(self, number: str) -> str | None:
        rows = self._fetch("SELECT org FROM sender_numbers WHERE number = %s", (number,))
        return rows[0][0] if rows else None

    def sender_numbers(self, org: str) -> list[tuple[str, float]]:
        return [tuple(row) for row in self._fetch(  # type: ignore[misc]
            "SELECT number, at FROM sender_numbers WHERE org = %s ORDER BY number", (org,))]

    def org_traffic(self, org: str, since: float) -> tuple[int, int, int, int, int]:
        row = self._fetch(
            "SELECT (SELECT count(*) FROM contacts WHERE org = %(o)s AND at >= %(s)s), "
            "(SELECT count(*) FROM opt_outs WHERE org = %(o)s AND kind = 'complaint' AND at >= %(s)s), "
            "(SELECT count(*) FROM opt_outs WHERE org = %(o)s AND kind = 'opt_out' AND at >= %(s)s), "
            "(SELECT count(*) FROM (SELECT tag FROM ledger WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s "
            " UNION ALL SELECT tag FROM ledger_pending WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s) d), "
            "(SELECT count(*) FROM (SELECT tag FROM ledger WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s "
            " UNION ALL SELECT tag FROM ledger_pending WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s) d "
            " WHERE tag = 'deny')", {"o": org, "s": since})[0]
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))
