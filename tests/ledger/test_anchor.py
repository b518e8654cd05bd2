"""`reachguard audit anchor --out FILE` and `audit verify --anchor FILE`: the entries after an org's
last signed checkpoint are protected by nothing in the database, so cutting (or re-chaining) that
tail passed `audit verify`. An anchor kept outside the database catches it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerkit import small_ledger
from reachguard.cli import app
from reachguard.ledger.chain import make_entry
from reachguard.store import SQLiteStore
from worldkit import World

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Both chains checkpointed (acme at seq 7), then two more acme entries (8, 9) no checkpoint covers."""
    path = small_ledger(tmp_path)
    assert runner.invoke(app, ["audit", "checkpoint", "--db", str(path)]).exit_code == 0
    world = World(store=SQLiteStore(str(path)))
    world.attempt("2026-11-23T17:00:00+08:00")
    world.attempt("2026-11-23T18:00:00+08:00")
    world.gateway.store.close()
    return path


def _anchor(db: Path, out: Path) -> None:
    result = runner.invoke(app, ["audit", "anchor", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "anchored acme seq 9" in result.output and "anchored xinghe seq 2" in result.output


def _verify(db: Path, *extra: str):
    return runner.invoke(app, ["audit", "verify", "--db", str(db), *extra])


def _sql(db: Path, sql: str, *params) -> None:
    store = SQLiteStore(str(db))
    with store.read() as conn:
        conn.execute(sql, params)
    store.close()


def test_an_intact_ledger_verifies_against_its_anchor_and_may_grow(db: Path, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.json"
    _anchor(db, anchor)
    world = World(store=SQLiteStore(str(db)))
    world.attempt("2026-11-23T19:00:00+08:00")  # entries after the anchor are fine
    world.gateway.store.close()
    result = _verify(db, "--anchor", str(anchor))
    assert result.exit_code == 0, result.output
    assert "ok      acme: 10 entries" in result.output and "2 org head(s) checked" in result.output


@pytest.mark.parametrize("cut", ["last", "whole tail", "whole org"])
def test_a_tail_cut_after_the_last_checkpoint_is_broken_with_the_anchor(db: Path, tmp_path: Path, cut: str) -> None:
    anchor = tmp_path / "anchor.json"
    _anchor(db, anchor)
    if cut == "whole org":  # xinghe's entries and checkpoints all gone: the anchor still names it
        _sql(db, "DELETE FROM ledger WHERE org='xinghe'")
        _sql(db, "DELETE FROM checkpoints WHERE org='xinghe'")
    else:
        _sql(db, "DELETE FROM ledger WHERE org='acme' AND seq >= ?", 9 if cut == "last" else 8)
    assert _verify(db).exit_code == 0  # without the anchor, nothing shows
    result = _verify(db, "--anchor", str(anchor))
    assert result.exit_code == 1, result.output
    if cut == "whole org":
        assert "BROKEN  xinghe: first broken entry seq 1: entries missing: the anchor holds seq 2" in result.output
    else:
        first = 9 if cut == "last" else 8
        assert (f"BROKEN  acme: first broken entry seq {first}: entries missing: the anchor holds seq 9, "
                f"the chain ends at {first - 1} (truncated)") in result.output, result.output


def test_a_tail_rewritten_with_recomputed_hashes_is_broken_with_the_anchor(db: Path, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.json"
    _anchor(db, anchor)
    store = SQLiteStore(str(db))
    entries = list(store.ledger_range("acme", 8, 9))
    prev = entries[0].prev_hash
    with store.read() as conn:  # re-dated by an hour, every hash recomputed: the chain still holds
        for e in entries:
            new = make_entry(e.org, e.seq, e.kind, e.at + 3600, e.number, e.tag, e.body.encode(), prev)
            conn.execute("UPDATE ledger SET at=?, body_hash=?, prev_hash=?, entry_hash=? WHERE org=? AND seq=?",
                         (e.at + 3600, new.body_hash, prev, new.entry_hash, "acme", e.seq))
            prev = new.entry_hash
    store.close()
    assert _verify(db).exit_code == 0
    result = _verify(db, "--anchor", str(anchor))
    assert result.exit_code == 1 and "BROKEN  acme: first broken entry seq 9: entry differs from the anchor" in result.output


@pytest.mark.parametrize("damage, expected", [
    ("missing", "cannot read anchor"),
    ("garbage", "is not JSON"),
    ("not an anchor", "is malformed: not a reachguard-ledger-anchor-v1 file"),
    ("bad head", "is malformed: the head of org 'acme' has no seq"),
    ("edited", "bad signature (the file was edited)"),
    ("other key", "which is not a trusted key"),
])
def test_a_bad_anchor_file_is_a_clear_error(db: Path, tmp_path: Path, damage: str, expected: str) -> None:
    anchor = tmp_path / "anchor.json"
    _anchor(db, anchor)
    data = json.loads(anchor.read_text())
    if damage == "missing":
        anchor.unlink()
    elif damage == "garbage":
        anchor.write_bytes(b"\xff\xfe not json")
    elif damage == "not an anchor":
        anchor.write_text("[1, 2]")
    elif damage == "bad head":
        data["heads"]["acme"]["seq"] = "9"
        anchor.write_text(json.dumps(data))
    elif damage == "edited":
        data["heads"]["acme"]["seq"] = 8
        anchor.write_text(json.dumps(data))
    else:
        data["key_id"] = "0" * 16
        anchor.write_text(json.dumps(data))
    result = _verify(db, "--anchor", str(anchor))
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output, result.output


def test_anchor_of_an_empty_ledger_and_an_unwritable_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    SQLiteStore(str(empty)).close()
    result = runner.invoke(app, ["audit", "anchor", "--db", str(empty), "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 1 and "nothing to anchor" in result.output
    db = small_ledger(tmp_path)
    result = runner.invoke(app, ["audit", "anchor", "--db", str(db), "--out", str(tmp_path / "no" / "such" / "a.json")])
    assert result.exit_code == 2 and "cannot write anchor" in result.output, result.output


def test_a_deeply_nested_anchor_is_a_clear_error_not_a_traceback(db: Path, tmp_path: Path) -> None:
    """json.loads raises RecursionError (not ValueError) on deep nesting: it was a traceback, exit 1
    (the exit code of a BROKEN chain) instead of the malformed-anchor error, exit 2."""
    anchor = tmp_path / "anchor.json"
    anchor.write_text("[" * 100_000 + "]" * 100_000)
    result = _verify(db, "--anchor", str(anchor))
    assert result.exit_code == 2, result.output
    assert "is not JSON" in result.output and "Traceback" not in result.output, result.output
