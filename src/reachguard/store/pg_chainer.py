"""The background chainer of the PostgreSQL ledger, and the upkeep of its queue.

Every replica runs one: every `chain_interval` seconds it chains the pending entries of each
org no other replica is chaining (pg_ledger.PgLedger.chain_ledger with try-locks), so the
ledger keeps up even when nobody reads it.

Every chained entry leaves a dead row in `ledger_pending`. Autovacuum visits a table once a
minute at best (never where it is off), and a queue fed thousands of entries a second would
grow by gigabytes an hour between its visits. So every VACUUM_EVERY entries it chained, the
thread runs `VACUUM (SKIP_LOCKED, TRUNCATE false) ledger_pending`: SKIP_LOCKED so a replica
never queues behind another's VACUUM, no truncation because that takes a lock every decision's
insert would wait for. A VACUUM the role may not run (it owns neither the table nor the
database) or the server cannot (before PostgreSQL 12) is logged once and not tried again.

The thread also says once, at its first tick, when the server's autovacuum is off: the other
tables then grow dead rows and, worse, keep stale statistics, and a prepared statement keeps
the plan it got on a new deployment's empty tables (a full scan) for good.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reachguard.store.pg_ledger import PgLedger

VACUUM_EVERY = 10_000
"""Chained entries (dead rows left in ledger_pending) between two VACUUMs of the queue by one replica."""

log = logging.getLogger("reachguard.store")


class Chainer(threading.Thread):
    """Chains pending ledger entries every few seconds (skips orgs another replica holds) and
    vacuums the queue every VACUUM_EVERY entries it chained."""

    def __init__(self, store: PgLedger, interval: float):
        super().__init__(name="reachguard-ledger-chainer", daemon=True)
        self._store = weakref.ref(store)
        self._interval = interval
        self._stopped = threading.Event()
        self.vacuums = True  # False once a VACUUM was refused for good (logged)

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        moved = 0  # entries chained since this thread last vacuumed the queue
        checked = False  # the server's autovacuum setting
        while not self._stopped.wait(self._interval):
            store = self._store()
            if store is None or store._closed:
                return
            try:
                if not checked:
                    checked = True
                    if not store._server_info()[2]:
                        log.warning("PostgreSQL's autovacuum is off: run VACUUM ANALYZE regularly, or prepared "
                                    "statements keep the plans they got on empty tables (docs/deploy.md, Sizing)")
                moved += store.chain_ledger(wait=False)
                if self.vacuums and moved >= VACUUM_EVERY:
                    moved = 0
                    self._vacuum(store)
            except Exception:  # noqa: BLE001 - retried at the next tick; readers chain anyway
                pass
            finally:
                del store

    def _vacuum(self, store: PgLedger) -> None:
        try:
            skipped = store.vacuum_pending()
        except Exception as exc:  # noqa: BLE001 - a timeout, a lost connection: tried again later
            log.warning("VACUUM of ledger_pending failed (tried again after %d more entries): %s", VACUUM_EVERY, exc)
            return
        if skipped is not None and skipped.lasting:
            self.vacuums = False
            log.warning("ledger_pending is left to autovacuum: %s", skipped.reason)
