"""`scrub` and `decide` still agree when the state arrived by every write path the store has.

A scrub reads the dnc and opt-out numbers from the store's key tables (store/sqlite_keys.py),
kept by triggers. Here the state is written by gateway events, by `reachguard replay --db`
(opt-outs, complaints, inbound STOP and 投诉 replies, list additions and removals, consents
after opt-outs), by a bulk load in plain SQL (as bench/scrub.py does), and by corrections made
directly in SQL (an opt-out deleted, another narrowed to calls, a list entry moved) — then once
more on the same store made as schema version 1 wrote it (no key tables), which the scrub's
opening of the store backfills. For every row, the scrub's reasons must be decide's.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reachguard.cli import app
from reachguard.scrub import run_scrub
from reachguard.store import SQLiteStore, sqlite_keys
from test_scrub_agrees import expected, messy, num
from worldkit import World

AT = "2026-11-23T10:00:00+08:00"
DAY = "2026-11-{:02d}T10:00:00+08:00"
N = [num(200 + i) for i in range(40)]


def _replay_events() -> list[dict]:
    events: list[dict] = [{"type": "consent", "org": "acme", "to": n, "at": DAY.format(1), "purpose": "marketing"}
                          for n in N[:30]]
    events += [
        {"type": "opt_out", "to": N[0], "at": DAY.format(5)},
        {"type": "opt_out", "to": N[1], "at": DAY.format(5), "org": "acme", "channels": ["sms"]},
        {"type": "opt_out", "to": N[2], "at": DAY.format(5), "org": "other"},
        {"type": "complaint", "to": N[3], "at": DAY.format(5), "org": "acme", "text": "烦"},
        {"type": "inbound_sms", "from": N[4], "to": "10690000", "text": "TD", "at": DAY.format(5), "org": "acme"},
        {"type": "inbound_sms", "from": N[5], "to": "10690000", "text": "我要投诉", "at": DAY.format(5), "org": "acme"},
        {"type": "inbound_sms", "from": N[6], "to": "10690000", "text": "好的", "at": DAY.format(5), "org": "acme"},
        {"type": "dnc", "list": "national", "to": N[7], "at": DAY.format(2)},
        {"type": "dnc", "list": "national", "to": N[8], "at": DAY.format(2)},
        {"type": "dnc", "list": "national", "to": N[8], "at": DAY.format(3), "remove": True},
        {"type": "dnc", "list": "acme", "to": N[9], "at": DAY.format(2)},
        {"type": "opt_out", "to": N[10], "at": DAY.format(5)},
        {"type": "consent", "org": "acme", "to": N[10], "at": DAY.format(6), "purpose": "marketing"},  # lifted
        {"type": "opt_out", "to": N[11], "at": DAY.format(5), "org": "acme"},
        {"type": "opt_out", "to": N[11], "at": DAY.format(8)},                                         # newer, every org
        {"type": "consent", "org": "acme", "to": N[11], "at": DAY.format(6), "purpose": "marketing"},  # between: still out
    ]
    return events


def build(path: Path) -> None:
    w = World(store=SQLiteStore(str(path)))
    w.send(type="opt_out", to=N[12], at=DAY.format(4))                   # gateway events
    w.send(type="dnc", list="litigator", to=N[13], at=DAY.format(2))
    w.gateway.store.close()
    events = path.parent / "events.jsonl"
    events.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in _replay_events()) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["replay", str(events), "--db", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(path, isolation_level=None)                    # a bulk load, as bench/scrub.py
    db.execute("BEGIN")
    db.executemany("INSERT INTO opt_outs(number, org, channels, at, kind, note) VALUES (?, ?, ?, ?, 'opt_out', NULL)",
                   [(n, org, 15, datetime.fromisoformat(DAY.format(4)).timestamp())
                    for n, org in ((N[14], None), (N[15], "acme"), (N[16], "other"), (N[17], None))])
    db.executemany("INSERT OR IGNORE INTO dnc(number, list, at) VALUES (?, ?, 0)", [(N[18], "national"), (N[19], "complaints"),
                                                                                  (N[20], "national"), (N[21], "someone")])
    db.executemany("INSERT INTO consents(org, number, channels, at, expires_at, withdrawn, evidence) VALUES ('acme', ?, 15, ?, NULL, 0, 'bulk')",
                   [(n, datetime.fromisoformat(DAY.format(2)).timestamp()) for n in N[30:36]])
    db.execute("COMMIT")
    # corrections made in SQL: one opt-out deleted, one narrowed to calls, a list entry moved
    db.execute("DELETE FROM opt_outs WHERE number = ?", (N[14],))
    db.execute("UPDATE opt_outs SET channels = 2 WHERE number = ?", (N[17],))
    db.execute("UPDATE dnc SET list = 'someone' WHERE number = ?", (N[20],))
    db.close()


def version_1(path: Path) -> None:
    """The store as schema version 1 would hold it: the key tables and their triggers gone."""
    db = sqlite3.connect(path, isolation_level=None)
    for name, kind in db.execute("SELECT name, type FROM sqlite_master WHERE name LIKE '%_keys%' AND type IN ('table', 'trigger')").fetchall():
        db.execute(f"DROP {kind.upper()} {name}")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("write-paths")
    current, old = folder / "current" / "store.db", folder / "old" / "store.db"
    for path in (current, old):
        path.parent.mkdir()
        build(path)
    version_1(old)
    return {"current": current, "version 1": old}


@pytest.mark.parametrize("which", ["current", "version 1"])
@pytest.mark.parametrize("channel", ["sms", "call"])
def test_scrub_and_decide_agree_whatever_wrote_the_state(stores: dict[str, Path], tmp_path: Path, which: str,
                                                          channel: str) -> None:
    base = tmp_path / "store.db"
    base.write_bytes(stores[which].read_bytes())
    rng = random.Random(11)
    rows = [{"phone": messy(n, rng), "name": f"c{i}"} for i, n in enumerate(N + [num(299)])]
    with open(tmp_path / "list.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["phone", "name"])
        writer.writeheader()
        writer.writerows(rows)
    report = run_scrub(tmp_path / "list.csv", store=base, org="acme", purpose="marketing", channel=channel,
                       at=datetime.fromisoformat(AT), out=tmp_path / "allowed.csv")
    with sqlite3.connect(base) as db:  # the scrub's opening backfilled the old store
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(sqlite_keys.VERSION)
        assert sorted(db.execute("SELECT * FROM opt_out_keys").fetchall()) == sorted(db.execute(sqlite_keys.OPT_OUT_KEYS_SQL).fetchall())
    rejected = {r["name"]: set(r["reasons"].split(";")) for r in csv.DictReader(open(tmp_path / "allowed.rejected.csv", encoding="utf-8"))}
    allowed = {r["name"] for r in csv.DictReader(open(tmp_path / "allowed.csv", encoding="utf-8"))}
    want = expected(base, tmp_path, [{**row, "relation": "", "subject": ""} for row in rows], "marketing", channel, AT)
    got = [set() if row["name"] in allowed else rejected[row["name"]] for row in rows]
    assert [(row["phone"], g) for row, g in zip(rows, got)] == [(row["phone"], w) for row, w in zip(rows, want)]
    assert report.allowed == len(allowed) > 3
    kinds = set().union(*want)
    assert {"OPTED_OUT", "ON_DNC_LIST", "NO_CONSENT"} <= kinds
