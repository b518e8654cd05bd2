"""A batch judged from a snapshot read outside the write lock (store/sqlite_snapshot.py).

Each race is staged deterministically: a second store on the same file (as another `serve`
worker would be) writes right after the batch's snapshot is read and before the batch takes
the write lock. The batch must then decide exactly as it would have with the lock held from
the start, i.e. as the same events replayed one after the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from snapshotkit import AT, CONSENT as _CONSENT, OTHER, answers as _answers, event as _event, gateway as _gateway, sms as _sms
from worldkit import BORROWER, PROSPECT
from reachguard.store import SQLiteStore, StateQuery


def _call(i: int, at: str = AT):
    return _event(type="attempt", id=f"c{i}", org="acme", channel="call", purpose="collection", to=BORROWER,
                  subject="L1", at=at)


_ACCOUNT = dict(type="account", org="acme", subject="L1", borrower=BORROWER, days_past_due=10, at="2026-11-01T10:00:00+08:00")

# name: (history before the batch, what the other worker does in between, the batch)
RACES: dict[str, tuple[list, list, list]] = {
    "opt-out": ([_CONSENT], [dict(type="opt_out", to=PROSPECT, at="2026-11-23T09:00:00+08:00")], [_sms(1)]),
    "consent withdrawn": ([_CONSENT], [dict(type="consent_withdrawn", org="acme", to=PROSPECT, at="2026-11-23T09:00:00+08:00")],
                          [_sms(1)]),
    "taken off a list": ([_CONSENT, dict(type="dnc", list="national", to=PROSPECT, at="2026-11-02T10:00:00+08:00")],
                         [dict(type="dnc", list="national", to=PROSPECT, remove=True, at="2026-11-23T09:00:00+08:00")], [_sms(1)]),
    "cap used by the other worker": ([_CONSENT], [_sms(0, at="2026-11-23T09:30:00+08:00")], [_sms(1)]),
    "wrong number": ([_ACCOUNT], [dict(type="outcome", org="acme", to=BORROWER, subject="L1", result="wrong_number",
                                       at="2026-11-23T09:00:00+08:00")], [_call(1)]),
    "account paid up": ([_ACCOUNT], [dict(_ACCOUNT, days_past_due=0, at="2026-11-23T09:00:00+08:00")], [_call(1)]),
}


def _as_events(items: list) -> list:
    return [_event(**item) if isinstance(item, dict) else item for item in items]


def _race(db: Path, history: list, between: list, batch: list) -> tuple[list, int]:
    """The batch decided with `between` written by another store after its snapshot; and how
    many times the batch read its states under the lock (0: the snapshot held)."""
    ours, theirs = _gateway(db), _gateway(db)
    for event in _as_events(history):
        ours.handle(event)
    store = ours.store
    read_snapshot, load_states = store.snapshot_states, store.load_states
    reads_under_lock = []

    def snapshot_then_interfere(queries: list[StateQuery]):
        snapshot = read_snapshot(queries)
        for event in _as_events(between):
            theirs.handle(event)
        return snapshot

    def counted_load_states(queries: list[StateQuery]):
        if store._depth:  # inside the batch's write transaction, not the snapshot's read
            reads_under_lock.append(len(queries))
        return load_states(queries)

    store.snapshot_states = snapshot_then_interfere  # type: ignore[method-assign]
    store.load_states = counted_load_states  # type: ignore[method-assign]
    decisions = ours.decide_many(_as_events(batch))
    ours.store.close()
    theirs.store.close()
    return decisions, len(reads_under_lock)


def _serial(db: Path, events: list) -> list:
    gateway = _gateway(db)
    decisions = [d for d in map(gateway.handle, _as_events(events)) if d is not None]
    gateway.store.close()
    return decisions


@pytest.mark.parametrize("name", list(RACES))
def test_a_batch_sees_what_another_worker_wrote_after_its_snapshot(tmp_path: Path, name: str) -> None:
    history, between, batch = RACES[name]
    raced, reads = _race(tmp_path / "raced.db", history, between, batch)
    expected = _serial(tmp_path / "expected.db", history + between + batch)[-len(batch):]
    unraced = _serial(tmp_path / "unraced.db", history + batch)[-len(batch):]
    assert _answers(raced) == _answers(expected)
    assert _answers(expected) != _answers(unraced), "the race must matter, or this test proves nothing"
    assert reads == 1, "the stale snapshot must be read again under the lock"


def test_an_unrelated_write_keeps_the_snapshot(tmp_path: Path) -> None:
    other_consent = dict(_CONSENT, to=OTHER)
    raced, reads = _race(tmp_path / "rg.db", [_CONSENT, other_consent], [_sms(0, to=OTHER)], [_sms(1), _sms(2)])
    assert _answers(raced) == [("allow", []), ("defer", ["FREQUENCY_CAP"])]
    assert reads == 0


def test_a_ledger_and_contacts_as_if_serial(tmp_path: Path) -> None:
    """The raced batch's writes: one contact per allowed attempt, and a chain that verifies."""
    from reachguard.ledger.verify import verify_chain

    _race(tmp_path / "rg.db", [_CONSENT], [_sms(0, at="2026-11-23T09:30:00+08:00")], [_sms(1), _sms(2, to=OTHER)])
    store = SQLiteStore(str(tmp_path / "rg.db"))
    with store.read() as db:
        contacts = db.execute("SELECT number FROM contacts ORDER BY seq").fetchall()
        tags = [row[0] for row in db.execute("SELECT tag FROM ledger WHERE kind='decision' ORDER BY seq")]
    assert contacts == [(PROSPECT,)]  # the other worker's; ours was capped, OTHER has no consent
    assert tags == ["allow", "defer", "deny"]
    checked, broken = verify_chain(store.ledger_entries("acme"))
    assert broken is None and checked == 4  # the consent, their decision, our two
    store.close()


@pytest.mark.slow
def test_four_processes_deciding_batches_never_exceed_a_cap(tmp_path: Path) -> None:
    """Real processes, mostly batches, the same 12 numbers: snapshots go stale all the time."""
    import multiprocessing

    from store_worker import check_caps_and_ledger, hammer, seed

    db = str(tmp_path / "shared.db")
    store = SQLiteStore(db)
    seed(store, 12)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(hammer, [("sqlite", db, "", "", w, 4, 40, 12, 0.75) for w in range(4)])
    verdicts = [v for chunk in results for v in chunk]
    assert len(verdicts) == 4 * 4 * 40
    check_caps_and_ledger(store, verdicts)
    store.close()


# --- the store's side ---------------------------------------------------------------------------


def _generation(store: SQLiteStore) -> int:
    with store.read() as db:
        return db.execute("SELECT n FROM state_generation").fetchone()[0]


WRITES: dict[str, Callable[[SQLiteStore], None]] = {
    "consent": lambda s: s.add_consent("acme", PROSPECT, 15, 1.0, None, None),
    "consent withdrawn": lambda s: s.withdraw_consent("acme", PROSPECT, 15, 2.0),
    "opt-out": lambda s: s.add_opt_out(PROSPECT, None, 15, 3.0, "opt_out", None),
    "listed": lambda s: s.set_listed("national", PROSPECT, 4.0, True),
    "unlisted": lambda s: s.set_listed("national", PROSPECT, 5.0, False),
    "outcome": lambda s: s.add_outcome("acme", BORROWER, "L1", "no_answer", 6.0),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_every_write_a_state_is_built_from_moves_the_generation(tmp_path: Path, name: str) -> None:
    store = SQLiteStore(str(tmp_path / "rg.db"))
    store.set_listed("national", PROSPECT, 0.5, True)  # so that "unlisted" deletes a row
    before = _generation(store)
    WRITES[name](store)
    assert _generation(store) > before
    store.close()


def test_contacts_move_the_generation_only_when_changed_in_place(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path / "rg.db")
    gateway.handle(_event(**_CONSENT))
    before = _generation(gateway.store)
    assert gateway.decide(_sms(1)).verdict == "allow"
    assert _generation(gateway.store) == before  # an insert is found by its seq instead
    with gateway.store.transaction():
        with gateway.store.read() as db:
            db.execute("UPDATE contacts SET at = at + 1")
    assert _generation(gateway.store) == before + 1
    with gateway.store.transaction():
        with gateway.store.read() as db:
            db.execute("DELETE FROM contacts")
    assert _generation(gateway.store) == before + 2
    gateway.store.close()


def _debt_query(number: str, subject: str = "L1") -> StateQuery:
    return StateQuery("acme", number, "collection", subject, 0.0, True)


@pytest.mark.parametrize(("number", "subject", "holds"), [
    (OTHER, "L1", False),       # same debt, another number: a contact about the debt
    (BORROWER, "L2", False),    # same number, another debt
    (OTHER, "L2", True),        # neither
])
def test_a_new_contact_breaks_the_snapshot_by_number_or_by_debt(tmp_path: Path, number: str, subject: str, holds: bool) -> None:
    from reachguard.state import ContactRecord

    ours, theirs = SQLiteStore(str(tmp_path / "rg.db")), SQLiteStore(str(tmp_path / "rg.db"))
    snapshot = ours.snapshot_states([_debt_query(BORROWER)])
    assert snapshot is not None
    theirs.record_contacts([(ContactRecord("acme", number, "call", "collection", "contact", subject, 10.0), "x", None, None)])
    with ours.transaction():
        assert ours.snapshot_holds(snapshot) is holds
    ours.close()
    theirs.close()


def test_no_snapshot_inside_a_transaction(tmp_path: Path) -> None:
    """An outer transaction already holds the lock: the batch reads under it, as before."""
    store = SQLiteStore(str(tmp_path / "rg.db"))
    with store.transaction():
        assert store.snapshot_states([_debt_query(BORROWER)]) is None
    assert store.snapshot_states([_debt_query(BORROWER)]) is not None
    store.close()


def test_an_older_store_gets_the_generation_on_opening(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    store = SQLiteStore(str(db))
    with store.transaction():
        with store.read() as conn:
            conn.execute("DROP TABLE state_generation")
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE '%_gen_%'").fetchall():
                conn.execute(f"DROP TRIGGER {name}")
    store.close()
    store = SQLiteStore(str(db))
    before = _generation(store)
    store.add_opt_out(PROSPECT, None, 15, 3.0, "opt_out", None)
    assert _generation(store) == before + 1
    store.close()
