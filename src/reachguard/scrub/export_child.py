"""Reading a file store's tables in a child process, through ADBC straight into Arrow.

Why a child process: the ADBC SQLite driver carries its own copy of SQLite. Two copies of
SQLite in one process must never open the same database: closing a file in one drops the POSIX
locks the other holds on it (sqlite.org, "How To Corrupt", 2.2.1) — and the API process holds
write transactions on the store at any time. A child has locks of its own. It also keeps the
~10 M-row reads off this process's GIL; the rows come back as Arrow IPC files (memory-mapped).

Why the handshake: the engine judges rows through the scrub's own connection, so the child
must read the very same snapshot. `pin()` is called by `snapshot.open_snapshot` while no writer
can commit (the scrub holds, or briefly takes, the write lock) and after the scrub's read
snapshot started: the child starts its read transaction then, so both see the same commits.

The child runs this file as a script (`python -I export_child.py`), importing only pyarrow and
the ADBC driver; the protocol is one JSON line in, then `loaded`, `go`, `begun`, `done` lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

if __name__ != "__main__":
    from reachguard.scrub.export import ExportPlan, finish, queries


class ExportFailed(RuntimeError):
    """The child could not read the store (its message says why)."""


class ExportChild:
    """The parent's handle on one child: start it, pin its snapshot, collect its tables."""

    def __init__(self, db_path: str, plan: "ExportPlan", folder: Path):
        self.queries = queries(plan)
        self.paths = {q.name: folder / f"{q.name}.arrow" for q in self.queries}
        spec = {"db": db_path, "queries": [
            {"sql": q.sql, "params": list(q.params), "path": str(self.paths[q.name]),
             "names": q.schema.names} for q in self.queries]}
        self.proc = subprocess.Popen([sys.executable, "-I", str(Path(__file__).resolve())], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._send(json.dumps(spec))

    def ready(self) -> None:
        """Wait until the child has started and opened the store (before any lock is taken)."""
        self._expect("loaded")

    def pin(self) -> None:
        """Start the child's read transaction now (see the module docstring for when)."""
        self._send("go")
        self._expect("begun")

    def result(self) -> dict[str, pa.Table]:
        self._expect("done")
        self.proc.wait()
        tables = {}
        for query in self.queries:
            table = ipc.open_file(pa.memory_map(str(self.paths[query.name]))).read_all()
            tables[query.name] = finish(table, query)
        return tables

    def close(self) -> None:
        """Stop the child if it is still running (an error elsewhere ended the scrub)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._fail()

    def _expect(self, word: str) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != word:
            self._fail()

    def _fail(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        detail = (self.proc.stderr.read() if self.proc.stderr else "").strip().splitlines()
        raise ExportFailed("reading the store failed: " + (detail[-1] if detail else f"exit code {self.proc.returncode}"))


def _child() -> int:
    import adbc_driver_sqlite.dbapi as adbc

    spec: dict[str, Any] = json.loads(sys.stdin.readline())
    conn = adbc.connect(spec["db"], autocommit=True)
    cur = conn.cursor()
    cur.execute("PRAGMA busy_timeout = 60000")
    cur.fetchall()
    print("loaded", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    cur.execute("BEGIN")
    cur.execute("SELECT count(*) FROM meta")  # the read snapshot starts here
    cur.fetchall()
    print("begun", flush=True)
    for query in spec["queries"]:
        cur.execute(query["sql"], tuple(query["params"]) or None)
        table = cur.fetch_arrow_table()
        table = table.rename_columns(query["names"])
        with ipc.new_file(query["path"], table.schema) as writer:
            writer.write_table(table)
    cur.execute("ROLLBACK")
    cur.close()
    conn.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child())
