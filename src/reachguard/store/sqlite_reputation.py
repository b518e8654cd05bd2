"""The SQLite store's reputation rows: number reports, their aggregates and reporters, appeals,
registered sender numbers, and an org's traffic counts.

Why a module of its own: the reputation service (reputation/) keeps its own tables, written in
batches of reports and read by number or reporter hash, apart from the decision's state.
"""

from __future__ import annotations

from typing import Sequence

from reachguard.store.base import AggregateRow, AppealRow, ReporterRow, ReportRow
from reachguard.store.sqlite_session import SQLiteSession


class SQLiteReputation(SQLiteSession):
    """Reports, aggregates, reporters, appeals, sender numbers (mixed into SQLiteStore)."""

    def _in_chunks(self, sql: str, keys: Sequence) -> list[tuple]:
        """`sql` with `{marks}` for an IN list, run over chunks of keys (SQLite's variable limit)."""
        rows: list[tuple] = []
        keys = list(keys)
        with self._lock:
            for start in range(0, len(keys), 10_000):
                chunk = keys[start:start + 10_000]
                rows.extend(self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk))
        return rows

    def report_aggregates(self, numbers: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        if len(numbers) == 1:
            rows = self._rows("SELECT number, votes, reports FROM report_aggregates WHERE number=?", (numbers[0],))
        else:
            rows = self._in_chunks("SELECT number, votes, reports FROM report_aggregates WHERE number IN ({marks})", numbers)
        return {row[0]: (row[1], row[2]) for row in rows}

    def reporters(self, hashes: Sequence[bytes]) -> dict[bytes, ReporterRow]:
        rows = self._in_chunks(
            "SELECT hash, first_at, last_at, reports, burst, burst_at, peak, agree, disagree FROM reporters "
            "WHERE hash IN ({marks})", hashes)
        return {row[0]: row for row in rows}  # type: ignore[misc]

    def save_reports(self, reports: Sequence[ReportRow], aggregates: Sequence[AggregateRow],
                     reporters: Sequence[ReporterRow]) -> None:
        with self.transaction():
            db = self._db
            db.executemany("INSERT INTO reports(number, label, reporter, at, text) VALUES (?,?,?,?,?)", reports)
            db.executemany("INSERT OR REPLACE INTO report_aggregates(number, votes, reports) VALUES (?,?,?)", aggregates)
            db.executemany("INSERT OR REPLACE INTO reporters VALUES (?,?,?,?,?,?,?,?,?)", reporters)

    def report_log(self, after: int, limit: int) -> list[tuple[int, ReportRow]]:
        rows = self._rows("SELECT seq, number, label, reporter, at, text FROM reports WHERE seq > ? ORDER BY seq LIMIT ?",
                          (after, limit))
        return [(row[0], (row[1], row[2], bytes(row[3]), row[4], row[5])) for row in rows]

    def last_report_seq(self) -> int:
        return int(self._rows("SELECT max(seq) FROM reports")[0][0] or 0)

    def clear_report_aggregates(self) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM report_aggregates")
            self._db.execute("DELETE FROM reporters")

    def add_appeal(self, number: str, org: str, label: str | None, reason: str, at: float) -> int:
        with self.transaction():
            cursor = self._db.execute("INSERT INTO appeals(number, org, label, reason, at) VALUES (?,?,?,?,?)",
                                      (number, org, label, reason, at))
            return int(cursor.lastrowid or 0)

    def appeals(self, number: str) -> list[AppealRow]:
        return self._rows("SELECT id, number, org, label, reason, at FROM appeals WHERE number=? ORDER BY id", (number,))  # type: ignore[return-value]

    def set_sender_number(self, number: str, org: str, at: float, registered: bool = True) -> None:
        if registered:
            self._write("INSERT OR REPLACE INTO sender_numbers(number, org, at) VALUES (?,?,?)", (number, org, at))
        else:
            self._write("DELETE FROM sender_numbers WHERE number=? AND org=?", (number, org))

    def sender_number_org(self, number: str) -> str | None:
        rows = self._rows("SELECT org FROM sender_numbers WHERE number=?", (number,))
        return rows[0][0] if rows else None

    def sender_numbers(self, org: str) -> list[tuple[str, float]]:
        return self._rows("SELECT number, at FROM sender_numbers WHERE org=? ORDER BY number", (org,))  # type: ignore[return-value]

    def org_traffic(self, org: str, since: float) -> tuple[int, int, int, int, int]:
        row = self._rows(
            "SELECT (SELECT count(*) FROM contacts WHERE org=?1 AND at>=?2), "
            "(SELECT count(*) FROM opt_outs WHERE org=?1 AND kind='complaint' AND at>=?2), "
            "(SELECT count(*) FROM opt_outs WHERE org=?1 AND kind='opt_out' AND at>=?2), "
            "(SELECT count(*) FROM ledger WHERE org=?1 AND kind='decision' AND at>=?2), "
            "(SELECT count(*) FROM ledger WHERE org=?1 AND kind='decision' AND tag='deny' AND at>=?2)",
            (org, since))[0]
        return (row[0], row[1], row[2], row[3], row[4])
