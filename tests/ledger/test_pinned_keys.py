"""Checkpoints count only when signed by a key pinned outside the database.

The store's meta table (`ledger_public_key:<kid>`) is in the database: whoever rewrites the chain
can register a key of their own there and re-sign every checkpoint. `audit verify`, the API's
ledger verify and the console trust only the configured signing key and the keys the operator
names (`--trusted-key`, `ledger_trusted_key_files`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from worldkit import World
from reachguard.cli import app
from ledgerkit import rewrite_and_resign, small_ledger
from reachguard.ledger.checkpoint import key_id_of, public_pem
from reachguard.store import SQLiteStore

runner = CliRunner()
ATTACK_HINT = "which is not a trusted key (the signing key, or --trusted-key)"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = small_ledger(tmp_path)
    assert runner.invoke(app, ["audit", "checkpoint", "--db", str(path)]).exit_code == 0
    return path


def _key_file(db: Path) -> Path:
    return db.with_name(db.name + ".signing-key.pem")


def _verify(db: Path, *extra: str):
    return runner.invoke(app, ["audit", "verify", "--db", str(db), *extra])


def _public_key(db: Path, out: Path) -> Path:
    result = runner.invoke(app, ["audit", "public-key", "--db", str(db)])
    assert result.exit_code == 0, result.output
    out.write_text(result.stdout)
    return out


def _attack(db: Path, org: str = "acme") -> str:
    store = SQLiteStore(str(db))
    try:
        return rewrite_and_resign(store, org)
    finally:
        store.close()


def test_genuine_store_verifies_with_its_own_signing_key(db: Path) -> None:
    result = _verify(db)
    assert result.exit_code == 0, result.output
    assert "ok      acme: 7 entries, 1 signed checkpoint(s)" in result.output
    assert "ok      xinghe: 2 entries, 1 signed checkpoint(s)" in result.output


def test_rewrite_resigned_with_a_key_added_to_meta_fails(db: Path) -> None:
    kid = _attack(db)
    result = _verify(db)
    assert result.exit_code == 1, result.output
    assert f"BROKEN  acme: first broken entry seq 7: checkpoint at seq 7 is signed by key {kid}, {ATTACK_HINT}" \
        in result.output, result.output
    assert "ok      xinghe" in result.output


def test_rewrite_fails_even_when_the_genuine_key_is_also_trusted_explicitly(db: Path, tmp_path: Path) -> None:
    pub = _public_key(db, tmp_path / "genuine.pub.pem")
    kid = _attack(db)
    result = _verify(db, "--trusted-key", str(pub))
    assert result.exit_code == 1 and f"signed by key {kid}, which is not a trusted key" in result.output


def test_rotation_old_key_is_trusted_only_when_named(db: Path, tmp_path: Path) -> None:
    old_pub = _public_key(db, tmp_path / "old.pub.pem")
    store = SQLiteStore(str(db))
    old_kid = store.checkpoints("acme")[-1].key_id
    store.close()
    _key_file(db).rename(tmp_path / "retired-signing-key.pem")  # rotate: a new key is made on next use
    world = World(store=SQLiteStore(str(db)))
    world.attempt("2026-11-24T10:00:00+08:00")
    world.gateway.store.close()
    assert runner.invoke(app, ["audit", "checkpoint", "--db", str(db)]).exit_code == 0
    store = SQLiteStore(str(db))
    assert {c.key_id for c in store.checkpoints("acme")} - {old_kid}  # the new checkpoint has the new key
    store.close()

    result = _verify(db)
    assert result.exit_code == 1
    assert f"checkpoint at seq 7 is signed by key {old_kid}, {ATTACK_HINT}" in result.output

    result = _verify(db, "--trusted-key", str(old_pub))
    assert result.exit_code == 0, result.output
    assert "ok      acme: 8 entries, 2 signed checkpoint(s)" in result.output
    result = _verify(db, "--trusted-key", old_pub.read_text())  # PEM text works too
    assert result.exit_code == 0, result.output


def test_rotation_old_key_from_the_setting(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_pub = _public_key(db, tmp_path / "old.pub.pem")
    _key_file(db).rename(tmp_path / "retired-signing-key.pem")
    world = World(store=SQLiteStore(str(db)))
    world.attempt("2026-11-24T10:00:00+08:00")
    world.gateway.store.close()
    assert runner.invoke(app, ["audit", "checkpoint", "--db", str(db)]).exit_code == 0
    assert _verify(db).exit_code == 1
    monkeypatch.setenv("REACHGUARD_LEDGER_TRUSTED_KEY_FILES", json.dumps([str(old_pub)]))
    result = _verify(db)
    assert result.exit_code == 0, result.output


def test_no_trusted_key_is_not_ok_and_says_so(db: Path, tmp_path: Path) -> None:
    pub = _public_key(db, tmp_path / "ledger.pub.pem")
    _key_file(db).rename(tmp_path / "elsewhere.pem")  # a copy of the database, without its signing key
    result = _verify(db)
    assert result.exit_code == 2, result.output
    assert "UNCHECKED acme: 7 entries hold, but 1 checkpoint(s): signatures not checked: no trusted key " \
           "(pass --trusted-key)" in result.output
    assert not _key_file(db).exists()  # verify reads the signing key, never creates one
    assert _verify(db, "--trusted-key", str(pub)).exit_code == 0
    _attack(db)
    assert _verify(db).exit_code in (1, 2)  # never 0: nothing to trust
    result = _verify(db, "--trusted-key", str(pub))
    assert result.exit_code == 1 and "which is not a trusted key" in result.output


def test_chain_break_wins_over_unchecked(db: Path, tmp_path: Path) -> None:
    _key_file(db).rename(tmp_path / "elsewhere.pem")
    store = SQLiteStore(str(db))
    with store.read() as conn:
        conn.execute("DELETE FROM ledger WHERE org='acme' AND seq=3")
    store.close()
    result = _verify(db)
    assert result.exit_code == 1 and "BROKEN  acme: first broken entry seq 4" in result.output


@pytest.mark.parametrize("value", ["missing.pem", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"])
def test_unreadable_trusted_key_is_a_usage_error(db: Path, tmp_path: Path, value: str) -> None:
    result = _verify(db, "--trusted-key", value if value.startswith("-----") else str(tmp_path / value))
    assert result.exit_code == 2 and "error:" in result.output and "trusted key" in result.output


def test_a_private_or_non_ed25519_key_is_refused_as_trusted_key(db: Path) -> None:
    result = _verify(db, "--trusted-key", str(_key_file(db)))  # the private key file is not a public key
    assert result.exit_code == 2 and "not a PEM public key" in result.output


def test_public_pem_round_trips_as_trusted_key(db: Path) -> None:
    from reachguard.ledger.checkpoint import load_public_key

    key = Ed25519PrivateKey.generate()
    assert key_id_of(load_public_key(public_pem(key.public_key()))) == key_id_of(key.public_key())


def test_an_unreadable_trusted_key_setting_is_refused_at_load(tmp_path: Path) -> None:
    from reachguard.core.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="ledger_trusted_key_files"):
        load_settings(db_url=str(tmp_path / "x.db"), ledger_trusted_key_files=[str(tmp_path / "missing.pem")])
