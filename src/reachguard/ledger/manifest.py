"""The signed manifest of a ledger export.

Why: the checkpoints prove each entry up to a signed seq, but not which segment the export
claims to be. A genuine signed *prefix* of an export (entries cut after an earlier checkpoint,
counts and digests in the manifest edited to match) passed as the whole of it. The manifest
(org, requested and covered time range, seq range, entry count, last entry hash, each file's
SHA-256) is now signed with the ledger's key, so any cut or edit breaks that signature.

Format v3 adds `head`: the org's chain head when the export was made (`{"seq", "entry_hash"}`
of its last entry then, possibly beyond the segment). Why: entries carry event times, so a
late-recorded event can land in an old range, and an older genuine export of the same range
still verifies as complete; with `exported_at` and `head` signed (and printed by verify.py), an
auditor can compare the export with an anchor (`reachguard audit anchor`) or a later export.
v2 manifests (no `head`) are refused by the v3 script: their own verify.py still checks them.

The signed message is the manifest without its `signature` field, as canonical JSON (sorted
keys, no whitespace, UTF-8, no float values), after a fixed first line:

    reachguard-export-manifest-v3\\n{canonical JSON}

`signed_message`, `manifest_message` and `manifest_problem` are copied into every export's verify.py (standard
library only), so they must stay self-contained: `json` and builtins, nothing else.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reachguard.ledger.checkpoint import Signer

MANIFEST_FORMAT = "reachguard-ledger-export-v3"


def signed_message(prefix: str, data: dict) -> bytes:
    """The bytes a signed JSON document's signature covers: `prefix`, a newline, then every field
    but `signature` as canonical JSON. Export manifests and anchors (anchor.py) alike."""
    fields = {k: v for k, v in data.items() if k != "signature"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (prefix + "\n" + text).encode("utf-8")


def manifest_message(manifest: dict) -> bytes:
    """The bytes the manifest's signature covers."""
    return signed_message("reachguard-export-manifest-v3", manifest)


def manifest_problem(manifest: Any) -> str | None:
    """Why this is not a well-formed signed (v3) manifest, or None. Checked before any field is used."""
    if not isinstance(manifest, dict):
        return "manifest.json is not a JSON object"
    form = manifest.get("format")
    if form in (None, "reachguard-ledger-export-v1") or "signature" not in manifest:
        return ("manifest.json is not signed (format %r): an export made before manifests were signed, "
                "whose entries could be a signed prefix of the real export; export it again" % (form,))
    if form == "reachguard-ledger-export-v2":
        return ("manifest.json is format 'reachguard-ledger-export-v2', made before the manifest recorded the org's "
                "chain head at export time: check it with the verify.py exported with it, or export the range again")
    if form != "reachguard-ledger-export-v3":
        return f"manifest.json: unknown format {form!r} (this script checks 'reachguard-ledger-export-v3')"
    kinds = {"org": str, "seq_first": int, "seq_last": int, "entries": int, "entries_in_range": int, "checkpoints": int,
             "start_prev_hash": str, "entry_hash_last": str, "at_first": str, "at_last": str, "exported_at": str,
             "head": dict, "key_id": str, "signature": str, "sha256": dict}
    for name, kind in kinds.items():
        value = manifest.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"manifest.json: {name!r} is missing or not a {kind.__name__}"
    head = manifest["head"]
    head_seq, head_hash = head.get("seq"), head.get("entry_hash")
    if (not isinstance(head_seq, int) or isinstance(head_seq, bool) or not isinstance(head_hash, str)
            or len(head_hash) != 64 or any(c not in "0123456789abcdef" for c in head_hash) or len(head) != 2):
        return "manifest.json: 'head' is not {\"seq\": an integer, \"entry_hash\": 64 hex digits}"
    if head_seq < manifest["seq_last"] or (head_seq == manifest["seq_last"] and head_hash != manifest["entry_hash_last"]):
        return "manifest.json: 'head' (the org's chain head at export time) is before or differs from the segment's end"
    for name in ("from", "to"):
        if manifest.get(name) is not None and not isinstance(manifest[name], str):
            return f"manifest.json: {name!r} is not a time or null"
    digests = manifest["sha256"]
    for name in ("entries.jsonl", "checkpoints.json", "public_keys.json"):
        if not isinstance(digests.get(name), str):
            return f"manifest.json: no SHA-256 of {name}"
    for name in digests:
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            return f"manifest.json: {name!r} is not a file of the export"
    return None


def sign_manifest(manifest: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """The manifest with `key_id` and `signature` (hex Ed25519) added."""
    unsigned = {**manifest, "key_id": signer.key_id}
    return {**unsigned, "signature": signer.private.sign(manifest_message(unsigned)).hex()}
