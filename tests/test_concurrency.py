"""Check-and-record is atomic: concurrent deciders never exceed a cap (engine + store)."""

import multiprocessing
import threading
from pathlib import Path

import pytest

from concurrency_worker import NUMBER, attempt_line, decide_in_threads
from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.store import SQLiteStore


def _seed(db: Path) -> None:
    gateway = Gateway(SQLiteStore(str(db)))
    gateway.handle(decode_event(
        b'{"type":"account","org":"acme","subject":"L1","borrower":"13900139000","days_past_due":10,'
        b'"at":"2026-11-01T10:00:00+08:00"}'
    ))
    gateway.store.close()


def _contacts(db: Path) -> int:
    store = SQLiteStore(str(db))
    with store.read() as conn:
        count = conn.execute("SELECT count(*) FROM contacts WHERE number=?", (NUMBER,)).fetchone()[0]
    store.close()
    return count


def test_sixteen_threads_sharing_one_gateway_never_exceed_the_cap(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    _seed(db)
    gateway = Gateway(SQLiteStore(str(db)))
    events = [decode_event(attempt_line(i)) for i in range(16 * 8)]
    verdicts: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def work(chunk: list) -> None:
        barrier.wait()
        mine = [gateway.decide(e).verdict for e in chunk]
        with lock:
            verdicts.extend(mine)

    threads = [threading.Thread(target=work, args=(events[i::16],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verdicts.count("allow") == 6
    assert verdicts.count("defer") == len(events) - 6
    assert _contacts(db) == 6


@pytest.mark.slow
def test_four_processes_of_sixteen_threads_never_exceed_the_cap(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    _seed(db)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(decide_in_threads, [(str(db), 16, 4, p * 1000) for p in range(4)])
    verdicts = [v for chunk in results for v in chunk]
    assert len(verdicts) == 4 * 16 * 4
    assert verdicts.count("allow") == 6
    assert _contacts(db) == 6
