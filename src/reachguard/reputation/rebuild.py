"""Rebuild the per-number aggregates and reporter records from the reports log.

Why: the aggregates (`report_aggregates`) and reporter records (`reporters`) are derived data —
the reports log is the record. After a restore of the log alone, a suspected inconsistency, or
a change of the ingest-time constants of the policy (`consensus_min_reporters`,
`consensus_share`, `burst_half_life_hours`), replaying the log rebuilds them. The replay goes
through exactly the ingest code (`ingest_rows`), in log order, so a rebuild with the policy the
reports were ingested under gives the same lookups as before.

It runs in one transaction under the reports lock: concurrent ingest waits, readers keep seeing
the old aggregates until the commit, and a failure leaves the old ones in place.
"""

from __future__ import annotations

from collections.abc import Callable

from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.ingest import BATCH, LOCK_KEY, LOCK_ORG, PENDING, ingest_rows, lock_reports
from reachguard.store.base import Store


def rebuild(store: Store, policy: ReputationPolicy | None = None, *, batch: int = BATCH,
            progress: Callable[[int], None] | None = None) -> int:
    """Replace every aggregate and reporter record by a replay of the log; returns reports replayed."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    weights = policy or ReputationPolicy()
    replayed = 0
    with store.transaction(LOCK_ORG, LOCK_KEY):
        lock_reports(store)
        store.clear_report_aggregates()
        after = 0
        while True:
            page = store.report_log(after, batch)
            if not page:
                break
            ingest_rows(store, [row for _, row in page], weights, append=False)
            after = page[-1][0]
            replayed += len(page)
            if progress is not None:
                progress(replayed)
        store.set_meta(PENDING, "")  # the whole log is folded now, including what a bulk ingest left pending
    return replayed
