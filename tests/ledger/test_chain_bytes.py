"""A decision's ledger body: the same canonical bytes as encoding the attempt's and decision's dicts.

The engine hands the structs to the canonical encoder directly (no `to_builtins` dicts); entries
written before that change must keep verifying, so the bytes may not move.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from reachguard.engine import Gateway
from reachguard.events import EventError, decode_event
from reachguard.ledger.chain import canonical
from reachguard.ledger.verify import verify_chain
from reachguard.model import Attempt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "events.jsonl"


def _events() -> list:
    events = []
    for line in EXAMPLES.read_bytes().splitlines():
        try:
            events.append(decode_event(line))
        except EventError:
            continue
    return events


def test_decision_bodies_are_the_canonical_dicts() -> None:
    gateway = Gateway(secret=b"k" * 32)
    asked: list[tuple[Attempt, object]] = []
    events = _events()
    attempts = [e for e in events if isinstance(e, Attempt)]
    assert len(attempts) >= 10 and any(a.content for a in attempts)
    for event in events:
        if isinstance(event, Attempt):
            asked.append((event, gateway.decide(event)))
        else:
            gateway.apply(event)
    asked.extend(zip(attempts, gateway.decide_many(attempts)))  # the batch path too
    stored = [e for org in gateway.store.ledger_orgs() for e in gateway.store.ledger_entries(org) if e.kind == "decision"]
    expected = {canonical({"attempt": msgspec.to_builtins(a), "decision": msgspec.to_builtins(d)}).decode() for a, d in asked}
    assert {e.body for e in stored} == expected
    assert any(d.findings for _, d in asked) and any(d.retry_at for _, d in asked)  # nested structs, datetimes
    for org in gateway.store.ledger_orgs():
        checked, broken = verify_chain(gateway.store.ledger_entries(org))
        assert checked > 0 and broken is None
