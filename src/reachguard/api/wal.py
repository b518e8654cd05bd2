"""SQLite WAL checkpoints off the commit path, for the service. Apart from service.py: a
background thread with its own connection, touching nothing else of the service."""

from __future__ import annotations

import logging
import sqlite3
import threading

from reachguard.store import Store

log = logging.getLogger("reachguard.service")  # the service's logger: its lines keep that name


class _WalCheckpointer(threading.Thread):
    """SQLite file stores: copy the WAL into the database in the background, off the commit path.

    SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 WAL pages, and
    with synchronous=NORMAL it fsyncs the database there: a latency spike for the request
    that happens to commit. The service turns it off on the store's connection and runs a
    PASSIVE checkpoint (never blocks writers) from its own connection every 0.5 s instead.
    Durability is unchanged: a commit is durable once in the WAL.
    """

    def __init__(self, path: str, stop: threading.Event):
        super().__init__(name="reachguard-wal", daemon=True)
        self.path = path
        self.stop = stop

    @classmethod
    def maybe(cls, store: Store, stop: threading.Event) -> "_WalCheckpointer | None":
        from reachguard.store.sqlite import SQLiteStore

        if not isinstance(store, SQLiteStore) or store.path == ":memory:":
            return None
        with store.read() as db:
            db.execute("PRAGMA wal_autocheckpoint = 0")
        thread = cls(store.path, stop)
        thread.start()
        return thread

    def run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            while not self.stop.wait(0.5):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint failed", extra={"error": str(exc)})
        finally:
            db.close()
