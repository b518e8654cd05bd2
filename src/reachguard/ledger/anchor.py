"""Ledger anchors: each org's chain head (seq, entry_hash), signed, kept by the auditor outside
the database.

Why: a signed checkpoint protects the entries up to it, but nothing in the database protects the
entries after the last one. Whoever can write the database can cut that tail (or rewrite it with
recomputed hashes) and `audit verify` still says ok. An anchor made at audit time (`reachguard
audit anchor --out FILE`) and kept elsewhere remembers each head; `audit verify --anchor FILE`
reports BROKEN when an anchored entry is gone or differs.

The file is JSON: `{"format", "made_at", "key_id", "heads": {org: {"seq", "entry_hash"}},
"signature"}`; the signature (Ed25519, the ledger's signing key, hex) covers
`reachguard-ledger-anchor-v1\\n` + the file without `signature` as canonical JSON (sorted keys,
`,`/`:` separators, UTF-8). It is checked against the trusted keys, like a checkpoint's.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reachguard.ledger.checkpoint import Signer, TrustedKeys, signature_problem
from reachguard.ledger.manifest import signed_message
from reachguard.store.base import Store

ANCHOR_FORMAT = "reachguard-ledger-anchor-v1"
_HASH = re.compile(r"[0-9a-f]{64}")


class AnchorError(ValueError):
    """An anchor file that cannot be read or written, is malformed, or whose signature does not hold."""


@dataclass(frozen=True)
class Anchor:
    heads: dict[str, tuple[int, str]]  # org -> (seq, entry_hash)
    made_at: str
    key_id: str


def _message(data: dict[str, Any]) -> bytes:
    return signed_message(ANCHOR_FORMAT, data)


def make_anchor(store: Store, signer: Signer) -> dict[str, Any]:
    """The signed anchor of every org's current head (empty `heads` for an empty ledger)."""
    heads = {}
    for org in sorted(store.ledger_orgs()):
        head = store.ledger_head(org)
        if head is not None:
            heads[org] = {"seq": head[0], "entry_hash": head[1]}
    data = {"format": ANCHOR_FORMAT, "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "key_id": signer.key_id, "heads": heads}
    return {**data, "signature": signer.private.sign(_message(data)).hex()}


def write_anchor(path: Path, data: dict[str, Any]) -> None:
    """Write the anchor whole or not at all (a temporary file renamed into place)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    except OSError as exc:
        raise AnchorError(f"cannot write anchor {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, ensure_ascii=False)
            out.write("\n")
        os.chmod(tmp, 0o644)  # an anchor holds no secret; mkstemp made it 600
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise AnchorError(f"cannot write anchor {path}: {exc.strerror or exc}") from exc


def read_anchor(path: Path, trusted: TrustedKeys) -> Anchor:
    """The anchor in `path`, its shape and its signature (by a trusted key) checked."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise AnchorError(f"cannot read anchor {path}: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError) as exc:  # JSON or UTF-8; RecursionError: nested too deep
        raise AnchorError(f"anchor {path} is not JSON: {exc}") from None
    problem = _shape_problem(data)
    if problem is not None:
        raise AnchorError(f"anchor {path} is malformed: {problem}")
    if not trusted.pems:
        raise AnchorError(f"cannot check the signature of anchor {path}: no trusted key (pass --trusted-key)")
    pem = trusted.pems.get(data["key_id"])
    if pem is None:
        raise AnchorError(f"anchor {path} is signed by key {data['key_id']}, which is not a trusted key ({trusted.hint})")
    problem = signature_problem(pem, data["key_id"], data["signature"], _message(data))
    if problem is not None:
        raise AnchorError(f"anchor {path}: {problem}" + (" (the file was edited)" if problem == "bad signature" else ""))
    heads = {org: (h["seq"], h["entry_hash"]) for org, h in data["heads"].items()}
    return Anchor(heads, data["made_at"], data["key_id"])


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
        return f"not a {ANCHOR_FORMAT} file"
    for name in ("made_at", "key_id", "signature"):
        if not isinstance(data.get(name), str):
            return f"{name!r} is missing or not a string"
    heads = data.get("heads")
    if not isinstance(heads, dict):
        return "'heads' is missing or not an object"
    for org, head in heads.items():
        if not isinstance(head, dict) or not isinstance(head.get("entry_hash"), str) \
                or not _HASH.fullmatch(head["entry_hash"]):
            return f"the head of org {org!r} has no entry_hash"
        seq = head.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            return f"the head of org {org!r} has no seq"
    return None
