"""The hash chain (ledger/): every decision and event is chained; tampering is detected."""

import pytest

from worldkit import World
from reachguard.ledger.verify import verify_chain


@pytest.fixture
def chained(world: World) -> World:
    world.consent()
    world.account(dpd=10)
    for hour in range(10, 14):
        world.attempt(f"2026-11-23T{hour}:00:00+08:00")
    world.attempt("2026-11-23T10:00:00+08:00", to="12345")
    world.send(type="opt_out", to="13800138000", at="2026-11-23T15:00:00+08:00")  # no org: global chain
    return world


def _entries(world: World, org: str = "acme") -> list:
    return list(world.gateway.store.ledger_entries(org))


def test_every_decision_and_event_is_in_the_chain(chained: World) -> None:
    entries = _entries(chained)
    kinds = [e.kind for e in entries]
    assert kinds == ["consent", "account"] + ["decision"] * 5
    assert [e.tag for e in entries if e.kind == "decision"] == ["allow", "defer", "defer", "defer", "deny"]
    assert [e.kind for e in _entries(chained, "*")] == ["opt_out"]
    assert verify_chain(entries) == (7, None)


def _tamper(world: World, sql: str) -> None:
    with world.gateway.store.read() as db:
        db.execute(sql)


def test_edited_body_is_detected(chained: World) -> None:
    _tamper(chained, "UPDATE ledger SET body = replace(body, 'defer', 'allow') WHERE org='acme' AND seq=4")
    checked, broken = verify_chain(_entries(chained))
    assert checked == 3 and broken is not None and broken.seq == 4 and "body" in broken.problem


def test_rehashed_body_still_breaks_the_chain(chained: World) -> None:
    import hashlib

    entry = _entries(chained)[3]
    body = entry.body.replace("defer", "allow")
    digest = hashlib.sha256(body.encode()).hexdigest()
    _tamper(chained, f"UPDATE ledger SET body = '{body}', body_hash = '{digest}' WHERE org='acme' AND seq=4")
    _, broken = verify_chain(_entries(chained))
    assert broken is not None and broken.seq == 4


def test_deleted_entry_is_detected(chained: World) -> None:
    _tamper(chained, "DELETE FROM ledger WHERE org='acme' AND seq=3")
    _, broken = verify_chain(_entries(chained))
    assert broken is not None and broken.seq == 4 and "gap" in broken.problem


def test_reordered_entries_are_detected(chained: World) -> None:
    _tamper(chained, "UPDATE ledger SET seq = -seq WHERE org='acme' AND seq IN (3, 4)")
    _tamper(chained, "UPDATE ledger SET seq = 3 WHERE org='acme' AND seq = -4")
    _tamper(chained, "UPDATE ledger SET seq = 4 WHERE org='acme' AND seq = -3")
    _, broken = verify_chain(_entries(chained))
    assert broken is not None and broken.seq == 3


def test_one_append_of_interleaved_orgs_chains_each_org() -> None:
    """ledger_append keeps the head of the org it is on and switches when the org changes."""
    from reachguard.ledger.verify import verify_chain
    from reachguard.store import SQLiteStore

    store = SQLiteStore(":memory:")
    for _ in range(2):
        with store.transaction():
            store.ledger_append([(org, "note", float(i), None, None, b'{"i":%d}' % i) for i, org in enumerate("ABABAAB")])
            store.ledger_append([("B", "note", 9.0, None, None, b"{}")])
    for org, count in (("A", 8), ("B", 8)):
        entries = list(store.ledger_entries(org))
        assert [e.seq for e in entries] == list(range(1, count + 1))
        assert verify_chain(iter(entries)) == (count, None)
