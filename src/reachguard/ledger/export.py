"""Ledger export: an org's entries plus the proof an external auditor checks without ReachGuard.

The export is a folder:

* `entries.jsonl` — one stored entry per line (all fields, `body` is the canonical JSON);
* `checkpoints.json` — the signed checkpoints that fall inside the exported segment;
* `public_keys.json` — the Ed25519 public keys (PEM and raw hex) that signed them;
* `manifest.json` — org, requested range, segment bounds, counts, SHA-256 of each file;
* `VERIFY.md` — how the hashes and signatures are computed, in words;
* `verify.py` — the same as a standalone Python 3 script (standard library only, including
  a pure-Python Ed25519 verifier from RFC 8032): `python3 verify.py EXPORT_DIR`.

A time range selects entries by `at`, but the chain is in recording order, so the export
holds the contiguous segment from the first to the last entry in range (entries in between
are included and marked `in_range: false` in the manifest's count), extended forward to the
next signed checkpoint so the segment is anchored by a signature. If no checkpoint covers the
end, one is signed at export time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from datetime import datetime
from pathlib import Path

import msgspec

from reachguard.ledger.checkpoint import Signer, public_keys
from reachguard.ledger.chain import GENESIS, columns_problem
from reachguard.store.base import Store

_encode = msgspec.json.Encoder().encode


class ExportError(ValueError):
    """Nothing to export, or the destination cannot be written."""


def export_ledger(
    store: Store,
    org: str,
    out_dir: Path,
    at_from: datetime | None = None,
    at_to: datetime | None = None,
    signer: Signer | None = None,
) -> dict:
    """Write the export folder; returns the manifest."""
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
        if signer is not None:
            entry = next(iter(store.ledger_range(org, last, last)))
            store.add_checkpoint(signer.sign(org, entry.seq, entry.entry_hash))
    checkpoints = store.checkpoints(org, seq_from=first, seq_to=end)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {out_dir}: {exc.strerror}") from exc
    count = in_range = 0
    start_prev = GENESIS
    digest = hashlib.sha256()
    with open(out_dir / "entries.jsonl", "wb") as out:
        for entry in store.ledger_range(org, first, end):
            if count == 0:
                start_prev = entry.prev_hash
            line = _encode(entry) + b"\n"
            digest.update(line)
            out.write(line)
            count += 1
            if (ts_from is None or entry.at >= ts_from) and (ts_to is None or entry.at < ts_to):
                in_range += 1
    cps = [dataclasses.asdict(c) for c in checkpoints]
    keys = public_keys(store, {c.key_id for c in checkpoints})
    key_rows = {kid: {"pem": pem, "raw_hex": _raw_hex(pem)} for kid, pem in keys.items()}
    files = {
        "checkpoints.json": json.dumps(cps, indent=1).encode(),
        "public_keys.json": json.dumps(key_rows, indent=1).encode(),
        "VERIFY.md": VERIFY_MD.encode(),
        "verify.py": VERIFY_PY.encode(),
    }
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    manifest = {
        "format": "reachguard-ledger-export-v1",
        "org": org,
        "from": at_from.isoformat() if at_from else None,
        "to": at_to.isoformat() if at_to else None,
        "seq_first": first,
        "seq_last": end,
        "start_prev_hash": start_prev,
        "entries": count,
        "entries_in_range": in_range,
        "checkpoints": len(cps),
        "sha256": {"entries.jsonl": digest.hexdigest(), **{n: hashlib.sha256(d).hexdigest() for n, d in files.items()}},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")
    return manifest


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
   (`python3 verify.py . KEY_ID`): a forger can replace `public_keys.json` too.
5. **Files.** `manifest.json`'s `sha256` lists each file's SHA-256.
6. **Columns.** The hashes cover `body`, not `tag` and `number`: a decision's `tag` must be its
   body's `decision.verdict` and its `number` the body's `decision.to` (or null when the first
   reason is `INVALID_NUMBER`); every other entry's `tag` is null.
"""


VERIFY_PY = r'''#!/usr/bin/env python3
"""Verify a ReachGuard ledger export with the Python standard library only.

Usage: python3 verify.py EXPORT_DIR [KEY_ID]      (exit 0: valid; 1: the first problem is printed)

KEY_ID: the signing key's id as the org gave it to you (`reachguard audit public-key`), out of
band. With it, every checkpoint must be signed by that key; without it, by a key listed in the
export itself, which someone who rewrote the export could have replaced.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

# --- Ed25519 verification, RFC 8032 section 6 (reference code) ---------------------------
p = 2**255 - 19
q = 2**252 + 27742317777372353535851937790883648493


def _inv(x):
    return pow(x, p - 2, p)


d = -121665 * _inv(121666) % p
_SQRT_M1 = pow(2, (p - 1) // 4, p)


def _add(P, Q):
    A, B = (P[1] - P[0]) * (Q[1] - Q[0]) % p, (P[1] + P[0]) * (Q[1] + Q[0]) % p
    C, D = 2 * P[3] * Q[3] * d % p, 2 * P[2] * Q[2] % p
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F, G * H, F * G, E * H)


def _mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = _add(Q, P)
        P = _add(P, P)
        s >>= 1
    return Q


def _equal(P, Q):
    return (P[0] * Q[2] - Q[0] * P[2]) % p == 0 and (P[1] * Q[2] - Q[1] * P[2]) % p == 0


def _recover_x(y, sign):
    if y >= p:
        return None
    x2 = (y * y - 1) * _inv(d * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (p + 3) // 8, p)
    if (x * x - x2) % p != 0:
        x = x * _SQRT_M1 % p
    if (x * x - x2) % p != 0:
        return None
    if (x & 1) != sign:
        x = p - x
    return x


_GY = 4 * _inv(5) % p
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % p)


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % p)


def ed25519_verify(public, message, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    A = _decompress(public)
    R = _decompress(signature[:32])
    if A is None or R is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % q
    return _equal(_mul(s, _G), _add(R, _mul(h, A)))


# --- the chain ------------------------------------------------------------------------------

def sha256(data):
    return hashlib.sha256(data).hexdigest()


# {columns_problem}: ledger/chain.py's own function, inserted when this module loads


def main(folder, trusted_key_id=None):
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    for name, digest in manifest["sha256"].items():
        if sha256((folder / name).read_bytes()) != digest:
            return f"{name}: SHA-256 differs from the manifest"
    keys = json.loads((folder / "public_keys.json").read_text("utf-8"))
    checkpoints = {c["seq"]: c for c in json.loads((folder / "checkpoints.json").read_text("utf-8"))}
    org = manifest["org"]
    prev, seq, count, hashes = manifest["start_prev_hash"], manifest["seq_first"], 0, {}
    with open(folder / "entries.jsonl", encoding="utf-8") as lines:
        for line in lines:
            e = json.loads(line)
            where = f"entry seq {e.get('seq')}"
            if e["org"] != org:
                return f"{where}: belongs to org {e['org']!r}, not {org!r}"
            if e["seq"] != seq:
                return f"{where}: expected seq {seq} (an entry was deleted, inserted or reordered)"
            if e["prev_hash"] != prev:
                return f"{where}: prev_hash does not match the previous entry"
            if sha256(e["body"].encode("utf-8")) != e["body_hash"]:
                return f"{where}: body was changed (body_hash mismatch)"
            material = f"{e['org']}\n{e['seq']}\n{e['kind']}\n{float(e['at'])!r}\n{e['prev_hash']}\n{e['body_hash']}"
            if sha256(material.encode("utf-8")) != e["entry_hash"]:
                return f"{where}: entry_hash mismatch"
            problem = columns_problem(e["kind"], e["body"], e.get("tag"), e.get("number"))
            if problem:
                return f"{where}: {problem} (the column was changed)"
            hashes[e["seq"]] = e["entry_hash"]
            prev, seq, count = e["entry_hash"], seq + 1, count + 1
    if count != manifest["entries"] or seq - 1 != manifest["seq_last"]:
        return f"expected {manifest['entries']} entries up to seq {manifest['seq_last']}, found {count} up to {seq - 1}"
    signed_up_to = None
    for cseq, c in sorted(checkpoints.items()):
        if hashes.get(cseq) != c["entry_hash"]:
            return f"checkpoint seq {cseq}: the signed hash differs from the entry (chain rewritten)"
        key = keys.get(c["key_id"])
        if key is None:
            return f"checkpoint seq {cseq}: unknown key {c['key_id']}"
        if trusted_key_id is not None and c["key_id"] != trusted_key_id:
            return f"checkpoint seq {cseq}: signed by key {c['key_id']}, not by the trusted key {trusted_key_id}"
        raw = bytes.fromhex(key["raw_hex"])
        if sha256(raw)[:16] != c["key_id"]:
            return f"checkpoint seq {cseq}: key id does not match the public key"
        message = (f"reachguard-checkpoint-v1\n{c['org']}\n{c['seq']}\n{c['entry_hash']}\n"
                   f"{c['signed_at']:.6f}\n{c['key_id']}").encode("utf-8")
        if c["org"] != org or not ed25519_verify(raw, message, bytes.fromhex(c["signature"])):
            return f"checkpoint seq {cseq}: bad signature"
        signed_up_to = cseq
    if signed_up_to != manifest["seq_last"]:
        # An export ends on a signed checkpoint: entries after the last one (added), a missing
        # tail (cut before it) or no checkpoint at all (stripped) cannot be told from a forgery.
        return (f"the last entry (seq {manifest['seq_last']}) carries no signed checkpoint"
                + (f" (the last is at seq {signed_up_to})" if signed_up_to else " (none is signed)")
                + ": entries were added, cut or re-chained after it")
    print(f"OK: {count} entries of {org} (seq {manifest['seq_first']}..{manifest['seq_last']}) chain correctly; "
          f"{len(checkpoints)} signed checkpoint(s) verified"
          + f", the last at seq {signed_up_to}" + ("" if trusted_key_id else "; pass the org's KEY_ID to pin the key"))
    return None


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    problem = main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)
    if problem:
        print("BROKEN: " + problem)
        sys.exit(1)
'''
# Step 6 is the check `reachguard audit verify` makes: one source, copied into the script.
VERIFY_PY = VERIFY_PY.replace("# {columns_problem}: ledger/chain.py's own function, inserted when this module loads\n",
                              inspect.getsource(columns_problem))
