"""Bulk ingest: append reports to the log now, fold them into the aggregates in large chunks.

Why: at scale, per-batch ingest is bound by rewriting random aggregate and reporter pages —
a batch of 50,000 reports dirties tens of thousands of pages of a 1 GB database, each written
to the WAL and back. Folding a million reports at a time rewrites each page once per fold
instead of once per batch, and appending to the log is a sequential write.

The fold is the ingest code itself (`ingest.folded_page`, applying the log in `seq` order,
like `rebuild`), so once folded the lookups are exactly what per-report ingest gives — the
arithmetic does not depend on how the log is cut into chunks (tests/reputation/test_reputation_bulk.py).

The price: while a `BulkIngest` has appended reports it has not folded yet, lookups do not see
them. The lag is bounded: a bulk ingest folds as soon as `fold_every` of its reports are pending
(so at most `fold_every` plus one `add` call), and folds the rest when it is closed. Reports left
pending by a process that died are folded first by the next `record_reports`, `BulkIngest`,
`fold` or `rebuild` (the meta key `PENDING` remembers where the unfolded part of the log starts).
"""

from __future__ import annotations

from types import TracebackType
from typing import Iterable

from reachguard.model import Report
from reachguard.policy.schema import ReputationPolicy
from reachguard.core.memory import paused_gc
from reachguard.reputation.ingest import (LOCK_KEY, LOCK_ORG, PENDING, fold, folded_page, lock_reports, pending_after,
                                         prepare)
from reachguard.reputation.page import Columns
from reachguard.reputation.keying import reporter_key
from reachguard.store.base import Store

FOLD_EVERY = 1_000_000
"""Default reports per fold: the larger, the fewer page rewrites per report (and the longer lookups lag)."""

HASHED_MAX = 2_000_000
"""Reporter hashes a bulk ingest remembers across `add` calls (~200 MB at most), then starts over."""

_DEFAULT = ReputationPolicy()


class BulkIngest:
    """Load many reports fast; lookups lag by at most `fold_every` reports until `close`.

        with reputation.BulkIngest(store, policy=policy) as bulk:
            for batch in batches:
                bulk.add(batch)      # committed to the log when it returns
        # closed: every report is folded, lookups are exact
    """

    def __init__(self, store: Store, *, policy: ReputationPolicy | None = None, key: bytes | None = None,
                 fold_every: int = FOLD_EVERY) -> None:
        if fold_every < 1:
            raise ValueError("fold_every must be at least 1")
        self.store, self.policy, self.fold_every = store, policy or _DEFAULT, fold_every
        self.key = reporter_key(store, key)
        self.pending = 0  # reports this object appended and has not folded
        self._after: int | None = None  # the pending mark this object set; its rows follow it
        self._held = Columns()  # those rows, in log order, as columns: folded from memory, not read back
        self._hashed: dict[str, bytes] = {}  # reporter id -> keyed hash, for this load only

    def add(self, reports: Iterable[Report]) -> int:
        """Append validated `report` events to the log (all or nothing); returns how many.
        Raises InvalidNumber for the first bad number (nothing stored)."""
        if len(self._hashed) > HASHED_MAX:
            self._hashed.clear()
        rows = prepare(reports, self.key, self._hashed)
        if not rows:
            return 0
        store = self.store
        with store.transaction(LOCK_ORG, LOCK_KEY):
            lock_reports(store)
            mark = pending_after(store)
            if mark is None:  # everything before is folded: the pending part starts with these rows
                mark = store.last_report_seq()
                store.set_meta(PENDING, str(mark))
                self._after, self._held = mark, Columns()
            elif mark != self._after:  # someone else's reports are pending too: fold from the log
                self._after, self._held = None, Columns()
            store.save_reports(rows, (), ())
        if self._after is not None:
            self._held.extend(rows)
        self.pending += len(rows)
        if self.pending >= self.fold_every:
            self.fold()
        return len(rows)

    def fold(self) -> int:
        """Fold now (every pending report of the store, not only this object's).

        When the log after the mark is exactly this object's rows, they are folded from memory,
        in one page, and *computed outside the write lock* (reads only; at 10 M reports the
        computation is most of a fold, and every writer, decisions included, waits for that
        lock). Under the lock the mark and the log's end are checked again: any other fold,
        rebuild or report in between moves one of them, and then the log is folded under the
        lock as before, so a fold never saves rows computed from aggregates that changed."""
        after, held = self._after, self._held
        self.pending, self._after, self._held = 0, None, Columns()
        store = self.store
        computed = None
        if self._holds_pending(after, held):
            with paused_gc():
                page = held.page()
                computed = folded_page(store, page, self.policy) if page is not None else None
        with store.transaction(LOCK_ORG, LOCK_KEY):
            lock_reports(store)
            if computed is None or not self._holds_pending(after, held):  # (the mark, once moved, is never ours again)
                return fold(store, self.policy)
            store.save_reports((), *computed)
            store.set_meta(PENDING, "")
            return len(held)

    def _holds_pending(self, after: int | None, held: Columns) -> bool:
        """Whether the log after the mark is exactly the `held` rows (seq has no gaps on SQLite; a
        gap or anyone else's row makes the count larger, a fold moves the mark)."""
        store = self.store
        return after is not None and len(held) > 0 and pending_after(store) == after and store.last_report_seq() - after == len(held)

    def close(self) -> None:
        self.fold()

    def __enter__(self) -> "BulkIngest":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()  # even after an error: what was appended is in the log and must show
