"""The PostgreSQL ledger: decisions append to ledger_pending, a chainer links them per org.

Appending to an org's hash chain needs the previous entry's hash, so appends to
one chain are serial; doing it inside every decision would make each org's decisions wait
for each other's commit (and fsync). Instead a decision writes its entry to
`ledger_pending` in its own transaction (durable, atomic with the decision, no contention),
and the chainer moves pending entries into `ledger` in id order under the org's advisory
lock ("l", org) — serialised per org, never globally. It runs before every ledger read of
this store (so reads see every committed entry, chained) and in a background thread every
`chain_interval` seconds (pg_try_advisory_xact_lock: replicas skip an org another is
chaining). For one writer the chain is identical, hash for hash, to the SQLite store's.
"""

from __future__ import annotations

import hashlib
from typing import Iterator, NamedTuple, Sequence

import psycopg

from reachguard.ledger.chain import GENESIS, GLOBAL_ORG, LedgerEntry, entry_hash
from reachguard.store.base import (LEDGER_PAGE, Checkpoint, PendingEntry, StoreUnavailable, and_where, decision_filters,
                                   paged_ledger_range)
from reachguard.store.pg_chainer import Chainer
from reachguard.store.pg_engine import _ENGINES_LOCK
from reachguard.store.pg_params import float_array, int_array, text_array
from reachguard.store.pg_session import _RANK, PgSessions, Unprepared, lock_key

_CHAIN_BATCH = 5000
# The chainer's statements are planned at every execution (Unprepared). Prepared once on a
# ledger ANALYZEd while empty, the head's plan stayed a scan of the whole table as it grew,
# until the next ANALYZE (never, with autovacuum off); the queue's could do the same to a
# backlog. An org's last chained entry (also ledger_head's):
_CHAIN_HEAD = Unprepared("SELECT seq, entry_hash FROM ledger WHERE org = %s ORDER BY seq DESC LIMIT 1")
_VACUUM_PENDING = "VACUUM (SKIP_LOCKED, TRUNCATE false) ledger_pending"  # why: pg_chainer.py
_LEDGER_COLUMNS = "org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash"
# The chainer's two statements: pending entries in id order with their bodies' SHA-256 (or the
# body itself where the server cannot hash it), then one move from ledger_pending into ledger.
_PENDING_HASHED = Unprepared("SELECT id, kind, at, encode(sha256(convert_to(body, 'UTF8')), 'hex') FROM ledger_pending "
                             "WHERE org = %s ORDER BY id LIMIT %s")
_PENDING_BODIES = Unprepared("SELECT id, kind, at, body FROM ledger_pending WHERE org = %s ORDER BY id LIMIT %s")
_PENDING_ORGS = ("WITH RECURSIVE o(org) AS ((SELECT org FROM ledger_pending ORDER BY org LIMIT 1) UNION ALL "
                 "SELECT (SELECT p.org FROM ledger_pending p WHERE p.org > o.org ORDER BY p.org LIMIT 1) FROM o "
                 "WHERE o.org IS NOT NULL) SELECT org FROM o WHERE org IS NOT NULL")
_MOVE_PENDING = Unprepared(
    "WITH h AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]) "
    "AS t(id, seq, body_hash, prev_hash, entry_hash)), "
    "moved AS (DELETE FROM ledger_pending p USING h WHERE p.id = h.id "
    "RETURNING p.org, h.seq, p.kind, p.at, p.number, p.tag, p.body, h.body_hash, h.prev_hash, h.entry_hash), "
    f"ins AS (INSERT INTO ledger({_LEDGER_COLUMNS}) SELECT * FROM moved RETURNING 1) "
    "SELECT count(*) FROM ins"
)


class VacuumSkipped(NamedTuple):
    """Why a VACUUM of the queue did not happen."""

    reason: str
    lasting: bool  # no use trying again (the role may not vacuum it, the server is too old)


class PgLedger(PgSessions):
    """Ledger appends, chaining and reads (mixed into PostgresStore)."""

    _chain_interval: float
    _chainer: Chainer | None
    _server: tuple[str, int, bool] | None = None

    # --- ledger -------------------------------------------------------------------------

    _INSERT_PENDING = "INSERT INTO ledger_pending(org, kind, at, number, tag, body) VALUES (%s,%s,%s,%s,%s,%s)"

    def ledger_append(self, entries: Sequence[PendingEntry]) -> None:
        """Entries go to `ledger_pending` in this transaction; the chainer chains them."""
        if not entries:
            return
        rows = [(org, kind, at, number, tag, body.decode("utf-8")) for org, kind, at, number, tag, body in entries]
        if len(rows) == 1:
            self._write(self._INSERT_PENDING, rows[0])
        else:  # one statement; ids (the chain order) follow the list order
            self._write(
                "INSERT INTO ledger_pending(org, kind, at, number, tag, body) SELECT org, kind, at, number, tag, body "
                "FROM unnest(%s::text[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY "
                "AS t(org, kind, at, number, tag, body, i) ORDER BY i",
                tuple(float_array(c) if i == 2 else text_array(c) for i, c in enumerate(zip(*rows))),
            )
        if self._chain_interval and self._chainer is None:
            self._start_chainer()

    def chain_ledger(self, org: str | None = None, *, wait: bool = True) -> int:
        """Chain pending entries (of one org, or of every org that has some); how many."""
        if org is not None:
            orgs = [org]
        else:
            orgs = [row[0] for row in self._fetch(_PENDING_ORGS, None)]
        return sum(self._chain_org(o, wait) for o in orgs)

    def _chain_org(self, org: str, wait: bool) -> int:
        s = self._session()
        own = s.depth == 0
        if own:
            s.depth = 1
        done = 0
        try:
            while True:
                self._prepare_tx(s)
                key = lock_key("l", org)
                if (_RANK["l"], key) not in s.held:
                    if wait:
                        s.outbox.append(("SELECT pg_advisory_xact_lock(%s::bigint)", (key,), None))
                    else:
                        got = self._send(s, s.outbox + [("SELECT pg_try_advisory_xact_lock(%s::bigint)", (key,), None)])
                        s.outbox = []
                        if not got[0][0]:
                            break  # another replica is chaining this org: end our transaction below
                    s.held.add((_RANK["l"], key))
                head_rows = self._fetch(_CHAIN_HEAD, (org,))
                seq, prev = (head_rows[0][0], head_rows[0][1]) if head_rows else (0, GENESIS)
                # The body's SHA-256 is computed by the server (the same bytes: the database is
                # UTF-8, checked once), so bodies never travel to the chainer and back.
                hashed = self._server_hashes()
                pending = self._fetch(_PENDING_HASHED if hashed else _PENDING_BODIES, (org, _CHAIN_BATCH))
                if not pending:
                    break
                ids, seqs, body_hashes, prev_hashes, entry_hashes = [], [], [], [], []
                for pending_id, kind, at, body_hash in pending:
                    seq += 1
                    if not hashed:  # the body itself: hash it here
                        body_hash = hashlib.sha256(body_hash.encode("utf-8")).hexdigest()
                    ids.append(pending_id)
                    seqs.append(seq)
                    body_hashes.append(body_hash)
                    prev_hashes.append(prev)
                    prev = entry_hash(org, seq, kind, at, prev, body_hash)
                    entry_hashes.append(prev)
                moved = self._fetch(_MOVE_PENDING, (int_array(ids), int_array(seqs), text_array(body_hashes),
                                                    text_array(prev_hashes), text_array(entry_hashes)))
                if moved[0][0] != len(ids):  # cannot happen under the org's lock; never leave a gap
                    raise StoreUnavailable(f"ledger chaining of {org!r}: {moved[0][0]} of {len(ids)} pending entries moved")
                done += len(ids)
                if own:
                    self._commit(s)
                    s.depth = 1
                if len(pending) < _CHAIN_BATCH:
                    break
        except BaseException:
            if own:
                s.depth = 0
                self._abort(s)
                s.release()
            raise
        if own:
            s.depth = 0
            try:
                self._commit(s)
            finally:
                s.release()
        return done

    def vacuum_pending(self) -> VacuumSkipped | None:
        """VACUUM the pending queue: None once done, else why it was not (pg_chainer.py says when
        and why the chainer calls this). VACUUM cannot run inside a transaction block."""
        s = self._session()
        if s.depth:
            raise RuntimeError("vacuum_pending runs outside a transaction")
        if self._server_info()[1] < 120000:
            return VacuumSkipped("PostgreSQL before 12 cannot skip a locked table; left to autovacuum", lasting=True)
        warnings: list[tuple[str | None, str]] = []  # (sqlstate, message): a Diagnostic is valid only in the call

        def keep(diag: psycopg.errors.Diagnostic) -> None:
            if (diag.severity_nonlocalized or diag.severity) == "WARNING":
                warnings.append((diag.sqlstate, diag.message_primary or "skipped"))

        with self._pinned(s) as conn:  # the VACUUM runs on this very connection: its warnings, our handler
            conn.add_notice_handler(keep)
            try:
                self._fetch(_VACUUM_PENDING, None)
            finally:
                conn.remove_notice_handler(keep)
        if not warnings:
            return None
        # 42501: the role may not vacuum the table (not its owner's); 55P03: another session
        # holds it (another replica's VACUUM), try again next time.
        sqlstate, message = warnings[0]
        return VacuumSkipped(message, lasting=sqlstate != "55P03")

    def _server_info(self) -> tuple[str, int, bool]:
        """The server's encoding, version number and whether autovacuum is on (asked once per store)."""
        if self._server is None:
            row = self._fetch("SELECT current_setting('server_encoding'), current_setting('server_version_num')::int, "
                              "current_setting('autovacuum') = 'on'", None)[0]
            self._server = (row[0], int(row[1]), bool(row[2]))
        return self._server

    def _server_hashes(self) -> bool:
        """Whether the server can hash ledger bodies byte for byte as we do (UTF-8, sha256())."""
        encoding, version, _ = self._server_info()
        return encoding == "UTF8" and version >= 110000

    def _start_chainer(self) -> None:
        with _ENGINES_LOCK:
            if self._chainer is None and not self._closed:
                self._chainer = Chainer(self, self._chain_interval)
                self._chainer.start()

    def ledger_entries(self, org: str, at_from: float | None = None, at_to: float | None = None) -> Iterator[LedgerEntry]:
        self.chain_ledger(org)
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE org = %s AND seq > %s"
        extra: list = []
        if at_from is not None:
            sql += " AND at >= %s"
            extra.append(at_from)
        if at_to is not None:
            sql += " AND at < %s"
            extra.append(at_to)
        sql += " ORDER BY seq LIMIT 5000"
        after = 0
        while True:
            rows = self._fetch(sql, (org, after, *extra))
            for row in rows:
                yield LedgerEntry(*row)
            if len(rows) < 5000:
                return
            after = rows[-1][1]

    def ledger_orgs(self) -> list[str]:
        self.chain_ledger()
        return [row[0] for row in self._fetch("SELECT DISTINCT org FROM ledger ORDER BY org", None)]

    def checkpoint_orgs(self) -> list[str]:
        return [row[0] for row in self._fetch("SELECT DISTINCT org FROM checkpoints ORDER BY org", None)]

    def ledger_head(self, org: str) -> tuple[int, str] | None:
        self.chain_ledger(org)
        rows = self._fetch(_CHAIN_HEAD, (org,))
        return (rows[0][0], rows[0][1]) if rows else None

    def ledger_range(self, org: str, seq_from: int, seq_to: int) -> Iterator[LedgerEntry]:
        self.chain_ledger(org)
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE org = %s AND seq >= %s AND seq <= %s ORDER BY seq LIMIT {LEDGER_PAGE}"
        return paged_ledger_range(lambda start: self._fetch(sql, (org, start, seq_to)), seq_from, seq_to)

    def ledger_seq_bounds(self, org: str, at_from: float | None, at_to: float | None) -> tuple[int, int] | None:
        self.chain_ledger(org)
        extra, values = and_where(("at >= %s", at_from), ("at < %s", at_to))
        row = self._fetch("SELECT min(seq), max(seq) FROM ledger WHERE org = %s" + extra, (org, *values))[0]
        return None if row[0] is None else (row[0], row[1])

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        c = checkpoint
        self._write(
            "INSERT INTO checkpoints(org, seq, entry_hash, signed_at, key_id, signature) VALUES (%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (org, seq) DO UPDATE SET entry_hash = EXCLUDED.entry_hash, signed_at = EXCLUDED.signed_at, "
            "key_id = EXCLUDED.key_id, signature = EXCLUDED.signature",
            (c.org, c.seq, c.entry_hash, c.signed_at, c.key_id, c.signature),
        )

    def checkpoints(self, org: str, seq_from: int | None = None, seq_to: int | None = None) -> list[Checkpoint]:
        extra, values = and_where(("seq >= %s", seq_from), ("seq <= %s", seq_to))
        sql = "SELECT org, seq, entry_hash, signed_at, key_id, signature FROM checkpoints WHERE org = %s" + extra + " ORDER BY seq"
        return [Checkpoint(*row) for row in self._fetch(sql, (org, *values))]

    def number_history(self, org: str, number: str, limit: int = 500) -> list[LedgerEntry]:
        self.chain_ledger(org)
        self.chain_ledger(GLOBAL_ORG)
        rows = self._fetch(
            f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE number = %s AND org IN (%s, %s) "
            "ORDER BY at DESC, org DESC, seq DESC LIMIT %s",
            (number, org, GLOBAL_ORG, limit),
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
        self.chain_ledger(org)
        tail, params = decision_filters(
            "%s", "EXISTS (SELECT 1 FROM jsonb_array_elements(body::jsonb -> 'decision' -> 'reasons') AS r "
            "WHERE r ->> 'code' = %s)",
            org, after_seq, at_from, at_to, verdict, reason, limit,
        )
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger" + tail
        return [LedgerEntry(*row) for row in self._fetch(sql, tuple(params))]
