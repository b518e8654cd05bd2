"""Batched report ingest: append to the reports log, update the per-number aggregates and the
reporters' records, in one transaction per batch.

Per batch: one read of the touched aggregates, one of the touched reporters, then three
`executemany` writes. Concurrent ingesters are serialised by one store lock (the
`transaction(LOCK_ORG, LOCK_KEY)` of every backend), so aggregates are never lost-updated.

Reports appended to the log by a bulk ingest (bulk.py) but not folded yet are marked by the
meta key PENDING; every ingest folds them first (`fold`), so the log is applied in `seq` order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

import msgspec

from reachguard.core.memory import paused_gc
from reachguard.events import EventError, validation_code
from reachguard.model import Report
from reachguard.numbers import is_cn_e164
from reachguard.reputation.ports import reportable
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.keying import reporter_hasher, reporter_key
from reachguard.reputation import setfold, votes
from reachguard.reputation.page import Page
from reachguard.reputation.votes import LABEL_INDEX
from reachguard.reputation.weights import HOUR
from reachguard.store.base import AggregateRow, ReporterRow, Store

LOCK_ORG, LOCK_KEY = "*reputation*", "reports"
BATCH = 50_000
PENDING = "reports_pending_after"
"""Meta key: a seq S of the reports log; rows after S may not be folded yet. Empty: none pending."""
SET_FOLD_MIN = 2_000
"""Pages of at least this many reports are folded set-based (setfold.py), smaller ones by the loop
(numpy's fixed cost per call outweighs the loop's ~10 µs per report below about this size)."""
FOLD_CHUNK = 1_000_000
"""Log rows read and folded at a time by `fold` (bounds its memory: roughly 0.5 KB per report)."""

Row = tuple[str, str, bytes, float, "str | None"]
"""(E.164 number, label, reporter hash, at, text): a report ready to store (as the log keeps it)."""

_DEFAULT = ReputationPolicy()


def prepare(reports: Iterable[Report], key: bytes, hashed: dict[str, bytes] | None = None) -> list[Row]:
    """Normalise and hash; raises InvalidNumber for the first bad number and EventError
    (INVALID_FIELD) for the first label that is not one (nothing stored).
    `hashed`: reporter id -> hash under `key`, kept by the caller across calls (a bulk load
    repeats its reporters; the HMAC is ~1 µs of the ~3 µs a report costs here)."""
    with paused_gc():
        return _prepare(reports, key, {} if hashed is None else hashed)


def _prepare(reports: Iterable[Report], key: bytes, cache: dict[str, bytes]) -> list[Row]:
    rows: list[Row] = []
    append = rows.append
    digest = reporter_hasher(key)
    for r in reports:
        reporter = r.reporter
        h = cache.get(reporter)
        if h is None:
            h = cache[reporter] = digest(reporter)
        to = r.to
        if is_cn_e164(to) is None:
            to = reportable(to)
        label = r.label
        if label not in LABEL_INDEX:  # a Report built in code is not validated: refuse it before the log keeps it
            raise EventError("INVALID_FIELD", f"label {label!r} is not one of {', '.join(LABEL_INDEX)}")
        append((to, label, h, r.at.timestamp(), r.text))
    return rows


def record_reports(store: Store, reports: Iterable[Report], *, policy: ReputationPolicy | None = None,
                   key: bytes | None = None) -> int:
    """Store validated `report` events (all or nothing per call); returns how many. Lookups
    see them (and any reports a bulk ingest left pending) when this returns."""
    rows = prepare(reports, reporter_key(store, key))
    weights = policy or _DEFAULT
    # A backlog a bulk load left is folded first, a page per transaction, so one report never
    # holds the store's write lock (and every decision behind it) for a whole backlog.
    fold(store, weights, chunk=BATCH)
    with store.transaction(LOCK_ORG, LOCK_KEY):
        fold(store, weights)  # what was appended meanwhile (at most a batch): before these rows
        for start in range(0, len(rows), BATCH):
            ingest_rows(store, rows[start:start + BATCH], weights)
    return len(rows)


def lock_reports(store: Store) -> None:
    """Take the reports lock of the open transaction before reading the pending mark.

    SQLite's write transaction already excludes other writers; on PostgreSQL the reports'
    advisory lock is taken by the first aggregate read of a transaction, so read none."""
    store.report_aggregates([])


def pending_after(store: Store) -> int | None:
    """The seq after which the log may hold unfolded reports, or None if every report is folded."""
    value = store.get_meta(PENDING)
    return int(value) if value else None


def fold(store: Store, policy: ReputationPolicy | None = None, *, chunk: int = FOLD_CHUNK) -> int:
    """Fold every pending report into the aggregates, in log order; returns how many.

    A page of `chunk` reports per transaction, the mark moved past it in the same transaction:
    called outside a transaction, the write lock is let go between pages, and a failure keeps
    the pages already folded (the rest stays pending, folded by the next ingest)."""
    folded = 0
    while True:
        with store.transaction(LOCK_ORG, LOCK_KEY):
            lock_reports(store)
            after = pending_after(store)
            if after is None:
                return folded
            page = store.report_log(after, chunk)
            if not page:
                store.set_meta(PENDING, "")
                return folded
            ingest_rows(store, [row for _, row in page], policy or _DEFAULT, append=False)
            store.set_meta(PENDING, str(page[-1][0]))
            folded += len(page)


def record_report(store: Store, to: str, label: str, reporter: str, at: datetime, text: str | None = None, *,
                  policy: ReputationPolicy | None = None, key: bytes | None = None) -> str:
    """Validate and store one report; returns the reported number in E.164.

    Raises EventError (codes as for the event stream: INVALID_FIELD, TIME_WITHOUT_OFFSET, …)
    for a bad label, reporter, time or text, and InvalidNumber for a number that is not one.
    """
    report = make_report(to, label, reporter, at, text)
    record_reports(store, [report], policy=policy, key=key)
    return reportable(report.to)


def make_report(to: str, label: str, reporter: str, at: datetime | str, text: str | None = None) -> Report:
    """A Report validated exactly as a `report` line of the event stream would be."""
    body = {"type": "report", "to": to, "label": label, "reporter": reporter, "at": at}
    if text is not None:
        body["text"] = text
    try:
        return msgspec.convert(body, Report)
    except msgspec.ValidationError as exc:
        raise EventError(validation_code(str(exc)), str(exc)) from exc


def ingest_rows(store: Store, rows: Sequence[Row], policy: ReputationPolicy, *, append: bool = True) -> None:
    """Apply prepared reports, in order, to the aggregates and reporter records (and, unless
    `append` is false — a rebuild replaying the log — append them to the reports log)."""
    if not rows:
        return
    with paused_gc():
        _ingest(store, rows, policy, append)


def _ingest(store: Store, rows: Sequence[Row], policy: ReputationPolicy, append: bool) -> None:
    with store.transaction(LOCK_ORG, LOCK_KEY):
        aggregate_rows, reporter_rows = folded_rows(store, rows, policy)
        store.save_reports(rows if append else (), aggregate_rows, reporter_rows)


def folded_rows(store: Store, rows: Sequence[Row], policy: ReputationPolicy) -> tuple[list[AggregateRow], list[ReporterRow]]:
    """The aggregate and reporter rows after applying `rows` to what the store holds now (reads
    only: the caller saves them under the reports lock)."""
    page = Page.of_rows(rows) if len(rows) >= SET_FOLD_MIN else None
    folded = folded_page(store, page, policy) if page is not None else None
    if folded is not None:
        return folded
    aggregates = store.report_aggregates(sorted({r[0] for r in rows}))
    return _loop(rows, aggregates, store.reporters(sorted({r[2] for r in rows})), policy)


def folded_page(store: Store, page: Page, policy: ReputationPolicy) -> tuple[list[AggregateRow], list[ReporterRow]] | None:
    """`folded_rows` for a page, set-based; None if only the loop can fold it (see setfold.py).
    Reads only, so a bulk ingest runs it outside the write lock (bulk.py). Read in key order: the store reads an IN list in chunks, and sorted chunks are disjoint key
    ranges, so each B-tree page is read about once instead of once per chunk (at 10 M reports
    the tables outgrow the page cache and a fold's reads were a third of its time)."""
    return setfold.fold(page, store.report_aggregates(page.numbers), store.reporters(page.hashes), policy)


def _loop(rows: Sequence[Row], aggregates: dict[str, tuple[bytes, int]], stored: dict[bytes, ReporterRow],
          policy: ReputationPolicy) -> tuple[list[AggregateRow], list[ReporterRow]]:
    """The fold, one report at a time: the reference arithmetic (setfold.py gives the same rows)."""
    reporters: dict[bytes, list] = {h: list(row) for h, row in stored.items()}
    numbers: dict[str, list] = {}  # number -> [votes blob (editable), label counts, reports]
    need, share = policy.consensus_min_reporters, policy.consensus_share
    burst_scale = policy.burst_half_life_hours * HOUR
    pack_vote, at_of, size, first, counts_of = votes.VOTE.pack, votes.AT.unpack_from, votes.SIZE, votes.START, votes.HEADER.unpack_from
    empty = votes.EMPTY
    index = LABEL_INDEX
    for number, name, h, at, _ in rows:
        label = index[name]
        state = numbers.get(number)
        if state is None:
            blob, count = aggregates.get(number, (empty, 0))
            state = numbers[number] = [bytearray(blob), list(counts_of(blob, 0)), count]
        blob, counts = state[0], state[1]
        r = reporters.get(h)
        if r is None:
            r = reporters[h] = [h, at, at, 0, 0.0, at, 0.0, 0, 0]
        length = len(blob)
        pos = -1
        if length > first:
            pos = blob.find(h, first)
            while pos != -1 and (pos - first) % size:  # only a match on a vote boundary is the reporter
                pos = blob.find(h, pos + 1)
        previous = blob[pos + 16] if pos >= 0 else -1
        others = (length - first) // size - (pos >= 0)
        if others >= need:  # judge the report against the consensus of the *other* reporters
            if previous >= 0:
                counts[previous] -= 1
            top = max(counts)
            if top >= share * others:
                if counts[label] == top:
                    r[7] += 1
                else:
                    r[8] += 1
            if previous >= 0:
                counts[previous] += 1
        # the reporter's recent-report counter: halves every burst_half_life_hours, +1 per report
        # (a late report just adds one); its peak is what weights.burst_factor damps
        burst = r[4]
        if at > r[5]:
            burst *= 0.5 ** ((at - r[5]) / burst_scale)
            r[5] = at
        burst += 1.0
        r[4] = burst
        if burst > r[6]:
            r[6] = burst
        if at < r[1]:
            r[1] = at
        if at > r[2]:
            r[2] = at
        r[3] += 1
        if pos < 0:
            blob += pack_vote(h, label, at)
            counts[label] += 1
        elif at >= at_of(blob, pos + 17)[0]:
            blob[pos:pos + size] = pack_vote(h, label, at)
            counts[previous] -= 1
            counts[label] += 1
        state[2] += 1
    header = votes.HEADER.pack_into
    aggregate_rows = []
    for number, (blob, counts, count) in sorted(numbers.items()):
        header(blob, 0, *counts)
        aggregate_rows.append((number, bytes(blob), count))
    # in key order: consecutive writes land on neighbouring B-tree pages (fewer page misses at scale)
    reporter_rows: list[ReporterRow] = [tuple(reporters[h]) for h in sorted(reporters)]  # type: ignore[misc]
    return aggregate_rows, reporter_rows
