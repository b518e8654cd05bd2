"""`scrub` and `decide` agree row by row on a PostgreSQL and a PostgreSQL + Redis store.

The same state (test_scrub_agrees.build_state, written by events through a gateway on that
backend), the same lists and cases. The expected answer of each row is `Gateway.decide` on
that very store, inside a transaction that is rolled back (so an allowed row's contact — in
PostgreSQL and, for the Redis backend, in Redis — never reaches the next row).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reachguard.engine import Gateway
from reachguard.numbers import try_normalize
from reachguard.policy import PolicyBook
from reachguard.scrub import ScrubInputError, run_scrub
from reachguard.scrub.export_pg import queries
from reachguard.scrub.export import plan_for
from reachguard.store import sqlite_keys
from worldkit import World

from test_scrub_agrees import CASES, build_state, check_coverage, expected_with, make_list, scrubbed

PG_BACKENDS = ["postgres", "postgres+redis"]


class _Undo(Exception):
    pass


def decide_undone(store: Any):
    """decide(index, event) on `store`, its writes rolled back (Redis is written only at commit)."""
    gateway = Gateway(store, PolicyBook.profile("cn"))

    def decide(index: int, event: Any) -> set[str]:
        try:
            with store.transaction():
                decision = gateway.decide(event)
                raise _Undo
        except _Undo:
            pass
        return {r.code for r in decision.reasons}
    return decide


def contacts(store: Any) -> list[tuple]:
    with store.read() as conn:
        return sorted(conn.execute("SELECT org, number, channel, purpose, at FROM contacts").fetchall())


# Consented numbers given a contact that is in Redis only (a decision whose PostgreSQL copy is
# in flight, or whose commit failed after Redis took it): decide counts it, so must the scrub.
REDIS_ONLY = (6, 16, 3)


def redis_only_contact(store: Any, number: str, at: str) -> None:
    from reachguard.state import ContactRecord
    from reachguard.store.redis_counters import member

    record = ContactRecord("acme", number, "sms", "marketing", "prospect", None, datetime.fromisoformat(at).timestamp())
    key = store.counters.number_key("acme", number)
    store.counters.finish("t", [], {key: ("", [(record.at, member(record, f"redisonly{number}"))])}, unlock=True)


@pytest.fixture(params=PG_BACKENDS)
def pg_state(request: pytest.FixtureRequest, new_store: Any) -> tuple[Any, list[str], list[str]]:
    store = new_store(request.param)
    m, c = build_state(World(store=store))
    if store.uses_redis:
        for i in REDIS_ONLY:
            redis_only_contact(store, m[i], "2026-11-23T08:00:00+08:00")
    return store, m, c


@pytest.mark.parametrize("purpose,channel,at", CASES)
def test_scrub_and_decide_agree_on_postgres(pg_state: tuple[Any, list[str], list[str]], tmp_path: Path,
                                            purpose: str, channel: str, at: str) -> None:
    store, m, c = pg_state
    rows = make_list(tmp_path / "list.csv", m, c, purpose, seed=CASES.index((purpose, channel, at)))
    want = expected_with(decide_undone(store), rows, purpose, channel, at)
    before = contacts(store)
    report = run_scrub(tmp_path / "list.csv", store=store, org="acme", purpose=purpose, channel=channel,
                       at=datetime.fromisoformat(at), out=tmp_path / "allowed.csv")
    got, a = scrubbed(tmp_path, rows, want)
    assert [(row["phone"], g, w) for row, g, w in zip(rows, got, want) if g != w] == []
    assert report.rows == len(rows) and report.allowed == a
    check_coverage(want, purpose, channel, at, a)
    assert contacts(store) == before  # a plain scrub records nothing
    if purpose == "marketing" and store.uses_redis:
        if channel == "sms" and at.endswith("10:00:00+08:00"):  # the Redis-only contacts fill the daily cap
            assert all(w == {"FREQUENCY_CAP"} for row, w in zip(rows, want)
                       if try_normalize(row["phone"]) in {m[i] for i in REDIS_ONLY} and w != {"DUPLICATE"})


def test_reserve_is_refused_on_postgres(pg_state: tuple[Any, list[str], list[str]], tmp_path: Path) -> None:
    store, m, c = pg_state
    make_list(tmp_path / "list.csv", m, c, "marketing", seed=1)
    before = contacts(store)
    with pytest.raises(ScrubInputError) as caught:
        run_scrub(tmp_path / "list.csv", store=store, org="acme", purpose="marketing", channel="sms",
                  at=datetime.fromisoformat(CASES[0][2]), out=tmp_path / "allowed.csv", reserve=True)
    assert caught.value.code == "INVALID_OPTION" and "--reserve" in caught.value.message
    assert not (tmp_path / "allowed.csv").exists() and not (tmp_path / "allowed.rejected.csv").exists()
    assert contacts(store) == before


ODD = ["+8613800138000", "+1", "+0123", "+123456789012345678", "+1234567890123456789", "8613800138000", "+86 138",
       "+86138001380００", "+٨613800138000", "", "+", "+9" * 3, "+999999999999999999"]


def test_postgres_export_and_sqlite_give_every_number_the_same_key(new_store: Any) -> None:
    """export_pg.arrow_key on numbers as PostgreSQL returns them == sqlite_keys.key_sql in SQLite,
    for odd and random strings; the sets of keyed numbers only drop the unkeyed ones."""
    import random
    import sqlite3

    import pyarrow as pa

    from reachguard.scrub.export_pg import adbc_uri, arrow_key, keyed

    rng = random.Random(5)
    numbers = ODD + ["+" + "".join(rng.choice("0123456789+ -x") for _ in range(rng.randint(1, 21))) for _ in range(2000)]
    numbers += ["+" + str(rng.randint(1, 10 ** rng.randint(1, 19))) for _ in range(2000)]
    lite = sqlite3.connect(":memory:")
    want = [lite.execute(f"SELECT coalesce({sqlite_keys.key_sql('?1')}, 0)", (n,)).fetchone()[0] for n in numbers]
    store = new_store("postgres")
    import adbc_driver_postgresql.dbapi as adbc

    with store.read() as conn:
        conn.execute("CREATE TABLE odd_numbers_kept AS SELECT number, i FROM unnest(%s::text[]) WITH ORDINALITY AS t(number, i)",
                     (numbers,))
    try:
        with adbc.connect(adbc_uri(store.url), autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'SELECT number FROM "{store.schema}".odd_numbers_kept ORDER BY i')
            fetched = cur.fetch_arrow_table()
    finally:
        with store.read() as conn:
            conn.execute("DROP TABLE odd_numbers_kept")
    assert fetched.column(0).to_pylist() == numbers
    assert arrow_key(fetched.column(0)).to_pylist() == want
    assert keyed(fetched, drop=True).column("key").to_pylist() == [k for k in want if k]
    assert arrow_key(pa.array(["+8613800138000", None])).to_pylist() == [8613800138000, 0]
    assert sum(1 for k in want if k) > 2000  # most random ones are keys, the odd ones mostly not


def test_queries_inline_values_safely() -> None:
    """An org with quotes and backslashes is a literal, never SQL."""
    plan = plan_for(PolicyBook.profile("cn").for_org("a'b\\c"), "a'b\\c", "marketing", "sms",
                    datetime.fromisoformat(CASES[0][2]))
    sql = " ".join(q.sql for q in queries(plan))
    assert "'a''b\\c'" in sql and "a'b\\c'" not in sql.replace("'a''b\\c'", "")
    assert json.dumps(sorted(q.name for q in queries(plan))) == json.dumps(
        ["rg_consent", "rg_contact", "rg_dnc", "rg_optout", "rg_optout_org"])
