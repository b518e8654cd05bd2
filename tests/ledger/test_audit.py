"""Signed checkpoints, `reachguard audit verify|export`, and the standalone verifier of an export."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerkit import small_ledger
from reachguard.cli import app
from reachguard.ledger.chain import GENESIS, make_entry
from reachguard.store import SQLiteStore

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = small_ledger(tmp_path)
    return path


def _sql(db: Path, sql: str, *params) -> None:
    store = SQLiteStore(str(db))
    with store.read() as conn:
        conn.execute(sql, params)
    store.close()


def _verify(db: Path):
    return runner.invoke(app, ["audit", "verify", "--db", str(db)])


def test_intact_ledger_verifies(db: Path) -> None:
    result = _verify(db)
    assert result.exit_code == 0, result.output
    assert "ok      acme: 7 entries" in result.output and "ok      xinghe: 2 entries" in result.output


def test_edit_is_reported_with_the_first_broken_entry(db: Path) -> None:
    _sql(db, "UPDATE ledger SET body = replace(body, 'defer', 'allow') WHERE org='acme' AND seq=4")
    result = _verify(db)
    assert result.exit_code == 1
    assert "BROKEN  acme: first broken entry seq 4" in result.output and "ok      xinghe" in result.output


@pytest.mark.parametrize("column, value", [("tag", "allow"), ("number", "+8613900000009"), ("tag", None)])
def test_an_edited_verdict_or_number_column_is_reported(db: Path, column: str, value: str | None) -> None:
    """The hashes cover the body, not these columns, which drive /v1/decisions?verdict= and a
    number's history: an UPDATE of either used to pass audit verify (and the API's verify)."""
    _sql(db, f"UPDATE ledger SET {column} = ? WHERE org='acme' AND seq=4", value)
    result = _verify(db)
    assert result.exit_code == 1, result.output
    assert "BROKEN  acme: first broken entry seq 4" in result.output and "the column was changed" in result.output


def test_an_org_whose_entries_were_all_deleted_is_still_audited(db: Path) -> None:
    """audit verify walked only the orgs with entries: deleting all of one org's entries made it
    vanish from the report, exit 0, though its signed checkpoints remained (security review)."""
    assert runner.invoke(app, ["audit", "checkpoint", "--db", str(db)]).exit_code == 0
    _sql(db, "DELETE FROM ledger WHERE org='xinghe'")
    result = _verify(db)
    assert result.exit_code == 1 and "BROKEN  xinghe" in result.output and "entries missing" in result.output, result.output


def test_deletion_is_detected(db: Path) -> None:
    _sql(db, "DELETE FROM ledger WHERE org='acme' AND seq=3")
    result = _verify(db)
    assert result.exit_code == 1 and "seq 4" in result.output and "gap" in result.output


def test_reordering_is_detected(db: Path) -> None:
    _sql(db, "UPDATE ledger SET seq = -1 WHERE org='acme' AND seq=3")
    _sql(db, "UPDATE ledger SET seq = 3 WHERE org='acme' AND seq=4")
    _sql(db, "UPDATE ledger SET seq = 4 WHERE org='acme' AND seq=-1")
    result = _verify(db)
    assert result.exit_code == 1 and "first broken entry seq 3" in result.output


def _rewrite_chain(db: Path, org: str) -> None:
    """What an attacker with database access does: change an entry and recompute every hash."""
    store = SQLiteStore(str(db))
    entries = list(store.ledger_entries(org))
    with store.read() as conn:
        prev = GENESIS
        for e in entries:
            body = e.body.replace('"defer"', '"allow"').encode()
            tag = "allow" if e.tag == "defer" else e.tag  # the verdict column too, as the body now says
            new = make_entry(e.org, e.seq, e.kind, e.at, e.number, tag, body, prev)
            conn.execute("UPDATE ledger SET body=?, body_hash=?, prev_hash=?, entry_hash=?, tag=? WHERE org=? AND seq=?",
                         (new.body, new.body_hash, new.prev_hash, new.entry_hash, tag, org, e.seq))
            prev = new.entry_hash
    store.close()


def test_a_recomputed_chain_passes_the_hashes_but_not_the_checkpoint(db: Path) -> None:
    assert runner.invoke(app, ["audit", "checkpoint", "--db", str(db)]).exit_code == 0
    _rewrite_chain(db, "acme")
    result = _verify(db)
    assert result.exit_code == 1 and "chain rewritten" in result.output


def test_truncation_after_a_checkpoint_is_detected(db: Path) -> None:
    runner.invoke(app, ["audit", "checkpoint", "--db", str(db)])
    _sql(db, "DELETE FROM ledger WHERE org='acme' AND seq=7")
    result = _verify(db)
    assert result.exit_code == 1 and "truncated" in result.output


def test_forged_checkpoint_signature_is_detected(db: Path) -> None:
    runner.invoke(app, ["audit", "checkpoint", "--db", str(db)])
    # change the first byte whatever it is (writing 'ff' left a signature that began with ff intact: 1 run in 256)
    _sql(db, "UPDATE checkpoints SET signature = (CASE WHEN substr(signature, 1, 2) = 'ff' THEN '00' ELSE 'ff' END)"
             " || substr(signature, 3) WHERE org='acme'")
    result = _verify(db)
    assert result.exit_code == 1 and "bad signature" in result.output


def _export(db: Path, out: Path, *extra: str) -> None:
    result = runner.invoke(app, ["audit", "export", "--org", "acme", "--out", str(out), "--db", str(db), *extra])
    assert result.exit_code == 0, result.output


def _external_check(out: Path, *key_id: str) -> subprocess.CompletedProcess:
    # A bare interpreter, no ReachGuard on the path: only the exported files and the standard library.
    return subprocess.run([sys.executable, "-S", "-I", str(out / "verify.py"), str(out), *key_id],
                          capture_output=True, text=True, timeout=60)


def _rewrite_export(out: Path, change) -> None:
    """A forger's export: `change(entries)` edits the entry dicts, then every hash after the
    first entry is recomputed and the manifest fixed to match (all but its signature)."""
    entries = [json.loads(line) for line in (out / "entries.jsonl").read_text().splitlines()]
    entries = change(entries)
    prev = entries[0]["prev_hash"]
    for e in entries:
        new = make_entry(e["org"], e["seq"], e["kind"], e["at"], e["number"], e["tag"], e["body"].encode(), prev)
        e.update(body_hash=new.body_hash, prev_hash=prev, entry_hash=new.entry_hash)
        prev = new.entry_hash
    data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode()
    (out / "entries.jsonl").write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["sha256"]["entries.jsonl"] = hashlib.sha256(data).hexdigest()
    manifest["entries"], manifest["seq_last"] = len(entries), entries[-1]["seq"]
    manifest["entry_hash_last"], manifest["at_last"] = entries[-1]["entry_hash"], repr(float(entries[-1]["at"]))
    if manifest["head"]["seq"] <= manifest["seq_last"]:  # the org's head at export time: the last entry here
        manifest["head"] = {"seq": manifest["seq_last"], "entry_hash": manifest["entry_hash_last"]}
    checkpoints = (out / "checkpoints.json").read_bytes()
    manifest["sha256"]["checkpoints.json"] = hashlib.sha256(checkpoints).hexdigest()
    manifest["checkpoints"] = len(json.loads(checkpoints))
    assert manifest["from"] is None and manifest["to"] is None  # every entry is in range
    manifest["entries_in_range"] = len(entries)
    (out / "manifest.json").write_text(json.dumps(manifest))


def _appended(entries: list[dict]) -> list[dict]:
    extra = dict(entries[-1], seq=entries[-1]["seq"] + 1)
    return [*entries, extra]


def _stripped(out: Path):
    def change(entries: list[dict]) -> list[dict]:
        (out / "checkpoints.json").write_text("[]")
        entries[2]["body"] = entries[2]["body"].replace('"defer"', '"allow"')
        entries[2]["tag"] = "allow" if entries[2]["tag"] == "defer" else entries[2]["tag"]
        return entries
    return change


@pytest.mark.parametrize("forgery", ["appended", "stripped"])
def test_an_export_must_end_on_a_signed_checkpoint(db: Path, tmp_path: Path, forgery: str) -> None:
    """A forged entry after the last checkpoint, or every checkpoint removed and the chain
    rewritten: verify.py said OK (found by a security review). An export always ends signed."""
    out = tmp_path / "export"
    _export(db, out)
    _rewrite_export(out, _appended if forgery == "appended" else _stripped(out))
    checked = _external_check(out)
    assert checked.returncode == 1 and "carries no signed checkpoint" in checked.stdout, checked.stdout + checked.stderr


def test_verify_py_can_pin_the_org_key(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    _export(db, out)
    [key_id] = json.loads((out / "public_keys.json").read_text())
    assert _external_check(out, key_id).returncode == 0
    other = _external_check(out, "0" * 16)
    assert other.returncode == 1 and "not by the trusted key 0000000000000000" in other.stdout, other.stdout


def test_export_verifies_without_reachguard(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    _export(db, out, "--from", "2026-11-23T11:00:00+08:00", "--to", "2026-11-23T13:00:00+08:00")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["entries_in_range"] == 2 and manifest["checkpoints"] >= 1
    checked = _external_check(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK:")
    public = runner.invoke(app, ["audit", "public-key", "--db", str(db)])
    assert "BEGIN PUBLIC KEY" in public.output
    assert json.loads((out / "public_keys.json").read_text()).popitem()[1]["pem"].strip() in public.output


@pytest.mark.parametrize("tamper", ["edit", "delete", "swap", "tag", "number"])
def test_tampered_export_is_detected_by_the_standalone_script(db: Path, tmp_path: Path, tamper: str) -> None:
    out = tmp_path / "export"
    _export(db, out)
    path = out / "entries.jsonl"
    lines = path.read_text().splitlines()
    if tamper == "edit":
        lines[2] = lines[2].replace("defer", "allow")
    elif tamper == "delete":
        del lines[3]
    elif tamper == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    else:  # a column the hashes do not cover: the body stays as it was
        entry = json.loads(lines[2])
        assert entry["kind"] == "decision"
        entry[tamper] = {"tag": "deny" if entry["tag"] == "allow" else "allow", "number": "+8613900000009"}[tamper]
        lines[2] = json.dumps(entry, ensure_ascii=False)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())  # a careful forger also fixes the manifest's digest
    manifest["sha256"]["entries.jsonl"] = hashlib.sha256(data).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    checked = _external_check(out)
    assert checked.returncode == 1 and checked.stdout.startswith("BROKEN"), checked.stdout


def test_export_of_nothing_and_bad_times(db: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "export", "--org", "nobody", "--out", str(tmp_path / "x"), "--db", str(db)])
    assert result.exit_code == 1 and "no ledger entries" in result.output
    result = runner.invoke(app, ["audit", "export", "--org", "acme", "--from", "2026-11-23", "--db", str(db)])
    assert result.exit_code == 2
    result = runner.invoke(app, ["audit", "export", "--org", "acme", "--to", "0001-01-01T00:00:00+14:00", "--db", str(db)])
    assert result.exit_code == 2 and "Time out of range" in result.output
