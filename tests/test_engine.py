"""The Gateway as a whole (engine.py): verdict logic, batches, invalid numbers, determinism."""

import json

import pytest

from worldkit import BORROWER, PROSPECT, World, codes
from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.numbers import InvalidNumber
from reachguard.store import SQLiteStore


def _attempt(i: int, at: str = "2026-11-23T10:00:00+08:00", to: str = BORROWER, channel: str = "call"):
    return decode_event(json.dumps({"type": "attempt", "id": f"a{i}", "org": "acme", "channel": channel,
                                    "purpose": "collection", "to": to, "subject": "L1", "at": at}))


def test_invalid_number_is_a_deny_not_a_crash(world: World) -> None:
    for raw in ("12345", "not-a-number", "+999 1234", "١٢٣"):
        decision = world.attempt("2026-11-23T10:00:00+08:00", to=raw)
        assert decision.verdict == "deny"
        assert codes(decision) == ["INVALID_NUMBER"]
        assert decision.to == raw


def test_batch_matches_one_by_one(world: World) -> None:
    world.account(dpd=10)
    attempts = [_attempt(i) for i in range(8)] + [_attempt(99, to="12345")]
    batch = world.gateway.decide_many(attempts)
    other = World()
    other.account(dpd=10)
    single = [other.gateway.decide(a) for a in attempts]
    assert [d.verdict for d in batch] == [d.verdict for d in single]
    assert [d.verdict for d in batch].count("allow") == 6
    assert batch[-1].reasons[0].code == "INVALID_NUMBER"


def test_allowed_attempt_counts_as_a_contact_only_when_allowed(world: World) -> None:
    world.account(dpd=10)
    assert world.gateway.decide(_attempt(1, at="2026-11-23T23:00:00+08:00")).verdict == "defer"
    with world.gateway.store.read() as db:
        assert db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0
    assert world.gateway.decide(_attempt(2)).verdict == "allow"
    with world.gateway.store.read() as db:
        assert db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 1


def test_verification_code_only_for_allowed_sms(world: World) -> None:
    world.account(dpd=10)
    call = world.gateway.decide(_attempt(1))
    sms = world.gateway.decide(_attempt(2, channel="sms"))
    assert call.verdict == sms.verdict == "allow"
    assert call.verification_code is None
    assert sms.verification_code is not None


def test_same_stream_same_answers_with_same_secret() -> None:
    def run() -> list:
        world = World()
        world.consent()
        world.account(dpd=10)
        out = [world.attempt(f"2026-11-2{d}T1{h}:00:00+08:00") for d in range(3, 6) for h in range(3)]
        out += [world.collect(f"2026-11-23T{h:02d}:30:00+08:00") for h in range(6, 23)]
        return [(d.verdict, d.retry_at, codes(d), d.verification_code) for d in out]

    assert run() == run()


def test_store_secret_persists_in_the_store(tmp_path) -> None:
    db = str(tmp_path / "rg.db")
    first = Gateway(SQLiteStore(db))
    secret = first._secret
    first.store.close()
    assert Gateway(SQLiteStore(db))._secret == secret
    assert Gateway(SQLiteStore(str(tmp_path / "other.db")))._secret != secret


def test_bad_state_event_keeps_stored_data(world: World) -> None:
    world.consent()
    with pytest.raises(InvalidNumber):
        world.send(type="opt_out", to="not a number", at="2026-11-22T10:00:00+08:00")
    assert world.attempt("2026-11-23T10:00:00+08:00", to=PROSPECT).verdict == "allow"


def test_a_lone_surrogate_is_a_clear_value_error_and_records_nothing(world: World) -> None:
    """A library caller's str with a lone surrogate (the API and replay refuse it at decode) has
    no UTF-8 form for the ledger: decide, decide_many and handle raise a ValueError naming the
    problem (was UnicodeEncodeError from the encoder), and nothing is recorded; the content
    review itself reads the surrogate as U+FFFD (docs/content.md)."""
    import msgspec

    world.consent()
    event = decode_event(json.dumps({"type": "attempt", "id": "s1", "org": "acme", "channel": "sms", "purpose": "marketing",
                                     "to": PROSPECT, "content": "hello", "at": "2026-11-23T10:00:00+08:00"}).encode())
    odd = msgspec.structs.replace(event, content="hello \ud800 回T退订")
    store = world.gateway.store
    before = list(store.ledger_entries("acme"))
    with pytest.raises(ValueError, match="lone surrogate") as caught:
        world.gateway.decide(odd)
    assert not isinstance(caught.value, UnicodeError)
    with pytest.raises(ValueError, match="lone surrogate"):
        world.gateway.decide_many([event, odd])
    consent = decode_event(json.dumps({"type": "consent", "org": "acme", "to": PROSPECT, "purpose": "marketing",
                                       "at": "2026-11-01T10:00:00+08:00"}).encode())
    with pytest.raises(ValueError, match="lone surrogate"):
        world.gateway.handle(msgspec.structs.replace(consent, evidence="x\udcff"))
    assert list(store.ledger_entries("acme")) == before
    report = decode_event(json.dumps({"type": "report", "to": PROSPECT, "label": "fraud", "reporter": "r-1",
                                      "at": "2026-11-01T10:00:00+08:00", "text": "ok"}).encode())
    with pytest.raises(ValueError, match="lone surrogate") as caught:
        world.gateway.handle(msgspec.structs.replace(report, text="bad \ud800"))
    assert not isinstance(caught.value, UnicodeError)
    assert store.report_aggregates([PROSPECT]) == {}  # the report was not recorded
    ok = msgspec.structs.replace(event, content=None)
    assert world.gateway.decide(ok).verdict == "allow"  # no contact was counted by the failed ones


def test_events_of_one_transaction_keep_their_order(world: World) -> None:
    """A consent and its withdrawal at the same time, applied in one transaction (an import's or
    a replay's chunk): the withdrawal, sent second, wins on every store, and the ledger lists
    both in the order sent. PostgreSQL used to run the transaction's inserts, merged into one
    statement, last first: the withdrawal got the lower seq and the SMS was allowed."""
    store = world.gateway.store
    before = len(list(store.ledger_entries("acme")))
    with store.transaction():
        world.consent(at="2026-11-23T10:00:00+08:00")
        world.send(type="consent_withdrawn", org="acme", to=PROSPECT, at="2026-11-23T10:00:00+08:00")
    decision = world.attempt("2026-11-23T11:00:00+08:00")
    assert decision.verdict == "deny" and codes(decision) == ["CONSENT_WITHDRAWN"]
    kinds = [entry.kind for entry in list(store.ledger_entries("acme"))[before:]]
    assert kinds == ["consent", "consent_withdrawn", "decision"]


def test_a_nul_in_a_number_is_invalid_number_on_every_store(world: World) -> None:
    """PostgreSQL cannot store NUL: an attempt to "1069\\u0000" was a 503 there (the whole batch
    with it) and a deny on SQLite. The ledger's number column is empty for an unusable number;
    the entry's body keeps `to` as sent. An inbound SMS to such a port is refused alike."""
    good = decode_event(json.dumps({"type": "attempt", "org": "acme", "channel": "sms", "purpose": "service",
                                    "to": PROSPECT, "at": "2026-11-23T10:00:00+08:00"}).encode())
    bad = decode_event(json.dumps({"type": "attempt", "org": "acme", "channel": "sms", "purpose": "service",
                                   "to": "1069\u0000", "at": "2026-11-23T10:00:00+08:00"}).encode())
    assert codes(world.gateway.decide(bad)) == ["INVALID_NUMBER"]
    assert [d.verdict for d in world.gateway.decide_many([good, bad, good])] == ["allow", "deny", "allow"]
    entries = list(world.gateway.store.ledger_entries("acme"))
    assert [e.number for e in entries] == [None, PROSPECT, None, PROSPECT]
    assert json.loads(entries[0].body)["attempt"]["to"] == "1069\u0000"
    with pytest.raises(InvalidNumber):
        world.send(type="inbound_sms", **{"from": PROSPECT}, to="1069\u0000", text="T", at="2026-11-23T10:00:00+08:00")
