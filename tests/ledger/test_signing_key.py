"""The ledger signing key file: created once, complete when visible, shared by every process."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from reachguard.ledger.checkpoint import SigningKeyError, load_or_create_key


def _public_pem(path: str) -> bytes:
    key = load_or_create_key(Path(path))
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_created_once_with_owner_only_mode_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing-key.pem"
    first = _public_pem(str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _public_pem(str(path)) == first
    assert [p.name for p in path.parent.iterdir()] == ["signing-key.pem"]  # no temporary file left behind


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = str(tmp_path / "signing-key.pem")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        keys = pool.map(_public_pem, [path] * 24)
    assert len(set(keys)) == 1
    assert keys[0] == _public_pem(path)


@pytest.mark.parametrize("content", [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\ngarbage\n"])
def test_unreadable_key_file_is_a_clear_error_and_is_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "signing-key.pem"
    path.write_bytes(content)
    with pytest.raises(SigningKeyError, match="cannot load the ledger signing key"):
        load_or_create_key(path)
    assert path.read_bytes() == content  # never overwritten


def test_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "signing-key.pem"
    other = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(SigningKeyError, match="not an Ed25519 private key"):
        load_or_create_key(path)
