"""The standalone `verify.py` written into every ledger export (Python standard library only).

Why a module of its own: the script is the auditor's whole trust in an export, so it is kept
apart from the code that writes exports; ledger/chain.columns_problem and the manifest's
ledger/manifest functions are copied into it from their one source (inspect.getsource).
"""

from __future__ import annotations

import inspect

from reachguard.ledger.chain import columns_problem
from reachguard.ledger.manifest import manifest_message, manifest_problem, signed_message

VERIFY_PY = r'''#!/usr/bin/env python3
"""Verify a ReachGuard ledger export with the Python standard library only.

Usage: python3 verify.py EXPORT_DIR [KEY_ID[,KEY_ID...]]
       (exit 0: valid; 1: the first problem is printed; 2: a usage error)

KEY_ID: a signing key's id as the org gave it to you (`reachguard audit public-key`), out of
band; after a key rotation, give every key that signed the export, comma-separated (earlier
checkpoints are signed by the earlier key). With them, the manifest and every checkpoint must be
signed by one of those keys; without them, by a key listed in the export itself, which someone
who rewrote the export could have replaced.

The OK line names the requested range, `exported_at` and the org's chain head when the export
was made (seq, entry_hash), all signed. An older genuine export of the same range verifies too
(events recorded later, with event times in the range, are not in it): compare exported_at and
the head with an anchor of the org's chain (`reachguard audit anchor`) or a fresh export.
"""
from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
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


# {copied}: ledger/chain.py's and ledger/manifest.py's own functions, inserted when this module loads


def _key(keys, key_id, trusted, what):
    """The raw public key `key_id` from public_keys.json, or the problem (as a str).

    `trusted`: the pinned key ids (a tuple), or None when none was given."""
    if trusted is not None and key_id not in trusted:
        if len(trusted) == 1:
            return f"{what}: signed by key {key_id}, not by the trusted key {trusted[0]}"
        return f"{what}: signed by key {key_id}, not by any of the trusted keys {', '.join(trusted)}"
    key = keys.get(key_id)
    if not isinstance(key, dict) or not isinstance(key.get("raw_hex"), str):
        return f"{what}: unknown key {key_id}"
    raw = bytes.fromhex(key["raw_hex"])
    if sha256(raw)[:16] != key_id:
        return f"{what}: key id does not match the public key"
    return raw


def trusted_key_ids(text):
    """The pinned key ids of the KEY_ID argument (`ID` or `ID,ID,...`), or the usage problem (a str)."""
    ids = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            return f"KEY_ID {text!r}: an empty key id (give KEY_ID or KEY_ID,KEY_ID,... without empty parts)"
        if len(part) != 16 or any(c not in "0123456789abcdef" for c in part):
            return f"KEY_ID {text!r}: {part!r} is not a key id (16 hex digits, as `reachguard audit public-key` prints it)"
        if part not in ids:
            ids.append(part)
    return tuple(ids)


def _timestamp(text):
    return None if text is None else datetime.fromisoformat(text).timestamp()


def main(folder, trusted=None):
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    problem = manifest_problem(manifest)
    if problem:
        return problem
    for name, digest in manifest["sha256"].items():
        if sha256((folder / name).read_bytes()) != digest:
            return f"{name}: SHA-256 differs from the manifest"
    keys = json.loads((folder / "public_keys.json").read_text("utf-8"))
    checkpoints = {c["seq"]: c for c in json.loads((folder / "checkpoints.json").read_text("utf-8"))}
    org = manifest["org"]
    ts_from, ts_to = _timestamp(manifest.get("from")), _timestamp(manifest.get("to"))
    prev, seq, count, in_range, hashes, first, last = manifest["start_prev_hash"], manifest["seq_first"], 0, 0, {}, None, None
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
            first = first if first is not None else e
            last = e
            if (ts_from is None or e["at"] >= ts_from) and (ts_to is None or e["at"] < ts_to):
                in_range += 1
            prev, seq, count = e["entry_hash"], seq + 1, count + 1
    # The entries must be exactly the segment the manifest describes: no more, no fewer.
    if count != manifest["entries"] or seq - 1 != manifest["seq_last"] or last is None:
        return f"expected {manifest['entries']} entries up to seq {manifest['seq_last']}, found {count} up to {seq - 1}"
    if (last["entry_hash"] != manifest["entry_hash_last"] or repr(float(first["at"])) != manifest["at_first"]
            or repr(float(last["at"])) != manifest["at_last"]):
        return "the entries' last hash or time range differs from the manifest"
    if in_range != manifest["entries_in_range"]:
        return f"expected {manifest['entries_in_range']} entries in the requested range, found {in_range}"
    if len(checkpoints) != manifest["checkpoints"]:
        return f"expected {manifest['checkpoints']} checkpoints, found {len(checkpoints)}"
    signed_up_to, signers = None, []
    for cseq, c in sorted(checkpoints.items()):
        if hashes.get(cseq) != c["entry_hash"]:
            return f"checkpoint seq {cseq}: the signed hash differs from the entry (chain rewritten)"
        raw = _key(keys, c["key_id"], trusted, f"checkpoint seq {cseq}")
        if isinstance(raw, str):
            return raw
        message = (f"reachguard-checkpoint-v1\n{c['org']}\n{c['seq']}\n{c['entry_hash']}\n"
                   f"{c['signed_at']:.6f}\n{c['key_id']}").encode("utf-8")
        if c["org"] != org or not ed25519_verify(raw, message, bytes.fromhex(c["signature"])):
            return f"checkpoint seq {cseq}: bad signature"
        signed_up_to = cseq
        signers += [] if c["key_id"] in signers else [c["key_id"]]
    if signed_up_to != manifest["seq_last"]:
        # An export ends on a signed checkpoint: entries after the last one (added), a missing
        # tail (cut before it) or no checkpoint at all (stripped) cannot be told from a forgery.
        return (f"the last entry (seq {manifest['seq_last']}) carries no signed checkpoint"
                + (f" (the last is at seq {signed_up_to})" if signed_up_to else " (none is signed)")
                + ": entries were added, cut or re-chained after it")
    # Last, the manifest's own signature: it binds the org, the ranges, the count, the last hash
    # and every file's digest, so a signed prefix presented as the whole export fails here.
    raw = _key(keys, manifest["key_id"], trusted, "manifest.json")
    if isinstance(raw, str):
        return raw
    if not ed25519_verify(raw, manifest_message(manifest), bytes.fromhex(manifest["signature"])):
        return "manifest.json: bad signature (the manifest was edited: range, count or a digest)"
    # What the signatures cannot show: that this is the latest export of the range (entries carry
    # event times, so events recorded later can fall in it). Print what to compare with an anchor.
    head = manifest["head"]
    print(f"OK: {count} entries of {org} (seq {manifest['seq_first']}..{manifest['seq_last']}) chain correctly; "
          f"{len(checkpoints)} signed checkpoint(s) verified, the last at seq {signed_up_to}, signed by key(s) "
          f"{', '.join(signers)}; manifest signed by key {manifest['key_id']}; "
          f"range from {manifest.get('from') or '(open)'} to {manifest.get('to') or '(open)'}, "
          f"{manifest['entries_in_range']} entries in it; exported_at {manifest['exported_at']}; "
          f"the org's chain head at export: seq {head['seq']} entry_hash {head['entry_hash']} "
          "(an older export of the same range verifies too: compare exported_at and the head with an anchor)"
          + ("" if trusted else "; pass the org's KEY_ID(s) to pin the keys"))
    return None


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    trusted = None if len(sys.argv) == 2 else trusted_key_ids(sys.argv[2])
    if isinstance(trusted, str):
        print(f"error: {trusted}", file=sys.stderr)
        sys.exit(2)
    try:
        problem = main(sys.argv[1], trusted)
    except OSError as exc:
        problem = f"cannot read the export: {exc}"
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        problem = f"malformed export ({type(exc).__name__}: {exc})"
    if problem:
        print("BROKEN: " + problem)
        sys.exit(1)
'''
VERIFY_PY = VERIFY_PY.replace(
    "# {copied}: ledger/chain.py's and ledger/manifest.py's own functions, inserted when this module loads\n",
    "\n\n".join(inspect.getsource(f) for f in (columns_problem, signed_message, manifest_message, manifest_problem)),
)
