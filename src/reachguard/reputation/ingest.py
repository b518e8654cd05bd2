"""Batched report ingest: append to the reports log, update the per-number aggregates and the
reporters' records, in one transaction per batch.

Per batch: one read of the touched aggregates, one of the touched reporters, then three
`executemany` writes. Concurrent ingesters are serialised by one store lock (the
`transaction(LOCK_ORG, LOCK_KEY)` of every backend), so aggregates are never lost-updated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

import msgspec

from reachguard.events import EventError, validation_code
from reachguard.model import Report
from reachguard.numbers import normalize
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.keying import reporter_hash, reporter_key
from reachguard.reputation.votes import LABEL_INDEX, LABELS, label_counts, pack, unpack
from reachguard.reputation.weights import next_burst
from reachguard.store.base import ReporterRow, Store

LOCK_ORG, LOCK_KEY = "*reputation*", "reports"
BATCH = 50_000

Row = tuple[str, int, bytes, float, "str | None"]
"""(E.164 number, label index, reporter hash, at, text): a report ready to store."""

_DEFAULT = ReputationPolicy()


def prepare(reports: Iterable[Report], key: bytes) -> list[Row]:
    """Normalise and hash; raises InvalidNumber for the first bad number (nothing stored)."""
    cache: dict[str, bytes] = {}
    rows: list[Row] = []
    for r in reports:
        h = cache.get(r.reporter)
        if h is None:
            h = cache[r.reporter] = reporter_hash(key, r.reporter)
        rows.append((normalize(r.to), LABEL_INDEX[r.label], h, r.at.timestamp(), r.text))
    return rows


def record_reports(store: Store, reports: Iterable[Report], *, policy: ReputationPolicy | None = None,
                   key: bytes | None = None) -> int:
    """Store validated `report` events (all or nothing per call); returns how many."""
    rows = prepare(reports, reporter_key(store, key))
    for start in range(0, len(rows), BATCH):
        ingest_rows(store, rows[start:start + BATCH], policy or _DEFAULT)
    return len(rows)


def record_report(store: Store, to: str, label: str, reporter: str, at: datetime, text: str | None = None, *,
                  policy: ReputationPolicy | None = None, key: bytes | None = None) -> str:
    """Validate and store one report; returns the reported number in E.164.

    Raises EventError (codes as for the event stream: INVALID_FIELD, TIME_WITHOUT_OFFSET, …)
    for a bad label, reporter, time or text, and InvalidNumber for a number that is not one.
    """
    report = make_report(to, label, reporter, at, text)
    record_reports(store, [report], policy=policy, key=key)
    return normalize(report.to)


def make_report(to: str, label: str, reporter: str, at: datetime | str, text: str | None = None) -> Report:
    """A Report validated exactly as a `report` line of the event stream would be."""
    body = {"type": "report", "to": to, "label": label, "reporter": reporter, "at": at}
    if text is not None:
        body["text"] = text
    try:
        return msgspec.convert(body, Report)
    except msgspec.ValidationError as exc:
        raise EventError(validation_code(str(exc)), str(exc)) from exc


def ingest_rows(store: Store, rows: Sequence[Row], policy: ReputationPolicy) -> None:
    """Apply prepared reports, in order, to the aggregates and reporter records."""
    if not rows:
        return
    with store.transaction(LOCK_ORG, LOCK_KEY):
        aggregates = store.report_aggregates(sorted({r[0] for r in rows}))
        known = store.reporters(list({r[2] for r in rows}))
        reporters: dict[bytes, list] = {h: list(row) for h, row in known.items()}
        numbers: dict[str, list] = {}  # number -> [votes, label counts, reports]
        need, share = policy.consensus_min_reporters, policy.consensus_share
        for number, label, h, at, _ in rows:
            state = numbers.get(number)
            if state is None:
                blob, count = aggregates.get(number, (b"", 0))
                votes = unpack(blob)
                state = numbers[number] = [votes, label_counts(votes), count]
            votes, counts = state[0], state[1]
            r = reporters.get(h)
            if r is None:
                r = reporters[h] = [h, at, at, 0, 0.0, at, 0.0, 0, 0]
            previous = votes.get(h)
            others = len(votes) - (previous is not None)
            if others >= need:  # judge the report against the consensus of the *other* reporters
                top_count = max(counts[i] - (previous is not None and previous[0] == i) for i in range(len(LABELS)))
                own = counts[label] - (previous is not None and previous[0] == label)
                if top_count >= share * others:
                    if own == top_count:
                        r[7] += 1
                    else:
                        r[8] += 1
            r[4] = next_burst(r[4], r[5], at, policy)
            r[5] = max(r[5], at)
            if r[4] > r[6]:
                r[6] = r[4]
            r[1] = min(r[1], at)
            r[2] = max(r[2], at)
            r[3] += 1
            if previous is None or at >= previous[1]:
                if previous is not None:
                    counts[previous[0]] -= 1
                counts[label] += 1
                votes[h] = (label, at)
            state[2] += 1
        log = [(number, LABELS[label], h, at, text) for number, label, h, at, text in rows]
        aggregate_rows = [(number, pack(state[0]), state[2]) for number, state in sorted(numbers.items())]
        reporter_rows: list[ReporterRow] = [tuple(r) for r in reporters.values()]  # type: ignore[misc]
        store.save_reports(log, aggregate_rows, reporter_rows)
