"""An export's manifest is signed with the ledger's key, and its verify.py checks that signature
(pinned by KEY_ID) and that the entries are exactly the manifest's segment. Before, a genuine
signed *prefix* of an export, with the manifest's counts and digests edited, passed as the whole."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reachguard.cli import app
from reachguard.ledger.checkpoint import Signer, key_id_of, load_or_create_key
from reachguard.store import SQLiteStore
from worldkit import World

runner = CliRunner()


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, str]:
    """acme: a consent and six attempts, a checkpoint signed at seq 4, exported whole (signed at 7)."""
    db = tmp_path / "rg.db"
    world = World(store=SQLiteStore(str(db)))
    world.consent()
    for hour in range(10, 16):
        world.attempt(f"2026-11-23T{hour}:00:00+08:00")
    store = world.gateway.store
    signer = Signer(load_or_create_key(tmp_path / "rg.db.signing-key.pem"), store)
    fourth = next(iter(store.ledger_range("acme", 4, 4)))
    store.add_checkpoint(signer.sign("acme", 4, fourth.entry_hash))
    store.close()
    out = tmp_path / "export"
    result = runner.invoke(app, ["audit", "export", "--org", "acme", "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return out, signer.key_id


def _check(out: Path, *key_id: str) -> subprocess.CompletedProcess:
    # A bare interpreter, no ReachGuard on the path: only the exported files and the standard library.
    return subprocess.run([sys.executable, "-S", "-I", str(out / "verify.py"), str(out), *key_id],
                          capture_output=True, text=True, timeout=60)


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text("utf-8"))


def _write_manifest(out: Path, manifest: dict) -> None:
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")


def _broken(checked: subprocess.CompletedProcess, expected: str) -> None:
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.startswith("BROKEN: ") and expected in checked.stdout, checked.stdout
    assert "Traceback" not in checked.stderr, checked.stderr


def test_a_genuine_export_passes_with_its_manifest_signed_by_the_pinned_key(export: tuple[Path, str]) -> None:
    out, key_id = export
    manifest = _manifest(out)
    assert manifest["key_id"] == key_id and len(manifest["signature"]) == 128
    assert (manifest["seq_first"], manifest["seq_last"], manifest["entries"], manifest["checkpoints"]) == (1, 7, 7, 2)
    checked = _check(out, key_id)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"manifest signed by key {key_id}" in checked.stdout


def test_a_signed_prefix_presented_as_the_whole_export_fails(export: tuple[Path, str]) -> None:
    """Entries cut after the checkpoint at seq 4 (genuinely signed), the manifest fixed to match."""
    out, key_id = export
    lines = (out / "entries.jsonl").read_text("utf-8").splitlines(keepends=True)[:4]
    (out / "entries.jsonl").write_text("".join(lines), "utf-8")
    checkpoints = [c for c in json.loads((out / "checkpoints.json").read_text()) if c["seq"] <= 4]
    (out / "checkpoints.json").write_text(json.dumps(checkpoints))
    last = json.loads(lines[-1])
    manifest = _manifest(out)
    manifest.update(seq_last=4, entries=4, entries_in_range=4, checkpoints=1, entry_hash_last=last["entry_hash"],
                    at_last=repr(float(last["at"])))
    for name in ("entries.jsonl", "checkpoints.json"):
        manifest["sha256"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    _write_manifest(out, manifest)
    _broken(_check(out, key_id), "manifest.json: bad signature")
    _broken(_check(out), "manifest.json: bad signature")


@pytest.mark.parametrize("edit", ["exported_at", "from", "to", "unsigned", "v1"])
def test_an_edited_or_unsigned_manifest_fails(export: tuple[Path, str], edit: str) -> None:
    out, key_id = export
    manifest = _manifest(out)
    expected = "manifest.json: bad signature"
    if edit == "exported_at":
        manifest["exported_at"] = "2020-01-01T00:00:00+00:00"
    elif edit == "from":  # claims the export covers a requested period (every entry is still in it)
        manifest["from"] = "2026-11-01T00:00:00+08:00"
    elif edit == "to":
        manifest["to"] = "2027-01-01T00:00:00+08:00"
    else:
        manifest.pop("signature")
        if edit == "v1":
            manifest["format"] = "reachguard-ledger-export-v1"
        expected = "manifest.json is not signed"
    _write_manifest(out, manifest)
    _broken(_check(out, key_id), expected)


def test_a_manifest_signed_by_another_key_fails_when_the_key_is_pinned(export: tuple[Path, str]) -> None:
    out, key_id = export
    manifest = _manifest(out)
    manifest["key_id"] = "0" * 16
    _write_manifest(out, manifest)
    _broken(_check(out, key_id), f"manifest.json: signed by key {'0' * 16}, not by the trusted key {key_id}")


@pytest.mark.parametrize("content, expected", [
    ("not json", "malformed export"),
    ("[]", "manifest.json is not a JSON object"),
    (None, "cannot read the export"),
    ("MISSING_FIELD", "'entry_hash_last' is missing"),
    ("BAD_HEX", "malformed export"),
    ("BAD_NAME", "is not a file of the export"),
])
def test_a_malformed_manifest_is_a_clear_error_not_a_traceback(export: tuple[Path, str], content: str | None,
                                                               expected: str) -> None:
    out, key_id = export
    path = out / "manifest.json"
    if content is None:
        path.unlink()
    elif content in ("MISSING_FIELD", "BAD_HEX", "BAD_NAME"):
        manifest = _manifest(out)
        if content == "MISSING_FIELD":
            del manifest["entry_hash_last"]
        elif content == "BAD_HEX":
            manifest["signature"] = "zz"
        else:
            manifest["sha256"]["../../etc/passwd"] = "0" * 64
        _write_manifest(out, manifest)
    else:
        path.write_text(content)
    _broken(_check(out, key_id), expected)


@pytest.mark.parametrize("name", ["manifest.json", "checkpoints.json"])
def test_deeply_nested_json_is_broken_not_a_traceback(export: tuple[Path, str], name: str) -> None:
    """docs/api.md: a manifest that is not valid JSON is `BROKEN: …`, never a traceback; json.loads
    raises RecursionError on deep nesting, which verify.py did not catch."""
    out, key_id = export
    (out / name).write_text("[" * 100_000 + "]" * 100_000)
    if name != "manifest.json":  # the digest matches, so the file is parsed (the signature is checked last)
        manifest = _manifest(out)
        manifest["sha256"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
        _write_manifest(out, manifest)
    _broken(_check(out, key_id), "malformed export")


def test_the_printed_check_command_passes_after_a_key_rotation(tmp_path: Path) -> None:
    """The segment holds a checkpoint signed by the key before a rotation: checked exactly as
    `audit export` says to, a genuine export passes (it was BROKEN while verify.py took one KEY_ID
    and the printed command named only the current key)."""
    _, _, _, output = _rotated_export(tmp_path, old_key_signs_the_end=False)
    command = output.split("check it: python3 ")[1].split()
    checked = subprocess.run([sys.executable, "-S", "-I", *command], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _rotated_export(tmp_path: Path, *, old_key_signs_the_end: bool) -> tuple[Path, str, str, str]:
    """acme: a consent and an attempt, checkpointed with the old key; the key rotated; with
    `old_key_signs_the_end` nothing more is recorded (every checkpoint is the old key's, the
    manifest the new key's), else a second attempt follows (the export signs it with the new key).
    Returns the export folder, the old and new key ids, and `audit export`'s output."""
    db = tmp_path / "rg.db"
    world = World(store=SQLiteStore(str(db)))
    world.consent()
    world.attempt("2026-11-23T10:00:00+08:00")
    world.gateway.store.close()
    assert runner.invoke(app, ["audit", "checkpoint", "--db", str(db)]).exit_code == 0
    old = key_id_of(load_or_create_key(tmp_path / "rg.db.signing-key.pem").public_key())
    (tmp_path / "rg.db.signing-key.pem").rename(tmp_path / "old-key.pem")
    if not old_key_signs_the_end:
        world = World(store=SQLiteStore(str(db)))
        world.attempt("2026-11-23T11:00:00+08:00")
        world.gateway.store.close()
    out = tmp_path / "export"
    result = runner.invoke(app, ["audit", "export", "--org", "acme", "--out", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    new = _manifest(out)["key_id"]
    assert new != old
    return out, old, new, result.output


def test_after_a_rotation_the_command_lists_every_signing_key_and_warns_about_unpinned_ones(tmp_path: Path) -> None:
    out, old, new, output = _rotated_export(tmp_path, old_key_signs_the_end=False)
    assert output.rstrip().endswith(f"{out} {old},{new}"), output  # seq order: the old key's checkpoint first
    assert f"before a key rotation, by {old}; not in ledger_trusted_key_files: {old}" in output, output
    checked = _check(out, f"{old},{new}")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"signed by key(s) {old}, {new}; manifest signed by key {new}" in checked.stdout, checked.stdout
    assert _check(out, f"{new.upper()},{old},{new}").returncode == 0  # case and repeats do not matter


def test_a_checkpoint_signed_by_a_key_not_in_the_list_fails(tmp_path: Path) -> None:
    out, old, new, _ = _rotated_export(tmp_path, old_key_signs_the_end=False)
    _broken(_check(out, new), f"checkpoint seq 2: signed by key {old}, not by the trusted key {new}")
    other = "0" * 16
    _broken(_check(out, f"{new},{other}"),
            f"checkpoint seq 2: signed by key {old}, not by any of the trusted keys {new}, {other}")
    _broken(_check(out, old), f"checkpoint seq 3: signed by key {new}, not by the trusted key {old}")


def test_the_manifest_must_be_signed_by_one_of_the_pinned_keys(tmp_path: Path) -> None:
    """Every checkpoint is the old key's: pinning it alone passes them all, not the manifest."""
    out, old, new, output = _rotated_export(tmp_path, old_key_signs_the_end=True)
    assert output.rstrip().endswith(f"{out} {old},{new}"), output
    assert {c["key_id"] for c in json.loads((out / "checkpoints.json").read_text())} == {old}
    _broken(_check(out, old), f"manifest.json: signed by key {new}, not by the trusted key {old}")
    _broken(_check(out, f"{old},{'0' * 16}"), f"manifest.json: signed by key {new}, not by any of the trusted keys")
    assert _check(out, f"{old},{new}").returncode == 0


@pytest.mark.parametrize("argument, expected", [
    ("", "an empty key id"),
    (",", "an empty key id"),
    ("KEY,", "an empty key id"),
    ("KEY,,KEY", "an empty key id"),
    ("abc", "'abc' is not a key id"),
    ("KEY;KEY", "is not a key id"),
    ("g" * 16, "is not a key id"),
    ("KEY0", "is not a key id"),
])
def test_a_malformed_key_list_is_a_usage_error_not_a_traceback(export: tuple[Path, str], argument: str,
                                                                expected: str) -> None:
    out, key_id = export
    checked = _check(out, argument.replace("KEY", key_id))
    assert checked.returncode == 2 and checked.stdout == "", checked.stdout + checked.stderr
    assert checked.stderr.startswith("error: KEY_ID ") and expected in checked.stderr, checked.stderr
    assert "Traceback" not in checked.stderr


def test_a_wrong_number_of_arguments_is_a_usage_error(export: tuple[Path, str]) -> None:
    out, key_id = export
    checked = _check(out, key_id, key_id)
    assert checked.returncode == 2 and "Usage: python3 verify.py EXPORT_DIR [KEY_ID[,KEY_ID...]]" in checked.stderr


def _ranged_export(tmp_path: Path, name: str = "export") -> tuple[Path, Path, subprocess.CompletedProcess]:
    """acme: a consent and six hourly attempts; the 10:00-12:00 range exported (seq 2..3, a
    checkpoint signed at seq 3) while the org's chain runs on to seq 7."""
    db = tmp_path / "rg.db"
    if not db.exists():
        world = World(store=SQLiteStore(str(db)))
        world.consent()
        for hour in range(10, 16):
            world.attempt(f"2026-11-23T{hour}:00:00+08:00")
        world.gateway.store.close()
    out = tmp_path / name
    result = runner.invoke(app, ["audit", "export", "--org", "acme", "--out", str(out), "--db", str(db),
                                 "--from", "2026-11-23T10:00:00+08:00", "--to", "2026-11-23T12:00:00+08:00"])
    assert result.exit_code == 0, result.output
    return db, out, result


def test_the_manifest_signs_the_orgs_chain_head_at_export_time_and_the_ok_line_shows_it(tmp_path: Path) -> None:
    db, out, _ = _ranged_export(tmp_path)
    manifest = _manifest(out)
    assert manifest["format"] == "reachguard-ledger-export-v3"
    store = SQLiteStore(str(db))
    head = store.ledger_head("acme")
    store.close()
    assert head is not None and head[0] == 7 and manifest["seq_last"] == 3
    assert manifest["head"] == {"seq": 7, "entry_hash": head[1]}  # beyond the segment
    checked = _check(out, manifest["key_id"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (f"range from 2026-11-23T10:00:00+08:00 to 2026-11-23T12:00:00+08:00, 2 entries in it; "
            f"exported_at {manifest['exported_at']}; the org's chain head at export: seq 7 entry_hash {head[1]} "
            "(an older export of the same range verifies too") in checked.stdout, checked.stdout


def test_an_open_range_and_a_head_at_the_segments_end(export: tuple[Path, str]) -> None:
    out, key_id = export
    manifest = _manifest(out)
    assert manifest["head"] == {"seq": 7, "entry_hash": manifest["entry_hash_last"]}
    checked = _check(out, key_id)
    assert (f"range from (open) to (open), 7 entries in it; exported_at {manifest['exported_at']}; "
            f"the org's chain head at export: seq 7 entry_hash {manifest['entry_hash_last']}") in checked.stdout


@pytest.mark.parametrize("edit", ["seq", "entry_hash", "both"])
def test_editing_the_head_breaks_the_signature(tmp_path: Path, edit: str) -> None:
    _, out, _ = _ranged_export(tmp_path)
    manifest = _manifest(out)
    if edit in ("seq", "both"):
        manifest["head"]["seq"] = 4  # an older head, still at or after the segment's end
    if edit in ("entry_hash", "both"):
        manifest["head"]["entry_hash"] = "ab" * 32
    _write_manifest(out, manifest)
    _broken(_check(out, manifest["key_id"]), "manifest.json: bad signature")


@pytest.mark.parametrize("head, expected", [
    ("MISSING", "'head' is missing or not a dict"),
    ([7, "x"], "'head' is missing or not a dict"),
    ({"seq": "7", "entry_hash": "ab" * 32}, "'head' is not {\"seq\""),
    ({"seq": True, "entry_hash": "ab" * 32}, "'head' is not {\"seq\""),
    ({"seq": 7, "entry_hash": "AB" * 32}, "'head' is not {\"seq\""),
    ({"seq": 7, "entry_hash": "ab" * 32, "more": 1}, "'head' is not {\"seq\""),
    ({"seq": 2, "entry_hash": "ab" * 32}, "is before or differs from the segment's end"),
    ({"seq": 3, "entry_hash": "ab" * 32}, "is before or differs from the segment's end"),
])
def test_a_malformed_head_is_broken_not_a_traceback(tmp_path: Path, head: object, expected: str) -> None:
    _, out, _ = _ranged_export(tmp_path)
    manifest = _manifest(out)
    if head == "MISSING":
        del manifest["head"]
    else:
        manifest["head"] = head
    _write_manifest(out, manifest)
    _broken(_check(out, manifest["key_id"]), expected)


def test_a_v2_manifest_is_refused_with_a_clear_message(export: tuple[Path, str]) -> None:
    out, key_id = export
    manifest = _manifest(out)
    manifest["format"] = "reachguard-ledger-export-v2"
    del manifest["head"]
    _write_manifest(out, manifest)
    _broken(_check(out, key_id), "made before the manifest recorded the org's chain head")
    manifest["format"] = "reachguard-ledger-export-v9"
    _write_manifest(out, manifest)
    _broken(_check(out, key_id), "unknown format 'reachguard-ledger-export-v9'")


def test_an_older_export_of_the_same_range_still_verifies_but_its_head_is_behind_an_anchor(tmp_path: Path) -> None:
    """What verify.py cannot show (docs/api.md): a late-recorded event lands in the range after
    an export; the older export stays genuine, so it verifies, but its signed head is behind the
    org's head in an anchor made later, and a new export of the range counts the late entry."""
    db, old, _ = _ranged_export(tmp_path, "old")
    world = World(store=SQLiteStore(str(db)))
    world.attempt("2026-11-23T11:30:00+08:00")  # recorded now, at seq 8, but in the old range
    world.gateway.store.close()
    _, new, _ = _ranged_export(tmp_path, "new")
    anchor = tmp_path / "anchor.json"
    assert runner.invoke(app, ["audit", "anchor", "--out", str(anchor), "--db", str(db)]).exit_code == 0
    anchored = json.loads(anchor.read_text())["heads"]["acme"]
    older, newer = _manifest(old), _manifest(new)
    assert _check(old, older["key_id"]).returncode == 0  # still OK: genuine, signed
    assert older["head"]["seq"] == 7 and newer["head"] == anchored and anchored["seq"] == 8
    assert (older["entries_in_range"], newer["entries_in_range"]) == (2, 3)
    assert "chain head at export: seq 7 " in _check(old, older["key_id"]).stdout
