"""`scrub` and `decide` agree row by row on a list that touches every kind of state.

The store holds consents (present, expired, withdrawn, other channel, other org, renewed after
an opt-out), opt-outs (every org, this org, another org, complaints), own and global lists,
cap-filling contacts (today, this month, after --at), accounts at several stages with
authorised and unauthorised contacts, wrong-number and conversation outcomes. The list spells
numbers every which way and has invalid, duplicate and bad-field rows. For every row the
expected answer is what `Gateway.decide` says on a fresh copy of the same store (so one row's
allowed contact cannot influence another), compared as sets of reason codes.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from reachguard.engine import Gateway
from reachguard.ledger.verify import verify_chain
from reachguard.events import EventError, decode_event
from reachguard.numbers import try_normalize
from reachguard.policy import PolicyBook
from reachguard.scrub import run_scrub
from reachguard.store import SQLiteStore
from worldkit import World

DAYS = "2026-11-{:02d}T{}+08:00"


def num(i: int) -> str:
    return f"+86138{i:08d}"


def messy(number: str, rng: random.Random) -> str:
    """One of the ways people write a +86 mobile."""
    local = number[3:]
    forms = [local, number, "0086" + local, f"+86 {local[:3]} {local[3:7]} {local[7:]}",
             f"{local[:3]}-{local[3:7]}-{local[7:]}", "".join(chr(ord(c) + 0xFEE0) for c in local), f" {local} ",
             f"(+86) {local[:3]}.{local[3:7]}.{local[7:]}"]
    return rng.choice(forms)


def build_store(path: Path) -> tuple[list[str], list[str]]:
    """Every kind of state in a SQLite file; returns (marketing numbers, collection numbers) worth listing."""
    w = World(store=SQLiteStore(str(path)))
    found = build_state(w)
    w.gateway.store.close()
    return found


def build_state(w: World) -> tuple[list[str], list[str]]:
    """Every kind of state, written by events through `w` (any backend)."""
    send = w.send
    at = lambda day, time="10:00:00": DAYS.format(day, time)  # noqa: E731
    m = [num(i) for i in range(40)]
    for n in m[:24]:
        w.consent(to=n, at=at(1))
    w.consent(to=m[1], at=at(2), expires_at=at(20))                       # expired
    send(type="consent_withdrawn", org="acme", to=m[2], at=at(3))         # withdrawn
    send(type="consent_withdrawn", org="acme", to=m[3], at=at(3), channels=["call"])  # other channel
    w.consent(to=m[31], at=at(1), channels=["call"])                      # consent only for calls
    w.consent(to=m[32], at=at(1), org="other")                            # another org's consent
    send(type="opt_out", to=m[4], at=at(5))                               # every org
    send(type="opt_out", to=m[5], at=at(5), org="acme")
    send(type="opt_out", to=m[6], at=at(5), org="other")                  # another org: no effect
    send(type="opt_out", to=m[7], at=at(5), channels=["call"])            # another channel
    send(type="opt_out", to=m[8], at=at(5))
    w.consent(to=m[8], at=at(6))                                          # consented again after
    send(type="opt_out", to=m[9], at=at(7))                               # consent before: still out
    send(type="complaint", to=m[10], at=at(5), org="acme", text="烦")
    send(type="opt_out", to=m[33], at=at(5))                              # no consent and opted out
    for n, name in ((m[11], "national"), (m[12], "acme"), (m[13], "org:acme"), (m[14], "other"), (m[15], "litigator")):
        send(type="dnc", list=name, to=n, at=at(2))
    send(type="dnc", list="national", to=m[16], at=at(2))
    send(type="dnc", list="national", to=m[16], at=at(3), remove=True)    # removed again
    send(type="dnc", list="national", to=m[17], at=at(2))
    send(type="opt_out", to=m[17], at=at(2))                              # several reasons at once
    # caps: one marketing contact today fills the daily cap; four this month fill the monthly one
    for n, days in ((m[18], [23]), (m[19], [2, 9, 15, 21]), (m[20], [22]), (m[21], [24]), (m[22], [1, 9])):
        for day in days:
            w.attempt(at(day, "10:00:00"), to=n)
    send(type="opt_out", to=m[24], at=at(5))
    w.consent(to=m[24], at=at(5))                                         # same instant: still out
    send(type="opt_out", to=m[25], at=at(5))
    w.consent(to=m[25], at=at(6), expires_at=at(10))                      # after, but expired
    send(type="complaint", to=m[26], at=at(5), org="acme", text="投诉")
    w.consent(to=m[26], at=at(8))                                         # complaint, then consent anew
    send(type="consent_withdrawn", org="acme", to=m[23], at=at(3))
    w.consent(to=m[23], at=at(4), expires_at=at(30))                      # re-consented, still valid
    # collection: accounts at several stages, contacts authorised or not, outcomes
    c = [num(100 + i) for i in range(12)]
    send(type="account", org="acme", subject="L1", borrower=c[0], at=at(1), days_past_due=10,
         contacts=[{"to": c[1], "authorized": True}, {"to": c[2], "authorized": False}])
    send(type="account", org="acme", subject="L2", borrower=c[3], at=at(1), days_past_due=2)
    send(type="account", org="acme", subject="L3", borrower=c[4], at=at(1), days_past_due=0)
    send(type="account", org="acme", subject="L4", borrower=c[5], at=at(1), days_past_due=30,
         contacts=[{"to": c[6], "authorized": True}])
    send(type="outcome", org="acme", to=c[5], subject="L4", result="wrong_number", at=at(4))
    send(type="outcome", org="acme", to=c[0], subject="L1", result="conversation", at=DAYS.format(23, "09:00:00"))
    for time in ("08:30:00", "09:00:00"):  # the collection SMS daily cap is full at 10:00
        w.collect(DAYS.format(23, time), to=c[3], channel="sms", subject="L2")
    send(type="dnc", list="acme", to=c[7], at=at(2))
    send(type="opt_out", to=c[8], at=at(2))
    return m, c


OWN_SUBJECT = {0: "L1", 1: "L1", 2: "L1", 3: "L2", 4: "L3", 5: "L4", 6: "L4"}


def make_list(path: Path, m: list[str], c: list[str], purpose: str, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    relations = ["", "", "", "prospect", "borrower", "contact", "guarantor"]
    subjects = ["L1", "L2", "L3", "L4", "L9", ""]
    pool = m + c + [num(900 + i) for i in range(5)]  # plus numbers the store never heard of
    for index, n in enumerate(pool):
        subject = rng.choice(subjects)
        if n in c and rng.random() < 0.8:  # mostly the debt the number belongs to
            subject = OWN_SUBJECT.get(c.index(n), subject)
        row = {"name": f"客户{index}", "phone": messy(n, rng), "relation": rng.choice(relations),
               "subject": subject if purpose == "collection" else "", "note": "a,b \"q\""}
        rows.append(row)
    for extra in ["garbage", "123", "", "+1 212 555 0134", "010 6552 9988", "1" * 70, "+86 123 4567 8901"]:
        rows.append({"name": "x", "phone": extra, "relation": "", "subject": "L1", "note": ""})
    for n in rng.sample(pool, 8):  # duplicates, written differently
        rows.append({"name": "dup", "phone": messy(n, rng), "relation": "", "subject": "L1", "note": ""})
    rows.append({"name": "bad", "phone": num(950), "relation": "friend", "subject": "", "note": ""})
    rows.append({"name": "bad", "phone": num(950), "relation": "", "subject": "", "note": ""})
    rows.append({"name": "long", "phone": num(951), "relation": "", "subject": "S" * 200, "note": ""})
    rng.shuffle(rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def expected(base: Path, tmp: Path, rows: list[dict[str, str]], purpose: str, channel: str, at: str) -> list[set[str]]:
    """What decide says for each row on a fresh copy of the store (dupes and bad fields aside)."""
    def decide(index: int, event: Any) -> set[str]:
        copy = tmp / f"decide-{index}.db"
        shutil.copy(base, copy)
        store = SQLiteStore(str(copy))
        decision = Gateway(store, PolicyBook.profile("cn")).decide(event)
        store.close()
        copy.unlink()
        return {r.code for r in decision.reasons}

    return expected_with(decide, rows, purpose, channel, at)


def expected_with(decide: Callable[[int, Any], set[str]], rows: list[dict[str, str]], purpose: str, channel: str,
                  at: str) -> list[set[str]]:
    """Each row's expected reason codes: `decide(index, event)` on the stored state alone, except
    duplicates, bad fields and unusable numbers (which a scrub settles before deciding)."""
    seen: set[str] = set()
    answers = []
    for index, row in enumerate(rows):
        attempt: dict[str, Any] = {"type": "attempt", "org": "acme", "channel": channel, "purpose": purpose,
                                   "to": row["phone"], "at": at}
        for key in ("relation", "subject"):
            if row[key].strip():
                attempt[key] = row[key].strip()
        try:
            event = decode_event(json.dumps(attempt, ensure_ascii=False))
        except EventError:
            event = None
        number = try_normalize(row["phone"]) if row["phone"] else None
        if number is not None and event is None:
            answers.append({"INVALID_FIELD"})
            continue
        if number is not None and number in seen:
            answers.append({"DUPLICATE"})
            continue
        if number is not None:
            seen.add(number)
        if event is None:  # an unusable `to` (empty, too long): decide cannot even be asked
            answers.append({"INVALID_NUMBER"})
            continue
        answers.append(decide(index, event))
    return answers


CASES = [
    ("marketing", "sms", "2026-11-23T10:00:00+08:00"),
    ("marketing", "sms", "2026-11-23T22:30:00+08:00"),   # quiet hours
    ("marketing", "call", "2026-11-23T12:00:00+08:00"),
    ("collection", "sms", "2026-11-23T10:00:00+08:00"),
    ("collection", "call", "2026-11-23T23:00:00+08:00"),
    ("service", "sms", "2026-11-23T10:00:00+08:00"),
]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    base = tmp_path_factory.mktemp("scrub-state") / "base.db"
    m, c = build_store(base)
    return base, m, c


@pytest.mark.parametrize("purpose,channel,at", CASES)
def test_scrub_and_decide_agree_row_by_row(state: tuple[Path, list[str], list[str]], tmp_path: Path,
                                          purpose: str, channel: str, at: str) -> None:
    base, m, c = state
    rows = make_list(tmp_path / "list.csv", m, c, purpose, seed=CASES.index((purpose, channel, at)))
    want = expected(base, tmp_path, rows, purpose, channel, at)
    report = run_scrub(tmp_path / "list.csv", store=base, org="acme", purpose=purpose, channel=channel,
                       at=datetime.fromisoformat(at), out=tmp_path / "allowed.csv")
    got, a = scrubbed(tmp_path, rows, want)
    mismatches = [(row["phone"], g, w) for row, g, w in zip(rows, got, want) if g != w]
    assert not mismatches
    assert report.rows == len(rows) and report.allowed == a
    check_coverage(want, purpose, channel, at, a)


def scrubbed(tmp_path: Path, rows: list[dict[str, str]], want: list[set[str]]) -> tuple[list[set[str]], int]:
    """Each row's reason codes as the scrub's two files give them (empty: allowed), and the allowed count."""
    allowed = list(csv.DictReader(open(tmp_path / "allowed.csv", encoding="utf-8")))
    rejected = list(csv.DictReader(open(tmp_path / "allowed.rejected.csv", encoding="utf-8")))
    # Both files keep input order; walk the input and take each row from the file it went to.
    got: list[set[str]] = []
    a = r = 0
    for row, codes in zip(rows, want):
        if not codes:
            assert a < len(allowed) and allowed[a] == row, f"row {row} should be allowed"
            got.append(set())
            a += 1
        else:
            assert r < len(rejected), f"row {row} missing from the rejected file"
            out = dict(rejected[r])
            reasons = out.pop("reasons")
            assert out == row
            got.append(set(reasons.split(";")))
            r += 1
    assert (a, r) == (len(allowed), len(rejected))
    return got, a


def check_coverage(want: list[set[str]], purpose: str, channel: str, at: str, a: int) -> None:
    """The list really exercised the reasons each case is meant to (so agreement means something)."""
    kinds = set().union(*want)
    assert {"INVALID_NUMBER", "DUPLICATE", "INVALID_FIELD"} <= kinds
    if purpose == "marketing" and channel == "sms" and at.endswith("10:00:00+08:00"):
        assert {"NO_CONSENT", "CONSENT_EXPIRED", "CONSENT_WITHDRAWN", "OPTED_OUT", "ON_DNC_LIST", "FREQUENCY_CAP"} <= kinds
        assert a > 5
    if "22:30" in at:
        assert "QUIET_HOURS" in kinds
    if purpose == "collection" and channel == "call":
        assert {"STAGE_NOT_ALLOWED", "THIRD_PARTY_NOT_AUTHORIZED", "WRONG_NUMBER", "UNKNOWN_SUBJECT", "QUIET_HOURS"} <= kinds


def contacts_of(path: Path) -> list[tuple]:
    store = SQLiteStore(str(path))
    with store.read() as db:
        rows = db.execute("SELECT org, number, channel, purpose, relation, subject, at, code FROM contacts").fetchall()
    store.close()
    return sorted(rows, key=repr)


@pytest.mark.parametrize("purpose,channel", [("marketing", "sms"), ("collection", "sms")])
def test_reserve_records_what_sequential_decides_record(state: tuple[Path, list[str], list[str]], tmp_path: Path,
                                                       purpose: str, channel: str) -> None:
    base, m, c = state
    at = "2026-11-23T10:00:00+08:00"
    rows = make_list(tmp_path / "list.csv", m, c, purpose, seed=7)
    scrub_db, decide_db = tmp_path / "scrub.db", tmp_path / "decide.db"
    shutil.copy(base, scrub_db)
    shutil.copy(base, decide_db)
    for db in (scrub_db, decide_db):  # the same verification secret, so the same codes
        store = SQLiteStore(str(db))
        store.set_meta("verification_secret", "ab" * 32)
        store.close()
    report = run_scrub(tmp_path / "list.csv", store=scrub_db, org="acme", purpose=purpose, channel=channel,
                       at=datetime.fromisoformat(at), out=tmp_path / "allowed.csv", reserve=True)
    gateway = Gateway(SQLiteStore(str(decide_db)), PolicyBook.profile("cn"))
    allowed = 0
    seen: set[str] = set()
    for row in rows:
        attempt: dict[str, Any] = {"type": "attempt", "org": "acme", "channel": channel, "purpose": purpose,
                                   "to": row["phone"], "at": at}
        attempt.update({k: row[k].strip() for k in ("relation", "subject") if row[k].strip()})
        number = try_normalize(row["phone"]) if row["phone"] else None
        try:
            event = decode_event(json.dumps(attempt, ensure_ascii=False))
        except EventError:
            continue
        if number is None or number in seen:
            continue
        seen.add(number)
        allowed += gateway.decide(event).verdict == "allow"
    gateway.store.close()
    assert report.allowed == allowed == report.reserved > 0
    assert contacts_of(scrub_db) == contacts_of(decide_db)
    store = SQLiteStore(str(scrub_db))
    entries = list(store.ledger_entries("acme"))
    store.close()
    assert verify_chain(entries)[1] is None
    summary = [json.loads(e.body) for e in entries if e.kind == "scrub_reserve"]
    assert len(summary) == 1 and summary[0]["reserved"] == allowed and summary[0]["purpose"] == purpose
    if purpose != "marketing":
        return
    # marketing allows one contact a day: a second scrub now finds every reserved row capped
    again = run_scrub(tmp_path / "list.csv", store=scrub_db, org="acme", purpose=purpose, channel=channel,
                      at=datetime.fromisoformat(at), out=tmp_path / "again.csv")
    assert again.allowed == 0 and again.reasons.get("FREQUENCY_CAP", 0) >= allowed


def test_plain_scrub_changes_nothing(state: tuple[Path, list[str], list[str]], tmp_path: Path) -> None:
    base, m, c = state
    db = tmp_path / "copy.db"
    shutil.copy(base, db)
    make_list(tmp_path / "list.csv", m, c, "marketing", seed=3)
    before = contacts_of(db)
    for _ in range(2):
        report = run_scrub(tmp_path / "list.csv", store=db, org="acme", purpose="marketing", channel="sms",
                           at=datetime.fromisoformat("2026-11-23T10:00:00+08:00"), out=tmp_path / "allowed.csv")
    assert report.allowed > 0 and report.reserved == 0
    assert contacts_of(db) == before
