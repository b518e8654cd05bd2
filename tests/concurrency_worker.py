"""Run in child processes by test_concurrency.py: decide many attempts on one shared file store."""

from __future__ import annotations

import json
import threading

from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.store import SQLiteStore

NUMBER = "+8613900139000"


def attempt_line(i: int, channel: str = "call") -> bytes:
    return json.dumps({
        "type": "attempt", "id": f"t{i}", "org": "acme", "channel": channel, "purpose": "collection",
        "to": NUMBER, "subject": "L1", "at": "2026-11-23T10:00:00+08:00",
    }).encode()


def decide_in_threads(db_path: str, threads: int, per_thread: int, offset: int = 0) -> list[str]:
    """Each thread has its own Gateway (and connection) on the same file; returns verdicts."""
    verdicts: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def work(t: int) -> None:
        gateway = Gateway(SQLiteStore(db_path))
        events = [decode_event(attempt_line(offset + t * per_thread + k)) for k in range(per_thread)]
        barrier.wait()
        mine = [gateway.decide(e).verdict for e in events]
        with lock:
            verdicts.extend(mine)
        gateway.store.close()

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return verdicts
