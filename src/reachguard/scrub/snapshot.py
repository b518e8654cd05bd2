"""One consistent view of the store for a whole scrub, and the engine's access to it.

Why a snapshot: the set-based export (export.py) and the engine's own per-row loading must see
the same state, or a row could be judged on a mix of before and after a concurrent write. Both
therefore run on one SQLite connection inside one transaction: a plain (deferred) read
transaction for an ordinary scrub — WAL readers never block deciders — and `BEGIN IMMEDIATE`
for `--reserve`, which makes the check and the recording of the allowed rows atomic exactly as
`Gateway.decide` does for one attempt (concurrent deciders wait, caps cannot be overshot).

`SnapshotStore` lets an ordinary `Gateway` run inside that transaction: its own `transaction()`
becomes a no-op (the scrub holds the real one) and contacts are recorded only when reserving.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

from reachguard.scrub.export import ExportPlan, export
from reachguard.scrub.source import ScrubInputError
from reachguard.state import AccountRecord, RecipientState
from reachguard.store import SQLiteStore, StateQuery, Store
from reachguard.store.base import NewContact, PendingEntry
from reachguard.store.sqlite_gate import WriteGate
from reachguard.store.sqlite import sqlite_path

if TYPE_CHECKING:
    from reachguard.scrub.export_child import ExportChild


class SnapshotStore(Store):
    """A Store view for the engine inside the scrub's transaction (see module docstring)."""

    def __init__(self, inner: SQLiteStore, *, record: bool):
        self.inner = inner
        self.record = record
        self.recorded = 0
        self.digest = hashlib.sha256()  # of the recorded numbers, in recording order (the ledger entry)

    def transaction(self, org: str | None = None, number: str | None = None):  # type: ignore[override]
        return nullcontext()

    def load_state(self, query: StateQuery) -> RecipientState:
        return self.inner.load_states([query])[0]

    def load_states(self, queries: Sequence[StateQuery]) -> list[RecipientState]:
        """The states; without recording, each row gets lists of its own.

        `decide_many` appends an allowed attempt's contact to the loaded lists (and the store
        shares one subject's contacts across a batch). A plain scrub must judge every row
        against the stored state alone — allowed rows are not contacts until sent — so the
        lists are copied; with --reserve they stay shared, exactly as sequential decides.
        """
        states = self.inner.load_states(queries)
        if not self.record:
            for state in states:
                state.contacts = list(state.contacts)
                state.subject_contacts = list(state.subject_contacts)
        return states

    def record_contacts(self, contacts: Sequence[NewContact]) -> None:
        if self.record and contacts:
            self.inner.record_contacts(contacts)
            self.recorded += len(contacts)
            for contact in contacts:
                self.digest.update(contact[0].number.encode() + b"\n")

    def get_meta(self, key: str) -> str | None:
        return self.inner.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.inner.set_meta(key, value)

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("a scrub snapshot only reads state (and records reserved contacts)")

    add_consent = withdraw_consent = add_opt_out = set_listed = _read_only  # type: ignore[assignment]
    add_outcome = add_inbound = _read_only  # type: ignore[assignment]

    def upsert_account(self, account: AccountRecord) -> None:
        self._read_only()

    def close(self) -> None:
        pass

    def ledger_append(self, entries: Sequence[PendingEntry]) -> None:
        """Dropped: judging a list row is not a decision acted on (the scrub ledgers one summary)."""

    def __getattr__(self, name: str) -> Any:  # reads the engine may need (templates, ledger views)
        return getattr(self.inner, name)


def _delegate(name: str) -> Any:
    def method(self: SnapshotStore, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.inner, name)(*args, **kwargs)
    method.__name__ = name
    return method


for _name in sorted(getattr(Store, "__abstractmethods__", ())):
    if _name not in SnapshotStore.__dict__:
        setattr(SnapshotStore, _name, _delegate(_name))
SnapshotStore.__abstractmethods__ = frozenset()


class Pin(Protocol):
    """Another reader that must see this snapshot (export_child.ExportChild)."""

    def ready(self) -> None: ...

    def pin(self) -> None: ...


@contextmanager
def _writers_held(path: str) -> Iterator[None]:
    """No writer can commit inside the block (a second connection holds the write lock). It
    queues at the stores' write gate first, as their writers do: waiting in SQLite's busy
    handler instead, it could starve behind writers that hand the lock on within a millisecond."""
    gate = WriteGate(path)
    gated = gate.acquire()
    try:
        con = sqlite3.connect(path, isolation_level=None, timeout=60.0)
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                con.execute("ROLLBACK")
        finally:
            con.close()
    finally:
        if gated:
            gate.release()
        gate.close()


@contextmanager
def open_snapshot(store: str | Path | SQLiteStore, *, reserve: bool,
                  pin: Pin | None = None) -> Iterator[tuple[SQLiteStore, sqlite3.Connection]]:
    """(store, connection) inside one transaction; committed only if the block succeeds.

    A file store gets a connection of its own, so a long scrub never holds the lock of a store
    object other threads share (the API's). An in-memory store can only be read through the
    object itself. `pin` (file stores only) is made to start its own read at the same state:
    with `reserve` the scrub holds the write lock anyway; otherwise writers are held off for
    the moment between the two reads' starts (milliseconds: the child is ready before).
    """
    own: SQLiteStore | None = None
    if isinstance(store, SQLiteStore):
        target = store if store.path == ":memory:" else None
        path = store.path
    else:
        target = None
        path = sqlite_path(str(store))  # a sqlite:/// URL from a library caller: the file it names
    if target is None:
        if path != ":memory:" and not Path(path).is_file():
            raise ScrubInputError("NO_STORE", f"no store at {path}: pass the --db of the gateway (it is never created by a scrub)")
        try:
            own = target = SQLiteStore(path)
        except Exception as exc:  # StoreUnavailable, sqlite3.DatabaseError (not a database)
            raise ScrubInputError("NO_STORE", f"cannot open the store {path}: {exc}") from exc
    try:
        if pin is not None:
            if target.path == ":memory:":
                raise ValueError("an in-memory store cannot be read by another process")
            pin.ready()
        if reserve:
            with target.transaction(), target.read() as db:
                if pin is not None:
                    pin.pin()
                yield target, db
        else:
            with target.read() as db:
                db.execute("BEGIN")
                try:
                    with _writers_held(target.path) if pin is not None else nullcontext():
                        db.execute("SELECT count(*) FROM meta").fetchall()  # the read snapshot starts here
                        if pin is not None:
                            pin.pin()
                    yield target, db
                finally:
                    db.execute("ROLLBACK")
    finally:
        if own is not None:
            own.close()


@contextmanager
def open_state(store: str | Path | SQLiteStore, plan: ExportPlan, *, reserve: bool,
               child: ExportChild | None) -> Iterator[tuple[SQLiteStore, Callable[[], dict[str, Any]]]]:
    """open_snapshot, and how to get the exported sets: the child's tables (a file store), or
    read through the snapshot's own connection (an in-memory store)."""
    with open_snapshot(store, reserve=reserve, pin=child) as (snap, db):
        yield snap, (child.result if child is not None else (lambda: export(db, plan) if plan.set_based else {}))
