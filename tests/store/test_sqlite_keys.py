"""The SQLite store's key tables (store/sqlite_keys.py) always equal what `dnc` and `opt_outs` say.

Every way a row gets written is exercised — the store's methods, INSERT OR REPLACE, deletes,
updates of any column, bulk `executemany`, a rolled-back transaction — and after each step the
maintained tables are compared with the same tables computed from scratch. An old store
(schema version 1, no key tables) is backfilled when opened.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from reachguard.store import SQLiteStore
from reachguard.store.sqlite import SCHEMA_VERSION
from reachguard.store import sqlite_keys

NUMBERS = ["+8613800138000", "+8613800138001", "+12025550123", "+1", "+999999999999999999",
           "+9999999999999999999", "+0123", "not a number", "+86 138"]
ORGS = [None, "acme", "other"]
KINDS = ["opt_out", "complaint", "opt_out", "appeal"]  # any kind but complaint is an opt-out (rules/consent.py)
LISTS = ["national", "acme", "org:acme"]


def maintained(db: sqlite3.Connection) -> tuple[list, list]:
    return (sorted(db.execute("SELECT list, key FROM dnc_keys").fetchall()),
            sorted(db.execute("SELECT * FROM opt_out_keys").fetchall()))


def from_scratch(db: sqlite3.Connection) -> tuple[list, list]:
    return (sorted(db.execute(sqlite_keys.DNC_KEYS_SQL).fetchall()),
            sorted(db.execute(sqlite_keys.OPT_OUT_KEYS_SQL).fetchall()))


def _step(store: SQLiteStore, db: sqlite3.Connection, rng: random.Random) -> None:
    number, org, at = rng.choice(NUMBERS), rng.choice(ORGS), float(rng.randrange(100))
    seqs = [row[0] for row in db.execute("SELECT seq FROM opt_outs")]
    op = rng.randrange(9)
    if op == 0:
        store.add_opt_out(number, org, rng.randrange(1, 16), at, rng.choice(KINDS), None)
    elif op == 1:
        store.set_listed(rng.choice(LISTS), number, at, rng.random() < 0.7)
    elif op == 2:
        with store.transaction():
            db.execute("INSERT OR REPLACE INTO dnc(number, list, at) VALUES (?,?,?)", (number, rng.choice(LISTS), at))
    elif op == 3 and seqs:
        with store.transaction():
            db.execute("DELETE FROM opt_outs WHERE seq = ?", (rng.choice(seqs),))
    elif op == 4 and seqs:
        column, value = rng.choice([("at", at), ("channels", rng.randrange(16)), ("org", org),
                                    ("number", number), ("kind", rng.choice(KINDS))])
        with store.transaction():
            db.execute(f"UPDATE opt_outs SET {column} = ? WHERE seq = ?", (value, rng.choice(seqs)))
    elif op == 5:
        target = rng.choice(LISTS)
        with store.transaction():
            db.execute("UPDATE OR IGNORE dnc SET list = ? WHERE number = ?", (target, number))
    elif op == 6:  # a bulk load, as bench/scrub.py does it
        rows = [(rng.choice(NUMBERS), rng.choice(ORGS), rng.randrange(1, 16), float(rng.randrange(100)), rng.choice(KINDS))
                for _ in range(20)]
        with store.transaction():
            db.executemany("INSERT INTO opt_outs(number, org, channels, at, kind, note) VALUES (?,?,?,?,?,NULL)", rows)
            db.executemany("INSERT OR IGNORE INTO dnc(number, list, at) VALUES (?,?,?)",
                           [(r[0], rng.choice(LISTS), r[3]) for r in rows])
    elif op == 7:  # a write that fails: the key tables roll back with it
        with pytest.raises(RuntimeError), store.transaction():
            store.add_opt_out(number, org, 15, at, "opt_out", None)
            store.set_listed("national", number, at, False)
            raise RuntimeError("rolled back")
    else:
        with store.transaction():
            db.execute("DELETE FROM dnc WHERE number = ?", (number,))


@pytest.mark.parametrize("seed", range(4))
def test_key_tables_follow_every_write(tmp_path: Path, seed: int) -> None:
    store = SQLiteStore(str(tmp_path / "store.db"))
    rng = random.Random(seed)
    with store.read() as db:
        for _ in range(300):
            _step(store, db, rng)
            assert maintained(db) == from_scratch(db)
        dnc, opt = maintained(db)
        assert dnc and opt  # the walk did leave rows
        assert any(row[0] == "" for row in opt) and any(row[0] == "acme" for row in opt)
    store.close()


def test_keys_and_columns() -> None:
    store = SQLiteStore(":memory:")
    store.add_opt_out("+8613800138000", None, 1, 5.0, "opt_out", None)           # sms
    store.add_opt_out("+8613800138000", None, 3, 4.0, "opt_out", None)           # sms + call, older
    store.add_opt_out("+8613800138000", "acme", 15, 7.0, "complaint", None)
    store.add_opt_out("+99999999999999999999", None, 15, 7.0, "opt_out", None)   # 20 digits: no key
    store.set_listed("national", "+8613800138000", 1.0, True)
    store.set_listed("national", "+8613800138000", 2.0, True)                    # again: one row
    with store.read() as db:
        dnc, opt = maintained(db)
    cols = [name for name, _, _ in sqlite_keys.COLUMNS]
    assert dnc == [("national", 8613800138000)]
    rows = {(row[0], row[1]): dict(zip(cols, row[2:])) for row in opt}
    assert set(rows) == {("", 8613800138000), ("acme", 8613800138000)}
    assert rows[("", 8613800138000)]["opt_out_sms"] == 5.0 and rows[("", 8613800138000)]["opt_out_call"] == 4.0
    assert rows[("", 8613800138000)]["complaint_sms"] is None
    assert rows[("acme", 8613800138000)]["complaint_push"] == 7.0 and rows[("acme", 8613800138000)]["opt_out_sms"] is None
    store.close()


def make_version_1(path: Path) -> None:
    """A store as schema version 1 made it: no key tables, no triggers."""
    SQLiteStore(str(path)).close()
    db = sqlite3.connect(path, isolation_level=None)
    for name, kind in db.execute("SELECT name, type FROM sqlite_master WHERE name LIKE '%_keys%' AND type IN ('table', 'trigger')").fetchall():
        db.execute(f"DROP {kind.upper()} {name}")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.close()


def test_an_old_store_is_backfilled_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_version_1(path)
    db = sqlite3.connect(path, isolation_level=None)
    assert not db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'opt_out_keys'").fetchone()[0]
    db.executemany("INSERT INTO opt_outs(number, org, channels, at, kind) VALUES (?,?,?,?,?)",
                   [("+8613800138000", None, 15, 1.0, "opt_out"), ("+8613800138000", None, 1, 3.0, "opt_out"),
                    ("+8613800138001", "acme", 15, 2.0, "complaint"), ("garbage", None, 15, 2.0, "opt_out")])
    db.executemany("INSERT INTO dnc(number, list, at) VALUES (?,?,?)", [("+8613800138002", "national", 1.0), ("+0", "x", 1.0)])
    db.close()
    store = SQLiteStore(str(path))
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == str(sqlite_keys.VERSION)
    with store.read() as db:
        assert maintained(db) == from_scratch(db)
        assert len(maintained(db)[1]) == 2 and maintained(db)[0] == [("national", 8613800138002)]
    store.set_listed("national", "+8613800138002", 5.0, False)  # the triggers work from now on
    store.add_opt_out("+8613800138003", None, 15, 5.0, "opt_out", None)
    with store.read() as db:
        assert maintained(db) == from_scratch(db) and maintained(db)[0] == []
    store.close()
    again = SQLiteStore(str(path))  # opening a current store does not backfill again
    with again.read() as db:
        assert maintained(db) == from_scratch(db)
    again.close()
