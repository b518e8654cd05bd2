"""The engine's fast paths against its plain path: same decisions, same ledger, on random worlds.

Two gateways on two fresh stores get the same random stream (consents, withdrawals, opt-outs,
complaints, lists, accounts, outcomes, attempts of every purpose, channel and relation, single
and in batches, at every hour); one judges with rule kernels (rules/kernel.py), the other calls
every rule of the purpose (`Gateway.kernels = False`). Every decision (verdict, reasons with
messages and citations, retry time, code) and every ledger entry hash must be equal. The
policies include overrides that make rules inert (no cooldown, no consent needed, quiet hours
for one channel, a cap of 0, caps per debt, zones of the recipient).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.model import Attempt
from reachguard.policy import PolicyBook, _profile_data
from reachguard.rules import kernel as kernel_module
from reachguard.store import SQLiteStore

ORGS = ("acme", "beta")
CN = [f"+86138{i:08d}" for i in range(12)]
US = ["+12125550100", "+13105550101", "+17735550102", "+12065550103"]
NUMBERS = CN + US
BASE = datetime(2026, 11, 20, 0, 0, tzinfo=timezone(timedelta(hours=8)))

_OVERRIDES = {
    "marketing": {"caps": [{"name": "never on push", "days": 3, "max": 0, "channels": ["push"]},
                           {"name": "two a day", "days": 1, "max": 2}],
                  "quiet_hours": {"start": "20:00", "end": "10:00", "channels": ["call"]}},
    "collection": {"cooldown": {"hours": 0}, "caps": [{"name": "per debt", "per": "subject", "days": 2, "max": 2}],
                   "stop_lists": ["national"]},
    "service": {"quiet_hours": {"start": "23:00", "end": "07:00", "channels": ["sms"]},
                "caps": [{"name": "calls", "days": 1, "max": 1, "channels": ["call"]}]},
    "orgs": {"beta": {"marketing": {"requires_consent": False, "complaint_opts_out": False},
                      "collection": {"third_party": {"require_authorized": False, "unreachable_min_calls": 1,
                                                     "unreachable_min_days": 1}}}},
}


def _book(name: str) -> PolicyBook:
    if name == "custom":
        data = dict(_OVERRIDES)
        orgs = data.pop("orgs")
        base = {**_profile_data("cn"), **{k: {**_profile_data("cn")[k], **v} for k, v in data.items()}}
        return PolicyBook(base, orgs)
    return PolicyBook.profile(name)


def _time(rng: random.Random, day_span: int = 6) -> str:
    moment = BASE + timedelta(days=rng.randrange(day_span), hours=rng.randrange(24), minutes=rng.choice((0, 1, 30, 59)))
    return moment.isoformat()


def stream(seed: int, count: int) -> list[list]:
    """Random events in time order, attempts grouped: [event] or [attempt, attempt, …] (a batch)."""
    rng = random.Random(seed)
    accounts: dict[tuple[str, str], str] = {}
    out: list[list] = []
    for _ in range(count):
        org, to, at = rng.choice(ORGS), rng.choice(NUMBERS), _time(rng)
        roll = rng.random()
        channels = rng.choice((None, ["sms"], ["call"], ["sms", "call", "push"]))
        if roll < 0.10:
            event = {"type": "consent", "org": org, "to": to, "purpose": "marketing", "at": at, "channels": channels}
            if rng.random() < 0.3:
                event["expires_at"] = _time(rng)
            out.append([event])
        elif roll < 0.13:
            out.append([{"type": "consent_withdrawn", "org": org, "to": to, "at": at, "channels": channels}])
        elif roll < 0.17:
            out.append([{"type": "opt_out", "to": to, "at": at, "org": rng.choice((org, None)), "channels": channels}])
        elif roll < 0.19:
            out.append([{"type": "complaint", "to": to, "at": at, "org": rng.choice((org, None))}])
        elif roll < 0.22:
            out.append([{"type": "dnc", "list": rng.choice(("national", "complaints", org, f"org:{org}", "other")),
                         "to": to, "at": at, "remove": rng.random() < 0.2}])
        elif roll < 0.27:
            subject = f"L{rng.randrange(4)}"
            accounts[(org, subject)] = to
            contacts = [{"to": c, "authorized": rng.random() < 0.6} for c in rng.sample(NUMBERS, rng.randrange(3))]
            out.append([{"type": "account", "org": org, "subject": subject, "borrower": to, "at": at,
                         "days_past_due": rng.choice((0, 1, 3, 4, 30)), "contacts": contacts}])
        elif roll < 0.35:
            out.append([{"type": "outcome", "org": org, "to": to, "at": at, "subject": rng.choice((None, "L0", "L1", "L2")),
                         "result": rng.choice(("conversation", "no_answer", "voicemail", "wrong_number", "refused"))}])
        else:
            batch = [_attempt(rng, accounts, i) for i in range(rng.choice((1, 1, 2, 7, 25)))]
            out.append(batch)
    return out


def _attempt(rng: random.Random, accounts: dict, i: int) -> dict:
    org = rng.choice(ORGS)
    purpose = rng.choice(("marketing", "marketing", "collection", "collection", "service"))
    event = {"type": "attempt", "org": org, "channel": rng.choice(("sms", "sms", "call", "robocall", "push")),
             "purpose": purpose, "to": rng.choice(NUMBERS), "at": _time(rng), "id": f"a{i}"}
    if purpose == "collection":
        owned = [s for (o, s) in accounts if o == org]
        if owned and rng.random() < 0.8:
            subject = rng.choice(owned)
            event["subject"] = subject
            if rng.random() < 0.5:
                event["to"] = accounts[(org, subject)]
        elif rng.random() < 0.5:
            event["subject"] = "L9"
        event["relation"] = rng.choice((None, None, "borrower", "contact", "guarantor", "prospect"))
    elif rng.random() < 0.1:
        event["relation"] = rng.choice(("borrower", "prospect", "contact"))
    if rng.random() < 0.05:
        event["to"] = "not a number"
    if rng.random() < 0.05:
        event["content"] = rng.choice(("【某某金融】您的账单已出，回T退订", "Pay now or we will tell your employer."))
    return event


def run(gateway: Gateway, events: list[list]) -> tuple[list[dict], dict[str, list[str]]]:
    """Feed the stream; the decisions as builtins and each org's chain of entry hashes."""
    decisions = []
    for group in events:
        items = [decode_event(json.dumps(e, ensure_ascii=False)) for e in group]
        if isinstance(items[0], Attempt):
            if len(items) == 1 and random.Random(len(decisions)).random() < 0.5:
                decisions.append(gateway.decide(items[0]))
            else:
                decisions.extend(gateway.decide_many(items))
        else:
            gateway.apply(items[0])
    store = gateway.store
    chains = {org: [e.entry_hash for e in store.ledger_entries(org)] for org in store.ledger_orgs()}
    return [msgspec.to_builtins(d) for d in decisions], chains


def both(profile: str, seed: int, count: int) -> tuple[tuple, tuple]:
    fast = Gateway(SQLiteStore(":memory:"), _book(profile), secret=b"differential")
    plain = Gateway(SQLiteStore(":memory:"), _book(profile), secret=b"differential")
    plain.kernels = False
    events = stream(seed, count)
    return run(fast, events), run(plain, events)


@pytest.mark.parametrize("profile", ["cn", "us", "custom"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernels_decide_as_every_rule(profile: str, seed: int) -> None:
    (fast_decisions, fast_chains), (plain_decisions, plain_chains) = both(profile, seed, 500)
    assert len(fast_decisions) == len(plain_decisions) > 1000
    for index, (a, b) in enumerate(zip(fast_decisions, plain_decisions)):
        assert a == b, f"decision {index} differs"
    assert fast_chains == plain_chains


def test_the_worlds_reach_every_verdict_and_rule() -> None:
    """The streams are rich enough to mean something: every verdict and every rule's reason."""
    seen: Counter = Counter()
    for profile in ("cn", "us", "custom"):
        decisions, _ = both(profile, 1, 500)[0]
        for d in decisions:
            seen[d["verdict"]] += 1
            seen.update(r["code"] for r in d["reasons"])
    expected = {"allow", "deny", "defer", "NO_CONSENT", "CONSENT_WITHDRAWN", "CONSENT_EXPIRED", "OPTED_OUT", "ON_DNC_LIST",
                "UNKNOWN_SUBJECT", "STAGE_NOT_ALLOWED", "WRONG_NUMBER", "COOLDOWN", "THIRD_PARTY_NOT_AUTHORIZED",
                "QUIET_HOURS", "FREQUENCY_CAP", "INVALID_NUMBER", "CONTENT_VIOLATION"}
    assert expected <= set(seen), expected - set(seen)


@pytest.mark.parametrize("rule_name, promise", [("consent", "passes_blank"), ("frequency", "passes_blank"),
                                                ("known_subject", "passes_blank"), ("quiet_hours", "inert"),
                                                ("cooldown", "inert"), ("opt_out", "inert")])
def test_a_false_promise_is_caught(monkeypatch: pytest.MonkeyPatch, rule_name: str, promise: str) -> None:
    """The comparison can fail: a rule that claims to pass on a blank state, or never to fire, when it does."""
    import reachguard.rules as rules_package

    lie = (lambda policy, purpose: True) if promise == "passes_blank" else (lambda policy, purpose, channel: True)

    def lying(purpose: str):
        return tuple(dataclasses.replace(r, **{promise: lie}) if r.name == rule_name else r
                     for r in rules_package.rules_for(purpose))

    monkeypatch.setattr(kernel_module, "rules_for", lying)
    monkeypatch.setattr(kernel_module, "_KERNELS", {})
    (fast_decisions, _), (plain_decisions, _) = both("us" if rule_name == "cooldown" else "custom", 1, 300)
    assert fast_decisions != plain_decisions
