"""Ledger export: an org's entries plus the proof an external auditor checks without ReachGuard.

The export is a folder:

* `entries.jsonl` — one stored entry per line (all fields, `body` is the canonical JSON);
* `checkpoints.json` — the signed checkpoints that fall inside the exported segment;
* `public_keys.json` — the Ed25519 public keys (PEM and raw hex) that signed them;
* `manifest.json` — org, requested range, segment bounds (seqs, times, last entry hash), counts,
  SHA-256 of each file, `exported_at` and the org's chain head at export time (`head`), signed
  with the ledger's key (ledger/manifest.py);
* `VERIFY.md` — how the hashes and signatures are computed, in words;
* `verify.py` — the same as a standalone Python 3 script (standard library only, including
  a pure-Python Ed25519 verifier from RFC 8032; ledger/export_script.py):
  `python3 verify.py EXPORT_DIR [KEY_ID[,KEY_ID...]]` (every key that signed, after a rotation).

A time range selects entries by `at`, but the chain is in recording order, so the export
holds the contiguous segment from the first to the last entry in range (entries in between
are included and marked `in_range: false` in the manifest's count), extended forward to the
next signed checkpoint so the segment is anchored by a signature. If no checkpoint covers the
end, one is signed at export time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from reachguard.ledger.checkpoint import Signer, public_keys
from reachguard.ledger.chain import GENESIS
from reachguard.ledger.export_script import VERIFY_PY
from reachguard.ledger.manifest import MANIFEST_FORMAT, sign_manifest
from reachguard.store.base import Store

_encode = msgspec.json.Encoder().encode


class ExportError(ValueError):
    """Nothing to export, or the destination cannot be written."""


@dataclasses.dataclass(frozen=True)
class Exported:
    """What `export_ledger` wrote: the signed manifest, and every key id that signed the export."""

    manifest: dict
    key_ids: list[str]  # the checkpoints' keys in seq order, then the manifest's, each once


def export_ledger(
    store: Store,
    org: str,
    out_dir: Path,
    at_from: datetime | None,
    at_to: datetime | None,
    signer: Signer,
) -> Exported:
    """Write the export folder; returns the signed manifest and every key that signed the export.

    Why the key ids: after a key rotation the older checkpoints of a segment are signed by the
    earlier key, so the auditor must pin all of them (`verify.py DIR KEY_ID,KEY_ID`), not only
    the current one."""
    ts_from = at_from.timestamp() if at_from else None
    ts_to = at_to.timestamp() if at_to else None
    bounds = store.ledger_seq_bounds(org, ts_from, ts_to)
    if bounds is None:
        raise ExportError(f"org {org!r} has no ledger entries in that range")
    first, last = bounds
    later = store.checkpoints(org, seq_from=last)[:1]
    if later:
        end = later[0].seq
    else:
        end = last
        entry = next(iter(store.ledger_range(org, last, last)))
        store.add_checkpoint(signer.sign(org, entry.seq, entry.entry_hash))
    checkpoints = store.checkpoints(org, seq_from=first, seq_to=end)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {out_dir}: {exc.strerror}") from exc
    count = in_range = 0
    start_prev = GENESIS
    first_entry = last_entry = None
    digest = hashlib.sha256()
    with open(out_dir / "entries.jsonl", "wb") as out:
        for entry in store.ledger_range(org, first, end):
            if count == 0:
                start_prev, first_entry = entry.prev_hash, entry
            last_entry = entry
            line = _encode(entry) + b"\n"
            digest.update(line)
            out.write(line)
            count += 1
            if (ts_from is None or entry.at >= ts_from) and (ts_to is None or entry.at < ts_to):
                in_range += 1
    cps = [dataclasses.asdict(c) for c in checkpoints]
    keys = public_keys(store, {c.key_id for c in checkpoints} | {signer.key_id})
    key_rows = {kid: {"pem": pem, "raw_hex": _raw_hex(pem)} for kid, pem in keys.items()}
    files = {
        "checkpoints.json": json.dumps(cps, indent=1).encode(),
        "public_keys.json": json.dumps(key_rows, indent=1).encode(),
        "VERIFY.md": VERIFY_MD.encode(),
        "verify.py": VERIFY_PY.encode(),
    }
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    # The org's head now (after the segment was read, so at or beyond its end): signed into the
    # manifest, so an auditor can tell an older export of the same range from this one.
    head = store.ledger_head(org)
    if first_entry is None or last_entry is None or head is None or head[0] < end:
        raise ExportError(f"org {org!r}: the ledger changed during the export; try again")
    manifest = {
        "format": MANIFEST_FORMAT,
        "org": org,
        "from": at_from.isoformat() if at_from else None,
        "to": at_to.isoformat() if at_to else None,
        "seq_first": first,
        "seq_last": end,
        "start_prev_hash": start_prev,
        "entry_hash_last": last_entry.entry_hash,
        "at_first": repr(float(first_entry.at)),
        "at_last": repr(float(last_entry.at)),
        "entries": count,
        "entries_in_range": in_range,
        "checkpoints": len(cps),
        "sha256": {"entries.jsonl": digest.hexdigest(), **{n: hashlib.sha256(d).hexdigest() for n, d in files.items()}},
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "head": {"seq": head[0], "entry_hash": head[1]},
    }
    manifest = sign_manifest(manifest, signer)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")
    key_ids = list(dict.fromkeys([c.key_id for c in sorted(checkpoints, key=lambda c: c.seq)] + [manifest["key_id"]]))
    return Exported(manifest, key_ids)


def _raw_hex(pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_pem_public_key(pem.encode("ascii"))
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


VERIFY_MD = """# Verifying a ReachGuard ledger export

Files: `entries.jsonl` (one entry per line), `checkpoints.json`, `public_keys.json`, `manifest.json`.
`python3 verify.py .` does every check below with the Python standard library only.

1. **Body hash.** For each entry, `body_hash` = SHA-256 (hex) of the UTF-8 bytes of `body`
   (`body` is canonical JSON: sorted keys, no whitespace).
2. **Entry hash.** `entry_hash` = SHA-256 (hex) of the UTF-8 text
   `org + "\\n" + seq + "\\n" + kind + "\\n" + at + "\\n" + prev_hash + "\\n" + body_hash`,
   where `seq` is the decimal integer and `at` is Python's `repr()` of the float (shortest
   round-trip decimal, always with a `.` or an exponent: `1795000000.0`, `1795000000.123`).
3. **Chain.** Entries are consecutive: each `seq` is the previous one + 1 and each `prev_hash`
   equals the previous entry's `entry_hash`; the first entry's `prev_hash` equals the
   manifest's `start_prev_hash` (64 zeros when the export starts at seq 1).
   Any edited, deleted, inserted or reordered entry breaks 1, 2 or 3.
4. **Checkpoints.** Each checkpoint's `entry_hash` equals the `entry_hash` of the exported
   entry with the same `seq`, and its `signature` (hex, Ed25519) verifies with the public key
   `key_id` (`raw_hex` in public_keys.json; key_id = first 16 hex digits of SHA-256 of the raw
   key) over the UTF-8 message
   `"reachguard-checkpoint-v1\\n" + org + "\\n" + seq + "\\n" + entry_hash + "\\n" + signed_at + "\\n" + key_id`
   with `signed_at` written with exactly 6 decimals (`1795000000.000000`).
   The segment must end on a signed checkpoint (an export always does): it makes every entry
   before it tamper-evident, even against someone who recomputed all hashes, and shows a tail
   that was cut or extended. Give `verify.py` the key id the org gave you out of band
   (`python3 verify.py . KEY_ID`): a forger can replace `public_keys.json` too. After a key
   rotation the older checkpoints are signed by the earlier key: give every key id that signed,
   comma-separated (`python3 verify.py . OLD_KEY_ID,NEW_KEY_ID`); each checkpoint and the
   manifest must then be signed by one of them.
5. **Files.** `manifest.json`'s `sha256` lists each file's SHA-256. The entries are exactly the
   segment the manifest describes: `seq_first`..`seq_last`, `entries` of them, the last one's
   `entry_hash` is `entry_hash_last`, the first and last `at` (as in 2) are `at_first` and
   `at_last`, `entries_in_range` of them have `from` <= `at` < `to`, and `checkpoints` checkpoints.
   `head` is the org's chain head when the export was made (`seq`, `entry_hash` of its last entry
   then): at or after `seq_last`, and equal to the last entry when it is `seq_last`.
6. **Columns.** The hashes cover `body`, not `tag` and `number`: a decision's `tag` must be its
   body's `decision.verdict` and its `number` the body's `decision.to` (or null when the first
   reason is `INVALID_NUMBER`); every other entry's `tag` is null.
7. **Manifest signature.** `signature` (hex, Ed25519) verifies with the public key `key_id`
   (pinned by the `KEY_ID`s as in 4) over the UTF-8 text `"reachguard-export-manifest-v3\n"` followed
   by the manifest without its `signature` field as canonical JSON (keys sorted, separators `,`
   and `:` without spaces, non-ASCII characters as they are). It binds the org, the ranges, the
   count, the last hash and every file's digest: without it, a genuine signed *prefix* of an
   export (entries cut after an earlier checkpoint, the manifest edited to match) passed 1-6.
   Exports made before this step (`format` `reachguard-ledger-export-v1`) carry no signature
   and are refused by this script; their own `verify.py` checks 1-6 only. Exports of format
   `reachguard-ledger-export-v2` (signed, without `head`) are refused too; their own `verify.py`
   checks them.

**What this cannot show.** Entries carry event times, so an event recorded after the export can
fall in its range; an older genuine export of the same range still verifies. `verify.py` prints
the range, `exported_at` and `head` (all signed): compare them with an anchor of the org's chain
(`reachguard audit anchor`: each org's `seq` and `entry_hash`, signed, kept outside the database)
or a fresh export. A `head.seq` below the anchor's means the export was made before the anchor:
entries recorded in between (late events in its range among them) are not in it, so ask for a
fresh export; an equal `seq` must come with the same `entry_hash`.
"""


