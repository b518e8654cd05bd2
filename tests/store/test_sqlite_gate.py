"""The SQLite write gate (store/sqlite_gate.py): exclusive across processes, a clear error when
another process keeps it past the timeout, nothing written by a writer that gave up, and a
forked child never shares its parent's hold."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reachguard.store import SQLiteStore
from reachguard.store.sqlite_gate import WriteGate

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fcntl: POSIX only")

_HOLDER = textwrap.dedent("""
    import sys
    from reachguard.store.sqlite_gate import WriteGate
    gate = WriteGate(sys.argv[1])
    assert gate.acquire()
    print("held", flush=True)
    sys.stdin.readline()
    gate.release()
    print("released", flush=True)
    sys.stdin.readline()
""")


class _Holder:
    """Another process holding the gate of `db` until `release()`."""

    def __init__(self, db: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def _count(store: SQLiteStore) -> int:
    with store.read() as db:
        return db.execute("SELECT count(*) FROM meta").fetchone()[0]


def test_a_writer_waits_for_another_process_and_gives_up_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    store = SQLiteStore(str(db))
    before = _count(store)
    holder = _Holder(db)
    try:
        store._gate.timeout = 0.3
        with pytest.raises(sqlite3.OperationalError, match="database is locked.*store.db-writer"):
            with store.transaction(), store.read() as conn:
                conn.execute("INSERT INTO meta(key, value) VALUES ('gate-test', '1')")
        assert _count(store) == before  # the writer that gave up wrote nothing
        holder.release()
        with store.transaction(), store.read() as conn:  # free again: goes through
            conn.execute("INSERT INTO meta(key, value) VALUES ('gate-test', '1')")
        assert _count(store) == before + 1
    finally:
        holder.stop()
        store.close()


def test_the_gate_is_released_when_a_transaction_fails(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    store = SQLiteStore(str(db))
    with pytest.raises(RuntimeError):
        with store.transaction():
            raise RuntimeError("boom")
    other = WriteGate(str(db), timeout=0.2)
    assert other.acquire()  # a separate open file description: would fail if still held
    other.release()
    other.close()
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_share_its_parents_hold(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "store.db"), timeout=0.2)
    assert gate.acquire()
    pid = os.fork()
    if pid == 0:  # child: the parent holds the gate, so this must time out
        try:
            gate.acquire()
            code = 1
        except sqlite3.OperationalError:
            code = 0
        except BaseException:  # noqa: BLE001
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    gate.release()
    gate.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_store_dropped_without_close_gives_its_descriptor_back(tmp_path: Path) -> None:
    import gc

    db = str(tmp_path / "store.db")
    SQLiteStore(db).close()
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    if fds is None:
        pytest.skip("no /proc/self/fd")
    for _ in range(20):
        store = SQLiteStore(db)
        with store.transaction():
            pass
        del store
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= fds + 1


def test_an_unnamed_temporary_store_has_no_gate(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SQLiteStore("")  # SQLite's private temporary database
    with store.transaction():
        pass
    store.close()
    assert not (tmp_path / "-writer").exists()


def test_a_scrub_snapshot_waits_at_the_gate(tmp_path: Path, monkeypatch) -> None:
    """The scrub's moment of holding writers off (snapshot._writers_held) queues at the gate too."""
    from reachguard.scrub import snapshot

    db = tmp_path / "store.db"
    SQLiteStore(str(db)).close()
    holder = _Holder(db)
    try:
        original = WriteGate.__init__
        monkeypatch.setattr(WriteGate, "__init__", lambda self, path, timeout=60.0: original(self, path, 0.3))
        with pytest.raises(sqlite3.OperationalError, match="store.db-writer"):
            with snapshot._writers_held(str(db)):
                pass
        monkeypatch.undo()
        holder.release()
        with snapshot._writers_held(str(db)):
            pass
    finally:
        holder.stop()


def test_a_waiting_writer_goes_on_when_the_holder_lets_go(tmp_path: Path) -> None:
    import threading

    db = tmp_path / "store.db"
    store = SQLiteStore(str(db))
    before = _count(store)
    holder = _Holder(db)
    done = threading.Event()

    def write() -> None:
        with store.transaction(), store.read() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES ('gate-wait', '1')")
        done.set()

    try:
        thread = threading.Thread(target=write)
        thread.start()
        assert not done.wait(0.2)  # blocked at the gate while the other process holds it
        holder.release()
        thread.join(10)
        assert done.is_set() and _count(store) == before + 1
    finally:
        holder.stop()
        store.close()


def test_a_writer_that_gave_up_leaves_no_hold_behind(tmp_path: Path) -> None:
    """The helper still blocked in flock when its caller gave up takes the lock later and must
    let it go at once, or the file would stay locked for good."""
    db = tmp_path / "store.db"
    quitter = WriteGate(str(db), timeout=0.2)
    holder = _Holder(db)
    try:
        with pytest.raises(sqlite3.OperationalError):
            quitter.acquire()
        holder.release()
        other = WriteGate(str(db), timeout=5)
        assert other.acquire()
        other.release()
        other.close()
    finally:
        holder.stop()
        quitter.close()
