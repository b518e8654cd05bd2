"""The SQLite store's ledger: appends chained per org, reads, checkpoints, decision queries.

Why a module of its own: the ledger is the audit trail, hash-chained (ledger/chain.py).
`ledger_append` chains a batch's entries under the write lock the transaction holds, keeping
each org's head in `_heads` for the rest of the transaction; the other methods read the chain
(by org, seq range, time, number, or decision filters) and store signed checkpoints.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Iterator, Sequence

from reachguard.ledger.chain import GENESIS, LedgerEntry, entry_hash
from reachguard.store.base import (
    LEDGER_PAGE,
    Checkpoint,
    PendingEntry,
    and_where,
    decision_filters,
    paged_ledger_range,
)
from reachguard.store.sqlite_session import SQLiteSession


class SQLiteLedger(SQLiteSession):
    """Ledger appends and reads, checkpoints (mixed into SQLiteStore)."""

    # --- ledger -------------------------------------------------------------------------

    def ledger_append(self, entries: Sequence[PendingEntry]) -> None:
        if not entries:
            return
        db = self._db
        with self.transaction():
            heads = self._heads
            rows = []
            current, seq, prev = None, 0, GENESIS  # the head of the org of the previous entry (a batch has one org)
            for org, kind, at, number, tag, body in entries:
                if org != current:
                    if current is not None:
                        heads[current] = (seq, prev)
                    head = heads.get(org)
                    if head is None:
                        row = db.execute("SELECT seq, entry_hash FROM ledger WHERE org=? ORDER BY seq DESC LIMIT 1", (org,)).fetchone()
                        head = (row[0], row[1]) if row else (0, GENESIS)
                    current, (seq, prev) = org, head
                seq += 1
                body_hash = sha256(body).hexdigest()  # chain.make_entry's hashes, without the struct per entry
                digest = entry_hash(org, seq, kind, at, prev, body_hash)
                rows.append((org, seq, kind, at, number, tag, body.decode("utf-8"), body_hash, prev, digest))
                prev = digest
            heads[current] = (seq, prev)  # type: ignore[index]
            db.executemany("INSERT INTO ledger VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def ledger_entries(self, org: str, at_from: float | None = None, at_to: float | None = None) -> Iterator[LedgerEntry]:
        sql = "SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger WHERE org=? AND seq>?"
        extra: list = []
        if at_from is not None:
            sql += " AND at >= ?"
            extra.append(at_from)
        if at_to is not None:
            sql += " AND at < ?"
            extra.append(at_to)
        sql += " ORDER BY seq LIMIT 5000"
        after = 0
        while True:  # pages, so that a long chain never sits in memory whole
            with self._lock:
                rows = self._db.execute(sql, [org, after, *extra]).fetchall()
            for row in rows:
                yield LedgerEntry(*row)
            if len(rows) < 5000:
                return
            after = rows[-1][1]

    def ledger_orgs(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT org FROM ledger ORDER BY org")]

    def checkpoint_orgs(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT org FROM checkpoints ORDER BY org")]

    def ledger_head(self, org: str) -> tuple[int, str] | None:
        rows = self._rows("SELECT seq, entry_hash FROM ledger WHERE org=? ORDER BY seq DESC LIMIT 1", (org,))
        return (rows[0][0], rows[0][1]) if rows else None

    def ledger_range(self, org: str, seq_from: int, seq_to: int) -> Iterator[LedgerEntry]:
        sql = ("SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger "
               f"WHERE org=? AND seq>=? AND seq<=? ORDER BY seq LIMIT {LEDGER_PAGE}")
        return paged_ledger_range(lambda start: self._rows(sql, (org, start, seq_to)), seq_from, seq_to)

    def ledger_seq_bounds(self, org: str, at_from: float | None, at_to: float | None) -> tuple[int, int] | None:
        extra, values = and_where(("at >= ?", at_from), ("at < ?", at_to))
        row = self._rows("SELECT min(seq), max(seq) FROM ledger WHERE org=?" + extra, [org, *values])[0]
        return None if row[0] is None else (row[0], row[1])

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        c = checkpoint
        self._write(
            "INSERT OR REPLACE INTO checkpoints(org, seq, entry_hash, signed_at, key_id, signature) VALUES (?,?,?,?,?,?)",
            (c.org, c.seq, c.entry_hash, c.signed_at, c.key_id, c.signature),
        )

    def checkpoints(self, org: str, seq_from: int | None = None, seq_to: int | None = None) -> list[Checkpoint]:
        extra, values = and_where(("seq >= ?", seq_from), ("seq <= ?", seq_to))
        sql = "SELECT org, seq, entry_hash, signed_at, key_id, signature FROM checkpoints WHERE org=?" + extra + " ORDER BY seq"
        return [Checkpoint(*row) for row in self._rows(sql, [org, *values])]

    def number_history(self, org: str, number: str, limit: int = 500) -> list[LedgerEntry]:
        rows = self._rows(
            "SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger "
            "WHERE number=? AND org IN (?, '*') ORDER BY at DESC, org DESC, seq DESC LIMIT ?",
            (number, org, limit),
        )
        return [LedgerEntry(*row) for row in reversed(rows)]

    def decisions(
        self,
        org: str,
        at_from: float | None = None,
        at_to: float | None = None,
        verdict: str | None = None,
        reason: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[LedgerEntry]:
        tail, params = decision_filters(
            "?", "EXISTS (SELECT 1 FROM json_each(body, '$.decision.reasons') AS r WHERE json_extract(r.value, '$.code') = ?)",
            org, after_seq, at_from, at_to, verdict, reason, limit,
        )
        sql = "SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger" + tail
        return [LedgerEntry(*row) for row in self._rows(sql, params)]
