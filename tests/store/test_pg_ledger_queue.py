"""The PostgreSQL ledger's pending queue: finding the orgs to chain without reading the queue's
dead rows (store/pg_ledger.py), and the VACUUM that lets the queue reuse its space
(store/pg_chainer.py, `reachguard db chain`)."""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from typing import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from reachguard.cli import app
from reachguard.ledger.verify import verify_chain
from reachguard.store import pg_chainer, pg_ledger

ORGS = ["b", "a", "*", "Zeta", "中文机构", "a b", "a-b"]
_stamp = iter(range(1, 1 << 30))


def _entries(orgs: list[str], per_org: int) -> list[tuple]:
    """Entries of ~600-byte bodies, each call's later in time than the last's."""
    start = 1_763_900_000.0 + 100_000 * next(_stamp)
    body = b'{"event":{"type":"opt_out"},"pad":"' + b"x" * 500 + b'"}'
    return [(org, "opt_out", start + i, None, None, body) for i in range(per_org) for org in orgs]


def _conn(pg_url: str, store) -> psycopg.Connection:
    return psycopg.connect(pg_url.split("?")[0], autocommit=True, options=f"-c search_path={store.schema}")


@contextlib.contextmanager
def _fresh_queue(pg_url: str, store) -> Iterator[psycopg.Connection]:
    """A connection to the store's schema with the queue's file emptied (the test fixtures empty
    tables with DELETE, which keeps the file) and autovacuum kept off it while the test runs."""
    with _conn(pg_url, store) as conn:
        conn.execute("TRUNCATE ledger_pending")
        conn.execute("ALTER TABLE ledger_pending SET (autovacuum_enabled = false)")
        try:
            yield conn
        finally:
            conn.execute("ALTER TABLE ledger_pending RESET (autovacuum_enabled)")


def _heap_bytes(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_relation_size('ledger_pending')").fetchone()[0]


def _vacuums(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                        "AND relname = 'ledger_pending'").fetchone()[0]


def _vacuums_after(conn: psycopg.Connection, before: int) -> int:
    """The queue's VACUUM count once it moved past `before` (the statistics can lag a little), or
    as it is after 30 s (a bound for a loaded machine)."""
    deadline = time.monotonic() + 30
    while _vacuums(conn) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return _vacuums(conn)


# --- finding the orgs to chain -------------------------------------------------------------------


def test_chaining_every_org_finds_each_org_with_pending_entries_once(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    store.ledger_append(_entries(ORGS + [""], 3))
    with _conn(pg_url, store) as conn:
        grouped = [row[0] for row in conn.execute("SELECT org FROM ledger_pending GROUP BY org ORDER BY org")]
        assert [row[0] for row in conn.execute(pg_ledger._PENDING_ORGS)] == grouped
    assert sorted(grouped) == sorted(ORGS + [""])
    assert store.chain_ledger() == 3 * (len(ORGS) + 1)
    for org in ORGS + [""]:
        assert verify_chain(store.ledger_entries(org)) == (3, None)
    assert store.chain_ledger() == 0  # nothing left, and no org found twice
    with _conn(pg_url, store) as conn:
        assert conn.execute(pg_ledger._PENDING_ORGS).fetchall() == []


def test_the_org_scan_skips_orgs_whose_entries_were_all_chained(pg_url: str, new_store) -> None:
    """The queue's dead rows (chained entries not yet vacuumed) name orgs with nothing pending."""
    store = new_store("postgres")
    store.ledger_append(_entries(["a", "b", "c"], 2))
    assert store.chain_ledger() == 6
    store.ledger_append(_entries(["b"], 2))
    with _conn(pg_url, store) as conn:
        assert [row[0] for row in conn.execute(pg_ledger._PENDING_ORGS)] == ["b"]
    assert store.chain_ledger() == 2
    assert verify_chain(store.ledger_entries("b")) == (4, None)


# --- VACUUM -------------------------------------------------------------------------------------


def test_vacuum_lets_the_queue_reuse_the_space_of_chained_entries(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    with _fresh_queue(pg_url, store) as conn:
        store.ledger_append(_entries(ORGS[:3], 1000))
        store.chain_ledger()
        one_round = _heap_bytes(conn)
        assert one_round > 100 * 8192  # 3,000 entries of ~600 bytes
        assert store.vacuum_pending() is None
        store.ledger_append(_entries(ORGS[:3], 1000))
        store.chain_ledger()
        assert _heap_bytes(conn) < 1.3 * one_round  # the second round in the first one's space
        # Without a VACUUM the next round cannot reuse the second one's rows: the file grows.
        store.ledger_append(_entries(ORGS[:3], 1000))
        store.chain_ledger()
        assert _heap_bytes(conn) > 1.6 * one_round
    assert verify_chain(store.ledger_entries(ORGS[0])) == (3000, None)


def test_vacuum_skipped_for_a_locked_queue_says_so_and_may_be_tried_again(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    with _conn(pg_url, store) as other, other.transaction():
        other.execute("LOCK TABLE ledger_pending IN SHARE UPDATE EXCLUSIVE MODE")  # as another VACUUM does
        skipped = store.vacuum_pending()
    assert skipped is not None and not skipped.lasting
    assert "lock not available" in skipped.reason
    assert store.vacuum_pending() is None  # the lock is gone
    assert store._local.session.fairy is None  # the connection went back to the pool


@pytest.fixture
def non_owner_url(pg_url: str, new_store) -> Iterator[str]:
    """The store's schema, as a role that may read and write its tables but owns none of them."""
    store = new_store("postgres")
    role = f"rg_test_nonowner_{secrets.token_hex(3)}"
    with _conn(pg_url, store) as conn:
        conn.execute(f"CREATE ROLE {role}")
        conn.execute(f'GRANT USAGE ON SCHEMA "{store.schema}" TO {role}')
        conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{store.schema}" TO {role}')
        conn.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{store.schema}" TO {role}')
        try:
            yield f"{pg_url}&options=-c%20role%3D{role}"
        finally:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_role_that_may_not_vacuum_gets_a_lasting_skip_not_an_error(non_owner_url: str) -> None:
    from reachguard.store.postgres import PostgresStore

    store = PostgresStore(non_owner_url, chain_interval=0)
    try:
        store.ledger_append(_entries(["acme"], 3))
        assert store.chain_ledger() == 3
        skipped = store.vacuum_pending()
        assert skipped is not None and skipped.lasting
        assert "owner" in skipped.reason
        assert verify_chain(store.ledger_entries("acme")) == (3, None)  # the connection still works
    finally:
        store.close()


def test_vacuum_in_an_open_transaction_is_refused_before_reaching_the_server(new_store) -> None:
    store = new_store("postgres")
    with store.transaction():
        with pytest.raises(RuntimeError, match="outside a transaction"):
            store.vacuum_pending()


# --- the background chainer ------------------------------------------------------------------------


def test_background_chainer_vacuums_once_per_so_many_entries(pg_url: str, new_store,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_chainer, "VACUUM_EVERY", 50)
    store = new_store("postgres")
    with _conn(pg_url, store) as conn:
        before = _vacuums(conn)
        store.ledger_append(_entries(["acme"], 60))
        store._chain_interval = 0.05
        store._start_chainer()
        assert _vacuums_after(conn, before) == before + 1
        time.sleep(0.5)  # ten more ticks chain nothing: no more VACUUMs
        assert _vacuums(conn) == before + 1
        assert conn.execute("SELECT count(*) FROM ledger_pending").fetchone()[0] == 0
    assert verify_chain(store.ledger_entries("acme")) == (60, None)


def test_background_chainer_logs_a_lasting_skip_once_and_stops_vacuuming(
        non_owner_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from reachguard.store.postgres import PostgresStore

    monkeypatch.setattr(pg_chainer, "VACUUM_EVERY", 1)
    store = PostgresStore(non_owner_url, chain_interval=0.05)
    try:
        with caplog.at_level(logging.WARNING, logger="reachguard.store"):
            for _ in range(3):
                store.ledger_append(_entries(["acme"], 2))
                time.sleep(0.2)
            deadline = time.monotonic() + 30
            while store._chainer.vacuums and time.monotonic() < deadline:
                time.sleep(0.05)
        assert not store._chainer.vacuums
        left = [r for r in caplog.records if "left to autovacuum" in r.getMessage()]
        assert len(left) == 1 and "owner" in left[0].getMessage()
        store.chain_ledger()  # whatever the thread had not chained yet
        assert verify_chain(store.ledger_entries("acme")) == (6, None)
    finally:
        store.close()


# --- reachguard db chain ---------------------------------------------------------------------------


def test_db_chain_chains_then_vacuums_the_queue(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    with _fresh_queue(pg_url, store) as conn:
        store.ledger_append(_entries(["acme", "beta"], 1000))
        before = _vacuums(conn)
        out = CliRunner().invoke(app, ["db", "chain", "--db", pg_url])
        assert out.exit_code == 0, out.output
        assert out.stdout.strip() == "chained 2000 pending ledger entries; the queue vacuumed"
        assert _vacuums_after(conn, before) == before + 1
        one_round = _heap_bytes(conn)
        # Vacuumed after the chaining: the next round fits in the chained entries' space.
        store.ledger_append(_entries(["acme", "beta"], 1000))
        store.chain_ledger()
        assert _heap_bytes(conn) < 1.3 * one_round
    assert verify_chain(store.ledger_entries("beta")) == (2000, None)


def test_db_chain_says_why_the_queue_was_not_vacuumed(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    store.ledger_append(_entries(["acme"], 5))
    with _conn(pg_url, store) as other, other.transaction():
        other.execute("LOCK TABLE ledger_pending IN SHARE UPDATE EXCLUSIVE MODE")
        out = CliRunner().invoke(app, ["db", "chain", "--db", pg_url])
    assert out.exit_code == 0, out.output
    assert out.stdout.strip() == ('chained 5 pending ledger entries; the queue not vacuumed: '
                                  'skipping vacuum of "ledger_pending" --- lock not available')


def test_db_chain_reports_what_it_chained_when_the_vacuum_fails(pg_url: str, new_store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from reachguard.store import StoreUnavailable
    from reachguard.store.postgres import PostgresStore

    def fail(self) -> None:
        raise StoreUnavailable("canceling statement due to statement timeout")

    monkeypatch.setattr(PostgresStore, "vacuum_pending", fail)
    store = new_store("postgres")
    store.ledger_append(_entries(["acme"], 4))
    out = CliRunner().invoke(app, ["db", "chain", "--db", pg_url])
    assert out.exit_code == 2
    assert out.stdout.strip() == "chained 4 pending ledger entries"
    assert "the queue (ledger_pending) was not vacuumed: canceling statement" in out.stderr
    assert verify_chain(store.ledger_entries("acme")) == (4, None)  # the chaining was committed


# --- plans ---------------------------------------------------------------------------------------


def test_the_chainer_plans_its_statements_afresh_instead_of_keeping_a_plan_made_on_an_empty_ledger(new_store) -> None:
    """A prepared statement keeps its first generic plan until an ANALYZE: on a new deployment's
    empty ledger that plan was a scan of the whole table (checked by hand with EXPLAIN EXECUTE on
    PostgreSQL 15: it stayed a Seq Scan after the table filled), and where autovacuum is off it never
    changed, so every chaining pass read the whole ledger once per org."""
    store = new_store("postgres")
    for _ in range(8):  # more than psycopg's and the server's thresholds for a generic plan
        store.ledger_append(_entries(["acme", "beta"], 2))
        store.chain_ledger()
    with store.read() as conn:  # the same session connection the chaining used
        prepared = [row[0] for row in conn.execute("SELECT statement FROM pg_prepared_statements")]
    assert any("INSERT INTO ledger_pending" in sql for sql in prepared)  # the decisions' path stays prepared
    for sql in (pg_ledger._CHAIN_HEAD, pg_ledger._PENDING_HASHED, pg_ledger._MOVE_PENDING):
        numbers = iter(range(1, 100))
        as_sent = re.sub("%s", lambda _: f"${next(numbers)}", sql)  # as psycopg sends it
        assert as_sent not in prepared, sql
    assert verify_chain(store.ledger_entries("beta")) == (16, None)


def test_background_chainer_warns_once_when_the_servers_autovacuum_is_off(pg_url: str, new_store,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    store = new_store("postgres")
    with _conn(pg_url, store) as conn:
        off = conn.execute("SELECT current_setting('autovacuum') = 'off'").fetchone()[0]
    def warned() -> int:
        return sum("autovacuum is off" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.WARNING, logger="reachguard.store"):
        store._chain_interval = 0.02
        store._start_chainer()
        deadline = time.monotonic() + (30 if off else 0.3)  # a bound for a loaded machine
        while not warned() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # more ticks: still one warning
        store.close()
    assert warned() == (1 if off else 0)  # this machine's server has it off; a default one on
