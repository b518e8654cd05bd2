"""Reputation arithmetic: decay, one reporter one vote, abuse damping, tenure, verified numbers,
appeals, traffic signals, privacy. Pure `score` where exact numbers matter, ingest otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from reachguard import reputation
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.keying import SecretError, reporter_hash, reporter_key
from reachguard.reputation.votes import LABEL_INDEX
from reachguard.store import SQLiteStore

CN = timezone(timedelta(hours=8))
T0 = datetime(2026, 6, 1, 10, 0, tzinfo=CN)
DAY = 86_400.0
NUMBER = "+8613800138000"
P = ReputationPolicy()


def veteran(h: bytes, at: float) -> tuple:
    """A reporter row: first report 60 days before `at`, no bursts, no disagreements."""
    return (h, at - 60 * DAY, at, 3, 1.0, at, 1.0, 0, 0)


def fraud_weight(rep: reputation.Reputation, label: str = "fraud") -> float:
    return next((s.weight for s in rep.scores if s.label == label), 0.0)


# --- decay --------------------------------------------------------------------------------------


@pytest.mark.parametrize("days, expected", [(0, 1.0), (90, 0.5), (180, 0.25), (45, 2 ** -0.5)])
def test_decay_halves_every_half_life(days: float, expected: float) -> None:
    h = b"a" * 16
    t = T0.timestamp()
    rep = reputation.score(NUMBER, {h: (LABEL_INDEX["fraud"], t)}, 1, {h: veteran(h, t)}, t + days * DAY, CN, P)
    assert fraud_weight(rep) == pytest.approx(expected, rel=1e-5)
    assert rep.confidence == pytest.approx(expected / (expected + P.evidence_prior), rel=1e-5)


def test_half_life_comes_from_the_policy_and_future_reports_do_not_count() -> None:
    h = b"a" * 16
    t = T0.timestamp()
    fast = ReputationPolicy(half_life_days=30)
    rep = reputation.score(NUMBER, {h: (LABEL_INDEX["fraud"], t)}, 1, {h: veteran(h, t)}, t + 30 * DAY, CN, fast)
    assert fraud_weight(rep) == pytest.approx(0.5, rel=1e-5)
    assert {p.name: p.value for p in rep.model}["half_life_days"] == 30
    early = reputation.score(NUMBER, {h: (LABEL_INDEX["fraud"], t)}, 1, {h: veteran(h, t)}, t - 1, CN, P)
    assert early.label is None and early.reporters == 0 and early.confidence == 0


# --- one reporter, one vote ---------------------------------------------------------------------


def test_one_reporter_counts_once_with_their_latest_label() -> None:
    store = SQLiteStore(":memory:")
    for i in range(5):
        reputation.record_report(store, NUMBER, "fraud", "same-person", T0 + timedelta(minutes=i))
    reputation.record_report(store, NUMBER, "collection", "same-person", T0 + timedelta(minutes=10))
    reputation.record_report(store, NUMBER, "harassment", "same-person", T0 + timedelta(minutes=5))  # older: ignored
    rep = reputation.lookup(store, NUMBER, T0 + timedelta(days=1))
    assert (rep.reporters, rep.reports) == (1, 7)
    assert rep.label == "collection" and [s.label for s in rep.scores] == ["collection"]

    crowd = SQLiteStore(":memory:")
    for i in range(5):
        reputation.record_report(crowd, NUMBER, "fraud", f"person-{i}", T0 + timedelta(minutes=i))
    many = reputation.lookup(crowd, NUMBER, T0 + timedelta(days=1))
    assert many.reporters == 5 and many.confidence > rep.confidence


# --- abuse damping ------------------------------------------------------------------------------


def _weight_of(store: SQLiteStore, number: str, label: str, at: datetime) -> float:
    return fraud_weight(reputation.lookup(store, number, at), label)


def test_burst_reporter_weighs_less() -> None:
    store = SQLiteStore(":memory:")
    for i in range(60):  # 60 reports in 10 minutes
        reputation.record_report(store, f"+86139{i:08d}", "fraud", "script", T0 + timedelta(seconds=10 * i))
    reputation.record_report(store, "+8613700137000", "fraud", "script", T0 + timedelta(minutes=11))
    reputation.record_report(store, "+8613600136000", "fraud", "calm", T0 + timedelta(minutes=11))
    at = T0 + timedelta(minutes=12)
    script, calm = _weight_of(store, "+8613700137000", "fraud", at), _weight_of(store, "+8613600136000", "fraud", at)
    assert calm == pytest.approx(0.5, rel=1e-3)  # brand new, no damping
    assert script < calm * P.burst_allowance / 50  # peak over 50 → at most allowance/peak of the weight


def test_contrarian_reporter_weighs_less() -> None:
    store = SQLiteStore(":memory:")
    for n in range(5):
        number = f"+86139{n:08d}"
        for crowd in range(3):
            reputation.record_report(store, number, "collection", f"crowd-{n}-{crowd}", T0)
        reputation.record_report(store, number, "fraud", "contrarian", T0 + timedelta(hours=1))
        reputation.record_report(store, number, "collection", "agreeable", T0 + timedelta(hours=1))
    reputation.record_report(store, "+8613700137000", "fraud", "contrarian", T0 + timedelta(hours=2))
    reputation.record_report(store, "+8613600136000", "fraud", "agreeable", T0 + timedelta(hours=2))
    at = T0 + timedelta(hours=3)
    contrarian = _weight_of(store, "+8613700137000", "fraud", at)
    agreeable = _weight_of(store, "+8613600136000", "fraud", at)
    assert contrarian == pytest.approx(agreeable * 2 / (5 + 2), rel=1e-3)  # (0 + prior) / (0 + 5 + prior)
    rows = store.reporters([reporter_hash(reporter_key(store), "contrarian"), reporter_hash(reporter_key(store), "agreeable")])
    assert sorted((r[7], r[8]) for r in rows.values()) == [(0, 5), (5, 0)]


def test_contrarian_floor() -> None:
    h = b"c" * 16
    t = T0.timestamp()
    row = (h, t - 60 * DAY, t, 100, 1.0, t, 1.0, 0, 1000)
    rep = reputation.score(NUMBER, {h: (LABEL_INDEX["fraud"], t)}, 1, {h: row}, t, CN, P)
    assert fraud_weight(rep) == pytest.approx(P.contrarian_floor)


def test_new_reporter_weighs_less_than_established() -> None:
    store = SQLiteStore(":memory:")
    reputation.record_report(store, "+8613900139000", "other", "old-hand", T0 - timedelta(days=60))
    reputation.record_report(store, "+8613700137000", "fraud", "old-hand", T0)
    reputation.record_report(store, "+8613600136000", "fraud", "newcomer", T0)
    old = _weight_of(store, "+8613700137000", "fraud", T0)
    new = _weight_of(store, "+8613600136000", "fraud", T0)
    assert old == pytest.approx(1.0) and new == pytest.approx(P.new_reporter_weight)
    halfway = _weight_of(store, "+8613600136000", "fraud", T0 + timedelta(days=15))  # tenure ramps over 30 days
    assert halfway == pytest.approx((0.5 + 0.5 * 0.5) * 0.5 ** (15 / 90), rel=1e-4)


# --- owners, appeals, traffic -------------------------------------------------------------------


def test_verified_number_shows_its_org_and_reports_still_count() -> None:
    store = SQLiteStore(":memory:")
    for i in range(4):
        reputation.record_report(store, NUMBER, "harassment", f"p{i}", T0)
    reputation.register_sender_number(store, "138-0013-8000", "xinghe")
    rep = reputation.lookup(store, NUMBER, T0 + timedelta(days=1))
    assert rep.owner is not None and rep.owner.org == "xinghe"
    assert rep.owner.verified and rep.label == "harassment" and rep.reporters == 4
    assert reputation.unregister_sender_number(store, NUMBER, "acme") is False
    assert reputation.unregister_sender_number(store, NUMBER, "xinghe") is True
    assert reputation.lookup(store, NUMBER, T0).owner is None


def test_appeals_are_recorded_never_delete_reports() -> None:
    store = SQLiteStore(":memory:")
    reputation.record_report(store, NUMBER, "fraud", "p1", T0)
    reputation.register_sender_number(store, NUMBER, "xinghe")
    before = reputation.lookup(store, NUMBER, T0 + timedelta(days=1))
    first = reputation.appeal(store, NUMBER, "xinghe", "our licensed customer line", label="fraud", at=T0)
    second = reputation.appeal(store, NUMBER, "xinghe", "again, with licence no. 123", at=T0 + timedelta(hours=1))
    after = reputation.lookup(store, NUMBER, T0 + timedelta(days=1))
    assert [(a.id, a.label, a.status) for a in after.appeals] == [(first, "fraud", "recorded"), (second, None, "recorded")]
    assert (after.label, after.reports, after.confidence) == (before.label, before.reports, before.confidence)
    for bad, code in ((dict(org="acme"), "NOT_OWNER"), (dict(label="spam"), "INVALID_FIELD"), (dict(reason=" "), "INVALID_FIELD")):
        args = dict(org="xinghe", reason="x") | bad
        with pytest.raises(reputation.OwnerError) as error:
            reputation.appeal(store, NUMBER, args["org"], args["reason"], label=args.get("label"))
        assert error.value.code == code
    with pytest.raises(reputation.InvalidNumber):
        reputation.appeal(store, "12", "xinghe", "x")


def test_owner_traffic_is_folded_in_with_weights_shown() -> None:
    from worldkit import World

    world = World()
    store = world.gateway.store
    policy = ReputationPolicy(traffic_min_contacts=2, traffic_cache_seconds=0)
    reputation.register_sender_number(store, "+8613500135000", "acme")
    for i in range(4):
        to = f"+86139{i:08d}"
        world.consent(to=to)
        world.attempt("2026-11-02T10:00:00+08:00", to=to)
    world.send(type="complaint", to="+8613900000000", org="acme", at="2026-11-02T12:00:00+08:00")
    world.attempt("2026-11-02T13:00:00+08:00", to="+8613900000000")  # denied: complained
    rep = reputation.lookup(store, "+8613500135000", datetime(2026, 11, 3, tzinfo=CN), policy=policy)
    signals = {s.name: s for s in rep.signals}
    assert signals["complaint_rate"].value == pytest.approx(0.25)
    assert signals["complaint_rate"].contribution == pytest.approx(policy.complaint_rate_weight)  # over its reference
    assert signals["opt_out_rate"].value == 0 and signals["opt_out_rate"].contribution == 0
    assert signals["denied_share"].value == pytest.approx(0.2)
    assert signals["denied_share"].contribution == pytest.approx(policy.denied_share_weight * 0.2 / 0.3, rel=1e-4)
    expected = policy.complaint_rate_weight + policy.denied_share_weight * 0.2 / 0.3
    assert rep.label == "harassment" and fraud_weight(rep, "harassment") == pytest.approx(expected, rel=1e-4)
    quiet = reputation.lookup(store, "+8613500135000", datetime(2026, 11, 3, tzinfo=CN))  # default minimum: 50 contacts
    assert all(s.value is None and s.contribution == 0 for s in quiet.signals) and quiet.label is None


# --- privacy and inputs -------------------------------------------------------------------------


def test_lookup_carries_no_reporter_id_hash_or_text() -> None:
    store = SQLiteStore(":memory:")
    reputation.record_report(store, NUMBER, "fraud", "13912345678", T0, text="可疑短信原文ABC")
    encoded = msgspec.json.encode(reputation.lookup(store, NUMBER, T0)).decode()
    h = reporter_hash(reporter_key(store), "13912345678")
    for secret in ("13912345678", "可疑短信原文ABC", h.hex()):
        assert secret not in encoded
    with store.read() as db:
        stored = db.execute("SELECT reporter, text FROM reports").fetchall()
    assert stored == [(h, "可疑短信原文ABC")]


def test_reporter_secret_from_env_file(tmp_path, monkeypatch) -> None:
    secret = tmp_path / "reporter.key"
    secret.write_bytes(b"0123456789abcdef-long-enough")
    monkeypatch.setenv("REACHGUARD_REPORTER_SECRET_FILE", str(secret))
    store = SQLiteStore(":memory:")
    assert reporter_key(store) == b"0123456789abcdef-long-enough" and store.get_meta("reporter_secret") is None
    secret.write_bytes(b"short")
    with pytest.raises(SecretError):
        reporter_key(SQLiteStore(":memory:"))


@pytest.mark.parametrize("field, value, code", [
    ("label", "spam", "INVALID_FIELD"), ("reporter", "", "INVALID_FIELD"), ("text", "x" * 10_001, "INVALID_FIELD"),
    ("at", "2026-11-01T10:00:00", "TIME_WITHOUT_OFFSET"), ("at", "yesterday", "INVALID_TIME"),
])
def test_bad_reports_are_refused_and_store_nothing(field: str, value: str, code: str) -> None:
    store = SQLiteStore(":memory:")
    args = dict(to=NUMBER, label="fraud", reporter="p1", at=T0.isoformat(), text=None) | {field: value}
    with pytest.raises(reputation.EventError) as error:
        reputation.record_report(store, **args)
    assert error.value.code == code
    with pytest.raises(reputation.InvalidNumber):
        reputation.record_report(store, "12", "fraud", "p1", T0)
    assert reputation.lookup(store, NUMBER, T0).reports == 0
