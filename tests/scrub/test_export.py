"""The store's tables as the scrub reads them: integer keys, the child process, its snapshot."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from reachguard.policy import PolicyBook
from reachguard.scrub.export import _KEY, export, plan_for
from reachguard.scrub.export_child import ExportChild, ExportFailed
from reachguard.scrub.rows import key_sql, num_sql
from reachguard.scrub.snapshot import open_snapshot
from reachguard.store import SQLiteStore

AT = datetime.fromisoformat("2026-11-23T10:00:00+08:00")
ODD = ["+8613800138000", "+12025550123", "+0123", "+-5", "+12a", "++8613800138000", "+", "", " +8613800138000",
       "8613800138000", "+86138001380001", "+999999999999999999", "+9999999999999999999", "+99999999999999999999",
       "+1", "+86 138", "+８６１３８", "+9223372036854775807", "+9223372036854775808"]


def expected_key(number: str) -> int | None:
    digits = number[1:]
    ok = number.startswith("+") and digits.isascii() and digits.isdigit() and digits[0] != "0" and len(digits) <= 18
    return int(digits) if ok else None


def test_sqlite_and_duckdb_keys_agree_and_are_one_to_one() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t(number TEXT)")
    db.executemany("INSERT INTO t VALUES (?)", [(n,) for n in ODD])
    stored = dict(db.execute(f"SELECT number, {_KEY} FROM t").fetchall())
    assert stored == {n: expected_key(n) or 0 for n in ODD}
    con = duckdb.connect()
    con.register("t", pa.table({"number": ODD}))
    listed = dict(con.execute(f"SELECT number, {key_sql('number')} FROM t").fetchall())
    assert listed == {n: expected_key(n) for n in ODD}
    assert listed["+8613800138000"] == 8613800138000 and listed["+9999999999999999999"] is None  # 19 digits: odd
    con.execute("CREATE TABLE rg_odd AS SELECT -1 AS key, '+99999999999999999999' AS num")
    assert con.execute(f"SELECT {num_sql('8613800138000')}, {num_sql('-1')}").fetchall()[0] == ("+8613800138000", "+99999999999999999999")


def _store(path: Path) -> None:
    store = SQLiteStore(str(path))
    with store.transaction():
        store.add_consent("acme", "+8613800138000", 15, AT.timestamp() - 86400, None, "form")
        store.add_consent("other", "+8613800138001", 15, AT.timestamp() - 86400, None, "form")
        store.add_opt_out("+8613800138002", None, 15, AT.timestamp() - 3600, "opt_out", None)
        store.add_opt_out("not a number", "acme", 15, AT.timestamp() - 3600, "complaint", None)
        store.set_listed("national", "+8613800138003", AT.timestamp() - 60, True)
    store.close()


def _sorted(tables: dict[str, pa.Table]) -> dict[str, list[dict]]:
    return {name: sorted(table.to_pylist(), key=repr) for name, table in tables.items()}


def test_child_reads_what_the_connection_reads(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    _store(path)
    plan = plan_for(PolicyBook.profile("cn").for_org("acme"), "acme", "marketing", "sms", AT)
    child = ExportChild(str(path), plan, tmp_path)
    try:
        with open_snapshot(str(path), reserve=False, pin=child) as (_, db):
            inline = export(db, plan)
            # committed after the snapshot began: neither the scrub nor its child may see it
            other = SQLiteStore(str(path))
            other.add_opt_out("+8613800138009", None, 15, AT.timestamp(), "opt_out", None)
            other.close()
            from_child = child.result()
    finally:
        child.close()
    assert _sorted(from_child) == _sorted(inline)
    assert {row["key"] for row in from_child["rg_optout"].to_pylist()} == {8613800138002}
    assert from_child["rg_optout_org"].num_rows == 0  # acme's complaint names no keyable number
    assert from_child["rg_dnc"].to_pylist() == [{"key": 8613800138003}]
    assert from_child["rg_consent"].column("key").to_pylist() == [8613800138000]


def test_child_failure_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"not a database at all" * 100)
    plan = plan_for(PolicyBook.profile("cn").for_org("acme"), "acme", "marketing", "sms", AT)
    child = ExportChild(str(path), plan, tmp_path)
    try:
        with pytest.raises(ExportFailed):
            child.ready()
            child.pin()
            child.result()
    finally:
        child.close()
