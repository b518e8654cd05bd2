"""The PostgreSQL export (export_pg.py) against the SQLite one, and its snapshot (snapshot_pg.py).

The same state is written by events to a SQLite file and to a PostgreSQL store; for every plan
(marketing and service, SMS and calls, complaint policies, several times) both exports must give
the same sets, row for row (seq aside: each backend numbers its records itself).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from reachguard.policy import PolicyBook
from reachguard.scrub import export_pg
from reachguard.scrub.export import export, plan_for
from reachguard.scrub.redis_windows import RedisWindows, scan_names
from reachguard.scrub.snapshot_pg import open_pg_snapshot, open_pg_state
from reachguard.store import SQLiteStore, StoreUnavailable
from worldkit import World

from test_scrub_agrees import build_state

PLANS = [("marketing", "sms", "2026-11-23T10:00:00+08:00"), ("marketing", "call", "2026-11-23T12:00:00+08:00"),
         ("marketing", "sms", "2026-11-05T10:00:00+08:00"), ("marketing", "sms", "2026-11-02T09:00:00+08:00"),
         ("service", "sms", "2026-11-23T10:00:00+08:00")]


def _rows(tables: dict[str, pa.Table]) -> dict[str, list]:
    out = {}
    for name, table in tables.items():
        rows = [{k: v for k, v in row.items() if k != "seq"} for row in table.to_pylist()]
        out[name] = sorted({repr(sorted(r.items())) for r in rows}) if name == "rg_dnc" else sorted(map(repr, rows))
    return out


@pytest.fixture(scope="module")
def sqlite_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export-pg") / "base.db"
    w = World(store=SQLiteStore(str(path)))
    build_state(w)
    w.gateway.store.close()
    return path


@pytest.mark.parametrize("complaints", [True, False])
def test_postgres_export_equals_sqlite_export(sqlite_state: Path, new_store: Any, complaints: bool) -> None:
    store = new_store("postgres")
    build_state(World(store=store))
    lite = SQLiteStore(str(sqlite_state))
    policy = PolicyBook.profile("cn").for_org("acme")
    policy = policy.model_copy(update={"marketing": policy.marketing.model_copy(update={"complaint_opts_out": complaints})})
    try:
        for purpose, channel, at in PLANS:
            plan = plan_for(policy, "acme", purpose, channel, datetime.fromisoformat(at))
            with lite.read() as db:
                want = _rows(export(db, plan))
            with open_pg_snapshot(store, reserve=False) as (_, snapshot):
                got = _rows(export_pg.export(store.url, store.schema, snapshot, plan))
            assert got == want, (purpose, channel, at)
            assert sum(len(v) for v in got.values()) > 10 or purpose == "service"
    finally:
        lite.close()


def test_snapshot_hides_later_commits(new_store: Any) -> None:
    """A write committed after the scrub's snapshot began is seen neither by the export nor by the engine's view."""
    store = new_store("postgres")
    ts = datetime.fromisoformat(PLANS[0][2]).timestamp()
    store.add_opt_out("+8613800138000", None, 15, ts - 3600, "opt_out", None)
    plan = plan_for(PolicyBook.profile("cn").for_org("acme"), "acme", "marketing", "sms", datetime.fromisoformat(PLANS[0][2]))
    with open_pg_state(store, plan, reserve=False) as (view, tables):
        store.add_opt_out("+8613800138001", None, 15, ts - 60, "opt_out", None)  # committed now, after the snapshot
        store.add_consent("acme", "+8613800138000", 15, ts - 30, None, "form")
        got = tables()
        from reachguard.store import StateQuery
        states = view.load_states([StateQuery("acme", "+8613800138001", "marketing", None, ts - 86400),
                                   StateQuery("acme", "+8613800138000", "marketing", None, ts - 86400)])
    assert got["rg_optout"].column("key").to_pylist() == [8613800138000]
    assert got["rg_consent"].num_rows == 0
    assert states[0].opt_outs == [] and len(states[1].opt_outs) == 1 and states[1].consents == []


def test_export_failure_is_an_error(new_store: Any) -> None:
    store = new_store("postgres")
    plan = plan_for(PolicyBook.profile("cn").for_org("acme"), "acme", "marketing", "sms", datetime.fromisoformat(PLANS[0][2]))
    with pytest.raises(Exception) as caught:
        export_pg.export(store.url, store.schema, "00000003-0000001B-1", plan)  # no such snapshot
    assert "snapshot" in str(caught.value).lower()
    from reachguard.scrub.snapshot_pg import _export
    with pytest.raises(StoreUnavailable, match="reading the PostgreSQL store failed"):
        _export(store, "00000003-0000001B-1", plan)


def test_redis_contacts_merge_with_postgres_ones(new_store: Any) -> None:
    """rg_contact on PostgreSQL + Redis: a contact in both is counted once (same token); a
    contact only Redis holds gets the same flags in Python as PostgreSQL's SQL gives it."""
    import random

    from reachguard.state import ContactRecord

    store = new_store("postgres+redis")
    at = datetime.fromisoformat(PLANS[0][2])
    rng = random.Random(3)
    contacts = []
    for i in range(300):
        when = at.timestamp() + rng.choice([-31, -30, -29.5, -7, -1, -0.4, -0.01, 0, 0.01, 1]) * 86400
        contacts.append((ContactRecord("acme", f"+86138{rng.randint(0, 40):08d}", rng.choice(["sms", "call", "push"]),
                                       rng.choice(["marketing", "service", "collection"]),
                                       rng.choice(["prospect", "borrower", "contact"]), None, when), None, None, None))
    store.record_contacts(contacts)  # to Redis and PostgreSQL (none older than Redis keeps: 40 days)
    from reachguard.policy.schema import Cap

    cn = PolicyBook.profile("cn").for_org("acme")
    narrow = [Cap(name="sms to prospects per week", days=7, max=2, channels=["sms"], relations=["prospect"]),
              Cap(name="calls per 3 days", days=3, max=1, channels=["call", "robocall"])]
    narrowed = cn.model_copy(update={"marketing": cn.marketing.model_copy(update={"caps": list(cn.marketing.caps) + narrow}),
                                     "service": cn.service.model_copy(update={"caps": narrow})})
    for policy, (purpose, channel, when) in [(p, plan) for p in (cn, narrowed) for plan in PLANS]:
        plan = plan_for(policy, "acme", purpose, channel, datetime.fromisoformat(when))
        if "frequency" not in plan.rule_names or not plan.caps:
            continue
        with open_pg_snapshot(store, reserve=False) as (_, snapshot):
            alone = _rows(export_pg.export(store.url, store.schema, snapshot, plan))["rg_contact"]
            both = _rows(export_pg.export(store.url, store.schema, snapshot, plan, RedisWindows.read(store.counters, plan.org, plan.since)))["rg_contact"]
        assert both == alone and len(alone) > 20  # nothing counted twice
        with store.read() as conn:
            conn.execute("CREATE TEMP TABLE kept AS SELECT * FROM contacts")
            conn.execute("DELETE FROM contacts")  # now only Redis has them
        try:
            with open_pg_snapshot(store, reserve=False) as (_, snapshot):
                redis_only = _rows(export_pg.export(store.url, store.schema, snapshot, plan, RedisWindows.read(store.counters, plan.org, plan.since)))["rg_contact"]
        finally:
            with store.read() as conn:
                conn.execute("INSERT INTO contacts SELECT * FROM kept")
                conn.execute("DROP TABLE kept")
        assert redis_only == alone


def test_redis_members_odd_subjects_and_garbage(new_store: Any) -> None:
    """A subject with `|` and Chinese is read right; a member that does not parse flags its number
    "after --at" (its rows go to the engine); another org's and another purpose's are left out."""
    from reachguard.scrub.export import FUTURE_BIT

    store = new_store("postgres+redis")
    at = datetime.fromisoformat(PLANS[0][2])
    plan = plan_for(PolicyBook.profile("cn").for_org("acme"), "acme", "marketing", "sms", at)
    ts = at.timestamp() - 600
    counters = store.counters
    writes = {
        counters.number_key("acme", "+8613800000001"): ("", [(ts, f"{ts!r}|+8613800000001|sms|marketing|prospect|贷|款|tok1")]),
        counters.number_key("acme", "+8613800000002"): ("", [(ts, "garbage")]),
        counters.number_key("acme", "+8613800000003"): ("", [(ts, f"{ts!r}|+8613800000003|sms|service|prospect||tok3")]),
        counters.number_key("other", "+8613800000004"): ("", [(ts, f"{ts!r}|+8613800000004|sms|marketing|prospect||tok4")]),
    }
    counters.finish("t", [], writes, unlock=True)
    table, odd = export_pg.redis_contacts(RedisWindows.read(counters, plan.org, plan.since), plan)
    assert table.to_pylist() == [{"key": 8613800000001, "flags": 3, "token": "tok1"}]  # both caps count it
    assert odd == [8613800000002]
    merged = export_pg.with_redis(table.slice(0, 0), table, odd)
    assert sorted(merged.select(["key", "flags"]).to_pylist(), key=repr) == sorted(
        [{"key": 8613800000001, "flags": 3}, {"key": 8613800000002, "flags": 1 << FUTURE_BIT}], key=repr)


class _RepeatingScan:
    """The real Redis client, but SCAN returns every key twice (as SCAN may, e.g. while Redis
    rehashes its keyspace; its guarantee is only that a key present throughout is returned)."""

    def __init__(self, client: Any):
        self._client = client

    def scan_iter(self, **kwargs: Any) -> Any:
        names = list(self._client.scan_iter(**kwargs))
        return iter(names + names[::-1])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_redis_keys_scanned_twice_count_once(new_store: Any, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """A key SCAN returns twice is read once: its Redis-only contacts are not counted double
    (and each member stays with its key however the keys are split into script calls)."""
    from types import SimpleNamespace

    from reachguard.scrub import redis_windows

    monkeypatch.setattr(redis_windows, "CHUNK", chunk)

    store = new_store("postgres+redis")
    at = datetime.fromisoformat(PLANS[0][2])
    plan = plan_for(PolicyBook.profile("cn").for_org("acme"), "acme", "marketing", "sms", at)
    ts = at.timestamp() - 600
    counters = store.counters
    writes = {counters.number_key("acme", f"+861380000000{i}"): ("", [(ts + j, f"{ts + j!r}|+861380000000{i}|sms|marketing|prospect||t{i}{j}")
                                                                      for j in range(i)]) for i in (1, 2, 3)}
    counters.finish("t", [], writes, unlock=True)
    mine = counters.prefix + "*"
    assert scan_names(_RepeatingScan(counters.client), mine) == list(dict.fromkeys(counters.client.scan_iter(match=mine)))
    repeating = SimpleNamespace(client=_RepeatingScan(counters.client), number_key=counters.number_key)
    windows = RedisWindows.read(repeating, plan.org, plan.since)
    assert sorted(windows.names) == sorted(writes) and len(windows) == 6
    table, odd = export_pg.redis_contacts(windows, plan)
    assert sorted(table.column("token").to_pylist()) == ["t10", "t20", "t21", "t30", "t31", "t32"] and odd == []
    assert sorted(zip(table.column("key").to_pylist(), table.column("token").to_pylist())) == [
        (8613800000000 + i, f"t{i}{j}") for i in (1, 2, 3) for j in range(i)]
    for name, (_, members) in writes.items():
        assert windows.members(name, plan.since) == [text for _, text in members]


def test_redis_windows_members_as_read(new_store: Any) -> None:
    """What the engine's view is given: each key's members as the export read them (a contact
    added later is not there; a key that did not exist is an empty window), filtered to the
    asked window; None (read live) for a window the read does not cover."""
    store = new_store("postgres+redis")
    counters = store.counters
    since = 1_000_000.0
    key = counters.number_key("acme", "+8613800000001")
    counters.finish("t", [], {key: ("", [(since - 1, f"{since - 1!r}|old"), (since + 5, f"{since + 5!r}|a|甲"),
                                         (since + 9, f"{since + 9!r}|b")])}, unlock=True)
    windows = RedisWindows.read(counters, "acme", since)
    later = counters.number_key("acme", "+8613800000002")
    counters.finish("t", [], {key: ("", [(since + 7, f"{since + 7!r}|late")]), later: ("", [(since + 7, f"{since + 7!r}|x")])},
                    unlock=True)
    assert windows.members(key, since) == [f"{since + 5!r}|a|甲", f"{since + 9!r}|b"]
    assert windows.members(key, since + 6) == [f"{since + 9!r}|b"]
    assert windows.members(later, since) == []
    assert windows.members(key, since - 1) is None  # starts before the read's window
    assert windows.members(counters.number_key("other", "+8613800000001"), since) is None
    assert [(windows.names[i], m) for i, m in windows.items()] == [(key, f"{since + 5!r}|a|甲"), (key, f"{since + 9!r}|b")]
