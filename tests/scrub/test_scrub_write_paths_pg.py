"""`scrub` and `decide` agree on a PostgreSQL(+Redis) store whatever wrote its state.

The write paths of test_scrub_write_paths.py on PostgreSQL: gateway events, `reachguard replay
--db postgresql://…`, a bulk load in plain SQL, corrections in SQL (an opt-out deleted, one
narrowed to calls, a list entry moved). PostgreSQL has no key tables (numbers are keyed in the
scrub's own queries), so every path must be seen as it is.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reachguard.cli import app
from reachguard.scrub import run_scrub
from worldkit import World

from test_scrub_agrees import expected_with, messy, num
from test_scrub_agrees_pg import decide_undone
from test_scrub_write_paths import AT, DAY, N, _replay_events


def build(store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    w = World(store=store)
    w.send(type="opt_out", to=N[12], at=DAY.format(4))
    w.send(type="dnc", list="litigator", to=N[13], at=DAY.format(2))
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in _replay_events()) + "\n", encoding="utf-8")
    monkeypatch.delenv("REACHGUARD_REDIS_URL", raising=False)
    if store.uses_redis:
        monkeypatch.setenv("REACHGUARD_REDIS_URL", f"{redis_url}?prefix={store.counters.prefix}")
    result = CliRunner().invoke(app, ["replay", str(events), "--db", store.url, "--no-progress"])
    assert result.exit_code == 0, result.output
    ts = datetime.fromisoformat(DAY.format(4)).timestamp()
    with store.read() as conn:
        with conn.transaction():  # a bulk load in plain SQL
            cur = conn.cursor()
            cur.executemany("INSERT INTO opt_outs(number, org, channels, at, kind, note) VALUES (%s, %s, 15, %s, 'opt_out', NULL)",
                            [(n, org, ts) for n, org in ((N[14], None), (N[15], "acme"), (N[16], "other"), (N[17], None))])
            cur.executemany("INSERT INTO dnc(number, list, at) VALUES (%s, %s, 0) ON CONFLICT DO NOTHING",
                            [(N[18], "national"), (N[19], "complaints"), (N[20], "national"), (N[21], "someone")])
            cur.executemany("INSERT INTO consents(org, number, channels, at, expires_at, withdrawn, evidence) "
                            "VALUES ('acme', %s, 15, %s, NULL, false, 'bulk')",
                            [(n, datetime.fromisoformat(DAY.format(2)).timestamp()) for n in N[30:36]])
        conn.execute("DELETE FROM opt_outs WHERE number = %s", (N[14],))  # corrections in SQL
        conn.execute("UPDATE opt_outs SET channels = 2 WHERE number = %s", (N[17],))
        conn.execute("UPDATE dnc SET list = 'someone' WHERE number = %s", (N[20],))


@pytest.mark.parametrize("backend", ["postgres", "postgres+redis"])
def test_scrub_and_decide_agree_whatever_wrote_the_state(backend: str, new_store: Any, redis_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = new_store(backend)
    build(store, tmp_path, monkeypatch, redis_url)
    rng = random.Random(11)
    rows = [{"phone": messy(n, rng), "name": f"c{i}", "relation": "", "subject": ""} for i, n in enumerate(N + [num(299)])]
    with open(tmp_path / "list.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["phone", "name", "relation", "subject"])
        writer.writeheader()
        writer.writerows(rows)
    for channel in ("sms", "call"):
        report = run_scrub(tmp_path / "list.csv", store=store, org="acme", purpose="marketing", channel=channel,
                           at=datetime.fromisoformat(AT), out=tmp_path / "allowed.csv")
        rejected = {r["name"]: set(r["reasons"].split(";")) for r in csv.DictReader(open(tmp_path / "allowed.rejected.csv", encoding="utf-8"))}
        allowed = {r["name"] for r in csv.DictReader(open(tmp_path / "allowed.csv", encoding="utf-8"))}
        want = expected_with(decide_undone(store), rows, "marketing", channel, AT)
        got = [set() if row["name"] in allowed else rejected[row["name"]] for row in rows]
        assert [(row["phone"], g) for row, g in zip(rows, got)] == [(row["phone"], w) for row, w in zip(rows, want)]
        assert report.allowed == len(allowed) > 3
        assert {"OPTED_OUT", "ON_DNC_LIST", "NO_CONSENT"} <= set().union(*want)
