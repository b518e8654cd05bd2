"""Edge cases of the batch snapshot (store/sqlite_snapshot.py, engine._decide_many), found by review.

Each test stages a write by another store on the same file (another `serve` worker) at a point
of `decide_many` between its snapshot and its write lock, and compares the batch's decisions
with the same events applied one after the other.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

import pytest

from snapshotkit import AT, CONSENT as _CONSENT, OTHER, answers as _answers, event as _event, gateway as _gateway, sms as _sms
from worldkit import BORROWER, CONTACT, PROSPECT
from reachguard.engine import Gateway
from reachguard.templates import TemplateRegistry

TEXT = "您好，请于今日回电{phone}。"
RENDERED = "您好，请于今日回电4008001234。"


_ACCOUNT = dict(type="account", org="acme", subject="L1", borrower=BORROWER, days_past_due=10,
                contacts=[{"to": CONTACT, "authorized": True}], at="2026-11-01T10:00:00+08:00")


def _third_party_sms(i: int):
    """A collection SMS about L1 to the borrower's authorized contact, with a template; the
    relation is left to its default ("borrower"), so the state turns it into "contact" and
    _judge reviews the attempt again (attempt_review.review_attempt: template included)."""
    return _event(type="attempt", id=f"t{i}", org="acme", channel="call", purpose="collection", to=CONTACT,
                  subject="L1", template="remind", content=RENDERED, at=AT)


_MISSED = [dict(type="outcome", org="acme", to=BORROWER, subject="L1", result="no_answer",
                at=f"2026-11-{day}T{hour}:00:00+08:00") for day in (18, 19, 20) for hour in (10, 15)]


def _history(gateway: Gateway) -> None:
    """The account, the borrower unreachable (6 missed calls over 3 days), the template approved."""
    for event in [_ACCOUNT, *_MISSED]:
        gateway.handle(_event(**event))
    _approve(gateway.store)


def _approve(store) -> None:
    registry = TemplateRegistry(store, ["compliance", "legal"])
    registry.submit("acme", "remind", TEXT, "lin", 1.0)
    registry.review("acme", "remind", "wang", "approve", "", 2.0)
    registry.review("acme", "remind", "zhao", "approve", "", 3.0)


def _new_version(store) -> None:
    TemplateRegistry(store, ["compliance", "legal"]).submit("acme", "remind", TEXT + "谢谢", "lin", 4.0)


def _before_the_lock(gateway: Gateway, interfere: Callable[[], None]) -> None:
    """Run `interfere` (another worker's write) once, just before the batch takes the write lock:
    after its snapshot was read and judged (a809a7e), or after everything done before the lock
    (its parent, where the judging happened under the lock)."""
    store = gateway.store
    transaction = store.transaction
    done = []

    def interfering_transaction(*args, **kwargs):
        if not done and not store._depth:
            done.append(1)
            interfere()
        return transaction(*args, **kwargs)

    store.transaction = interfering_transaction  # type: ignore[method-assign]


def test_template_change_after_the_snapshot_judge_is_not_seen(tmp_path: Path) -> None:
    """The template is re-checked by _judge (relation borrower -> contact). Before a809a7e that
    ran under the write lock; now it runs outside it, and template tables are not in the
    state generation, so a new (pending) version committed before the batch takes the lock
    is not seen: the batch allows what the serial order denies."""
    db = tmp_path / "raced.db"
    ours, theirs = _gateway(db), _gateway(db)
    _history(ours)
    _before_the_lock(ours, lambda: _new_version(theirs.store))
    raced = ours.decide_many([_third_party_sms(1)])

    serial = _gateway(tmp_path / "serial.db")
    _history(serial)
    _new_version(serial.store)
    expected = serial.decide_many([_third_party_sms(1)])

    unraced = _gateway(tmp_path / "unraced.db")
    _history(unraced)
    before = unraced.decide_many([_third_party_sms(1)])
    assert _answers(before) != _answers(expected), "the race must matter"
    assert _answers(raced) == _answers(expected), (_answers(raced), _answers(expected))


# --- contacts written with a seq of their own --------------------------------------------------

_COLUMNS = "org, number, channel, purpose, relation, subject, at, attempt_id, agent, code"


def _contacts_with_a_gap(gateway: Gateway) -> None:
    """Three contacts to another number, the middle one deleted (long before any batch)."""
    gateway.handle(_event(**dict(_CONSENT, to=OTHER)))
    for i, day in enumerate(("2026-11-20", "2026-11-21", "2026-11-22")):
        assert gateway.decide(_sms(100 + i, to=OTHER, at=f"{day}T10:00:00+08:00")).verdict == "allow"
    with gateway.store.transaction(), gateway.store.read() as db:
        db.execute("DELETE FROM contacts WHERE seq = 2")


# The other worker's contact for PROSPECT at 09:30 (it uses up the batch's cap), written by hand
# with a seq below the highest: the rows of an archive merged back with their seq, or a contact
# rewritten in place with REPLACE.
_NINE_THIRTY = datetime.fromisoformat("2026-11-23T09:30:00+08:00").timestamp()
_VALUES = "'acme', ?, 'sms', 'marketing', 'prospect', NULL, ?, 'x', NULL, NULL"
_RAW_WRITES = {
    "insert into a gap": f"INSERT INTO contacts(seq, {_COLUMNS}) VALUES (2, {_VALUES})",
    "insert or replace": f"INSERT OR REPLACE INTO contacts(seq, {_COLUMNS}) VALUES (1, {_VALUES})",
    "replace the highest": f"INSERT OR REPLACE INTO contacts(seq, {_COLUMNS}) VALUES (3, {_VALUES})",
    "a negative seq": f"INSERT INTO contacts(seq, {_COLUMNS}) VALUES (-5, {_VALUES})",
}


@pytest.mark.parametrize("name", list(_RAW_WRITES))
def test_a_contact_written_below_the_highest_seq_is_missed(tmp_path: Path, name: str) -> None:
    """`holds` finds new contacts by seq > the snapshot's highest; a contact given a lower seq
    (no generation bump: contacts inserts are not counted, and a REPLACE's delete fires no
    trigger) passes unseen, and the batch exceeds the cap that serial decisions keep."""
    db = tmp_path / "raced.db"
    ours, theirs = _gateway(db), _gateway(db)
    ours.handle(_event(**_CONSENT))
    _contacts_with_a_gap(ours)

    def their_contact() -> None:
        with theirs.store.transaction(), theirs.store.read() as conn:
            conn.execute(_RAW_WRITES[name], (PROSPECT, _NINE_THIRTY))

    _before_the_lock(ours, their_contact)
    raced = ours.decide_many([_sms(1)])
    with ours.store.read() as conn:
        prospect = conn.execute("SELECT count(*) FROM contacts WHERE number = ?", (PROSPECT,)).fetchone()[0]
    assert _answers(raced) == [("defer", ["FREQUENCY_CAP"])], f"{_answers(raced)}; contacts to PROSPECT: {prospect}"


def test_a_missing_generation_row_does_not_prove_a_snapshot(tmp_path: Path) -> None:
    """With the counter's row gone (hand-written SQL), the triggers update nothing and both
    marks read None: None == None, and an opt-out written meanwhile is not seen."""
    db = tmp_path / "raced.db"
    ours, theirs = _gateway(db), _gateway(db)
    ours.handle(_event(**_CONSENT))
    with ours.store.transaction(), ours.store.read() as conn:
        conn.execute("DELETE FROM state_generation")
    _before_the_lock(ours, lambda: theirs.handle(_event(type="opt_out", to=PROSPECT, at="2026-11-23T09:00:00+08:00")))
    assert _answers(ours.decide_many([_sms(1)])) == [("deny", ["OPTED_OUT"])]
