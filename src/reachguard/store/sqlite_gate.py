"""A cross-process gate in front of SQLite's write lock, so waiting writers queue promptly.

Why: when two processes (`reachguard serve --workers 2`, or a server and a CLI import) write
to one SQLite file, the loser of `BEGIN IMMEDIATE` waits in SQLite's busy handler, which
sleeps 1, 2, 5, 10 … up to 100 ms between tries and so keeps missing the short gaps between
the winner's transactions: single decisions waited up to 1.1 s (p99) with two server workers.
Here a writer first takes an exclusive `flock` on a sidecar file (`<db>-writer`) and only then
begins; a waiter blocks in the kernel on the flock, so it is woken the moment the holder lets
go. The gate is an optimisation only: SQLite's own lock still guarantees one writer, so a
writer that does not use the gate (an older release, another tool) stays correct — it just
waits the old way. For the same reason a rare race is harmless: a helper that gave up (below)
and then wins the flock lets go of it, and if its store had meanwhile taken the gate again
through the same descriptor, that transaction runs on SQLite's lock alone.

Where `fcntl` does not exist (Windows) or the sidecar cannot be opened, there is no gate.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def _wait_for(fd: int, timeout: float) -> bool:
    """Block in the kernel until the lock is ours (woken the moment the holder lets go: no
    polling, which cost more CPU than the decisions with 16 waiting processes), or give up
    after `timeout`. flock has no timeout, so a helper thread blocks and the caller waits for
    it; a helper that gets the lock after the caller gave up lets it go at once. It locks
    through its own duplicate of the descriptor (the same open file description, hence the
    same lock), which stays valid even if the gate is closed meanwhile."""
    mine = os.dup(fd)
    got = threading.Event()
    guard = threading.Lock()
    state = {"abandoned": False}

    def wait() -> None:
        try:
            fcntl.flock(mine, fcntl.LOCK_EX)
            with guard:
                if state["abandoned"]:
                    fcntl.flock(mine, fcntl.LOCK_UN)
                else:
                    got.set()
        except OSError:
            pass
        finally:
            os.close(mine)

    threading.Thread(target=wait, name="reachguard-sqlite-gate", daemon=True).start()
    if got.wait(timeout):
        return True
    with guard:
        if got.is_set():
            return True
        state["abandoned"] = True
    return False


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _open(path: str) -> int | None:
    # Read-only is enough for flock: a sidecar another user created stays usable.
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_CLOEXEC, 0o644)
        except OSError:
            continue
    return None


class WriteGate:
    """Exclusive across processes; the store's own thread lock orders threads within one."""

    def __init__(self, db_path: str, timeout: float = 60.0):
        self.path = db_path + "-writer"
        self.timeout = timeout
        self._fd: int | None = None
        self._pid = 0
        self._closer: weakref.finalize | None = None

    def _descriptor(self) -> int | None:
        if fcntl is None:
            return None
        if self._fd is not None and self._pid != os.getpid():
            # A forked child: a flock belongs to the open file description, which the child
            # shares with its parent. Drop the inherited copy (closing it releases nothing the
            # parent holds) and open a description of our own.
            self._closer.detach()
            _close_quietly(self._fd)
            self._fd = None
        if self._fd is None:
            fd = _open(self.path)
            if fd is None:
                return None
            self._fd, self._pid = fd, os.getpid()
            self._closer = weakref.finalize(self, _close_quietly, fd)  # a store dropped unclosed
        return self._fd

    def acquire(self) -> bool:
        """Take the gate (True), or find there is none (False); raise after `timeout` seconds
        the way SQLite does when its busy timeout runs out."""
        fd = self._descriptor()
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        if _wait_for(fd, self.timeout):
            return True
        raise sqlite3.OperationalError(f"database is locked: another writer held {self.path} for {self.timeout:.0f} s")

    def release(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()  # closes the descriptor once, whoever calls first
        self._fd = self._closer = None
