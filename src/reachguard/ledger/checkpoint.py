"""Signed checkpoints: Ed25519 signatures over (org, seq, entry_hash) of each chain's head.

A checkpoint made today protects everything before it against a later rewrite, even by
someone who can write the database and recompute every hash: they cannot forge the
signature. The private key is generated on first use and kept in a file (mode 600) beside
the database, or wherever `signing_key_file` says; every public key that ever signed is
also kept in the store's meta table (`ledger_public_key:<key_id>`), for exports.

The meta table is in the database, so it proves nothing to a verifier: whoever rewrites the
chain can also add a key of their own there and re-sign every checkpoint. Verification
therefore trusts only keys pinned outside the database (`TrustedKeys`): the public half of
the signing key the process is configured with, plus public keys the operator names
(`reachguard audit verify --trusted-key`, the `ledger_trusted_key_files` setting) - the
keys of earlier signing keys after a rotation, or the key of a database copied elsewhere.

The signed message is plain text so any Ed25519 implementation can check it:

    reachguard-checkpoint-v1\\n{org}\\n{seq}\\n{entry_hash}\\n{signed_at:.6f}\\n{key_id}
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from reachguard.store.base import Checkpoint, Store

MESSAGE_PREFIX = "reachguard-checkpoint-v1"
_META_PREFIX = "ledger_public_key:"


def checkpoint_message(org: str, seq: int, entry_hash: str, signed_at: float, key_id: str) -> bytes:
    return f"{MESSAGE_PREFIX}\n{org}\n{seq}\n{entry_hash}\n{signed_at:.6f}\n{key_id}".encode("utf-8")


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public: Ed25519PublicKey) -> str:
    """The first 16 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


class SigningKeyError(RuntimeError):
    """The signing key file cannot be read or written."""


@dataclass
class Signer:
    """Signs checkpoints with one Ed25519 key; registers its public key in the store."""

    private: Ed25519PrivateKey
    store: Store

    def __post_init__(self) -> None:
        self.public = self.private.public_key()
        self.key_id = key_id_of(self.public)
        meta_key = _META_PREFIX + self.key_id
        if self.store.get_meta(meta_key) is None:
            self.store.set_meta(meta_key, public_pem(self.public))

    @classmethod
    def open(cls, store: Store, path: Path | None) -> "Signer":
        """The key in `path` (created, mode 600, on first use); None: a key kept in memory only."""
        return cls(load_or_create_key(path) if path is not None else Ed25519PrivateKey.generate(), store)

    def sign(self, org: str, seq: int, entry_hash: str, signed_at: float | None = None) -> Checkpoint:
        at = round(time.time() if signed_at is None else signed_at, 6)
        signature = self.private.sign(checkpoint_message(org, seq, entry_hash, at, self.key_id)).hex()
        return Checkpoint(org, seq, entry_hash, at, self.key_id, signature)

    def checkpoint(self, org: str) -> Checkpoint | None:
        """Sign the org's current head unless it is already checkpointed; None for nothing new."""
        store = self.store
        with store.transaction():
            head = store.ledger_head(org)
            if head is None or store.checkpoints(org, seq_from=head[0]):
                return None
            checkpoint = self.sign(org, head[0], head[1])
            store.add_checkpoint(checkpoint)
        return checkpoint

    def checkpoint_all(self) -> list[Checkpoint]:
        return [c for org in self.store.ledger_orgs() if (c := self.checkpoint(org)) is not None]


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at `path`, created on first use.

    Several server processes may start at once on a fresh data directory: the key is written
    to a temporary file and hard-linked into place, so the name only ever appears with the
    whole key in it and exactly one process's key wins.
    """
    path = Path(path)
    if path.exists():
        return _load_key(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise SigningKeyError(f"cannot create the ledger signing key {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp creates it with mode 600
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)
    except FileExistsError:  # another process put its key in place first: use theirs
        return _load_key(path)
    except OSError as exc:
        raise SigningKeyError(f"cannot create the ledger signing key {path}: {exc.strerror}") from exc
    finally:
        os.unlink(tmp)
    return key


def load_existing_key(path: Path | None) -> Ed25519PrivateKey | None:
    """The signing key at `path` if that file exists; never creates one (for verifiers)."""
    if path is None or not Path(path).exists():
        return None
    return _load_key(Path(path))


def _load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"cannot load the ledger signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def public_keys(store: Store, key_ids: set[str]) -> dict[str, str]:
    """PEM public keys by key id, as registered in the store."""
    found = {}
    for key_id in sorted(key_ids):
        pem = store.get_meta(_META_PREFIX + key_id)
        if pem is not None:
            found[key_id] = pem
    return found


def verify_checkpoint(checkpoint: Checkpoint, pem: str | None) -> str | None:
    """None if the signature holds; otherwise the problem."""
    c = checkpoint
    return signature_problem(pem, c.key_id, c.signature, checkpoint_message(c.org, c.seq, c.entry_hash, c.signed_at, c.key_id))


def signature_problem(pem: str | None, key_id: str, signature: str, message: bytes) -> str | None:
    """None if `signature` (hex Ed25519) over `message` holds for the public key `pem`, whose id
    must be `key_id`; otherwise the problem (checkpoints, anchors)."""
    if pem is None:
        return f"unknown signing key {key_id}"
    try:
        public = serialization.load_pem_public_key(pem.encode("ascii"))
    except ValueError as exc:
        return f"unreadable public key {key_id}: {exc}"
    if not isinstance(public, Ed25519PublicKey) or key_id_of(public) != key_id:
        return f"public key registered as {key_id} does not match its id"
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return "bad signature"
    return None


class TrustedKeyError(ValueError):
    """A key named as trusted cannot be read or is not an Ed25519 public key."""


def load_public_key(value: str | Path) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text (as `reachguard audit public-key` prints) or a PEM file."""
    text = str(value)
    if "-----BEGIN" in text:
        data, name = text.encode("ascii", "replace"), "the PEM text"
    else:
        try:
            data, name = Path(text).read_bytes(), text
        except OSError as exc:
            raise TrustedKeyError(f"cannot read trusted key {text}: {exc.strerror or exc}") from exc
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise TrustedKeyError(f"trusted key {name} is not a PEM public key: {exc}") from exc
    if not isinstance(public, Ed25519PublicKey):
        raise TrustedKeyError(f"trusted key {name} is not an Ed25519 public key")
    return public


@dataclass(frozen=True)
class TrustedKeys:
    """The public keys whose checkpoint signatures a verification accepts, pinned outside the store.

    `hint` says, in the failure message, where trusted keys come from in this context;
    `missing` is the message when there is none at all (signatures then go unchecked).
    """

    pems: dict[str, str] = field(default_factory=dict)  # key_id -> PEM
    hint: str = "the signing key, or --trusted-key"
    missing: str = "signatures not checked: no trusted key (pass --trusted-key)"

    @classmethod
    def of(cls, publics: Iterable[Ed25519PublicKey], **kwargs: str) -> "TrustedKeys":
        return cls({key_id_of(p): public_pem(p) for p in publics}, **kwargs)

    def untrusted(self, checkpoint: Checkpoint) -> str:
        return (f"checkpoint at seq {checkpoint.seq} is signed by key {checkpoint.key_id}, "
                f"which is not a trusted key ({self.hint})")
