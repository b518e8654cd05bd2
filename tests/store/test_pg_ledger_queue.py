"""The PostgreSQL ledger's pending queue: finding the orgs to chain without reading the queue's
dead rows, and the VACUUM that lets the queue reuse its space (store/pg_ledger.py)."""

from __future__ import annotations

import time

import psycopg
import pytest

from reachguard.ledger.verify import verify_chain
from reachguard.store import pg_ledger

ORGS = ["b", "a", "*", "Zeta", "中文机构", "a b", "a-b"]


def _entries(orgs: list[str], per_org: int, start: float = 1_763_900_000.0) -> list[tuple]:
    body = b'{"event":{"type":"opt_out"},"pad":"' + b"x" * 500 + b'"}'
    return [(org, "opt_out", start + i, None, None, body) for i in range(per_org) for org in orgs]


def _conn(pg_url: str, store) -> psycopg.Connection:
    return psycopg.connect(pg_url.split("?")[0], autocommit=True, options=f"-c search_path={store.schema}")


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


def test_chaining_every_org_finds_each_org_with_pending_entries_once(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    store.ledger_append(_entries(ORGS, 3))
    with _conn(pg_url, store) as conn:
        grouped = [row[0] for row in conn.execute("SELECT org FROM ledger_pending GROUP BY org ORDER BY org")]
        assert [row[0] for row in conn.execute(pg_ledger._PENDING_ORGS)] == grouped
    assert sorted(grouped) == sorted(ORGS)
    assert store.chain_ledger() == 3 * len(ORGS)
    for org in ORGS:
        assert verify_chain(store.ledger_entries(org)) == (3, None)
    assert store.chain_ledger() == 0  # nothing left, and no org found twice
    with _conn(pg_url, store) as conn:
        assert conn.execute(pg_ledger._PENDING_ORGS).fetchall() == []


def test_the_org_scan_skips_orgs_whose_entries_were_all_chained(pg_url: str, new_store) -> None:
    """The queue's dead rows (chained entries not yet vacuumed) name orgs with nothing pending."""
    store = new_store("postgres")
    store.ledger_append(_entries(["a", "b", "c"], 2))
    assert store.chain_ledger() == 6
    store.ledger_append(_entries(["b"], 2, start=1_763_910_000.0))
    with _conn(pg_url, store) as conn:
        assert [row[0] for row in conn.execute(pg_ledger._PENDING_ORGS)] == ["b"]
    assert store.chain_ledger() == 2
    assert verify_chain(store.ledger_entries("b")) == (4, None)


def test_vacuum_lets_the_queue_reuse_the_space_of_chained_entries(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    with _conn(pg_url, store) as conn:
        store.ledger_append(_entries(ORGS[:3], 1000))
        store.chain_ledger()
        store.vacuum_pending()
        first = _heap_bytes(conn)
        assert first > 100 * 8192  # 3,000 entries of ~600 bytes
        for round_ in range(1, 3):
            store.ledger_append(_entries(ORGS[:3], 1000, start=1_763_900_000.0 + 10_000 * round_))
            store.chain_ledger()
            store.vacuum_pending()
        assert _heap_bytes(conn) < 1.3 * first  # three rounds in the space of about one
        # Without the VACUUM the queue grows by a round's worth each time (what the check above rules out).
        store.ledger_append(_entries(ORGS[:3], 1000, start=1_763_990_000.0))
        store.chain_ledger()
        store.ledger_append(_entries(ORGS[:3], 1000, start=1_763_995_000.0))
        store.chain_ledger()
        assert _heap_bytes(conn) > 1.6 * first
    assert verify_chain(store.ledger_entries(ORGS[0])) == (5000, None)


def test_background_chainer_vacuums_the_queue_every_so_many_entries(pg_url: str, new_store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_ledger, "_VACUUM_EVERY", 50)
    store = new_store("postgres")
    with _conn(pg_url, store) as conn:
        before = _vacuums(conn)
        store.ledger_append(_entries(["acme"], 60))
        store._chain_interval = 0.05
        store._start_chainer()
        assert _vacuums_after(conn, before) > before
        assert conn.execute("SELECT count(*) FROM ledger_pending").fetchone()[0] == 0
    assert verify_chain(store.ledger_entries("acme")) == (60, None)


def test_vacuum_in_an_open_transaction_is_refused_before_reaching_the_server(new_store) -> None:
    store = new_store("postgres")
    with store.transaction():
        with pytest.raises(RuntimeError, match="outside a transaction"):
            store.vacuum_pending()


def test_db_chain_chains_then_vacuums_the_queue(pg_url: str, new_store) -> None:
    from typer.testing import CliRunner

    from reachguard.cli import app

    store = new_store("postgres")
    store.ledger_append(_entries(["acme", "beta"], 400))
    with _conn(pg_url, store) as conn:
        before = _vacuums(conn)
        out = CliRunner().invoke(app, ["db", "chain", "--db", pg_url])
        assert out.exit_code == 0, out.output
        assert out.stdout.strip() == "chained 800 pending ledger entries; the queue vacuumed"
        assert _vacuums_after(conn, before) == before + 1
        assert conn.execute("SELECT count(*) FROM ledger_pending").fetchone()[0] == 0
    assert verify_chain(store.ledger_entries("beta")) == (400, None)
