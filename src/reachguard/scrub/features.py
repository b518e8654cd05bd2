"""Each kept row's state reduced to a signature, set-wise (marketing and service).

Why signatures: the rules' answer for a row depends only on a few facts about its state — is
the number on a list that applies, does an opt-out stand (none, or one not followed by a
newer consent), what is its newest consent's status, which
caps are full, which zones govern it, which relation the row names. Rows sharing those facts
get the same verdict and reasons, so the engine judges one real row per signature (two, as a
check) instead of every row. Rows whose facts need time arithmetic the sets do not carry go to
the engine one by one (`exact`):

* contacts dated after --at (the cap windows have no upper bound);
* a row naming a subject when the policy has a per-subject cap;
* any contact when calendar days depend on the recipient's zone (`us`);
* a number without an integer key (rows.py: over 18 digits), whose stored copy has none either.

The store's numbers are matched by the same integer key as the list's (rows.py): each store
set's keys are located in the sorted kept keys by binary search (keysets.py), in numpy, instead
of DuckDB hash joins (docs/scrub.md: ~5 s of CPU less at 10M). Only the per-key reductions
(newest consent, contacts per cap) stay in DuckDB.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import duckdb
import numpy as np
import pyarrow as pa

from reachguard.policy.schema import Policy
from reachguard.scrub.export import FUTURE_BIT, ExportPlan
from reachguard.scrub.keysets import Kept, locate
from reachguard.scrub.rows import num_sql

SIGNATURE = ("relation", "listed", "opted", "consent", "capbits", "zkey")
# The signature travels as one int64 (`sig`): grouping one integer per row is far cheaper than
# six columns. Bits, low to high: relation (3), listed (1), opted (1), consent (2), capbits (one
# per per-number cap), then the zone set's number.
RELATION_IDS = {"": 0, "borrower": 1, "contact": 2, "guarantor": 3, "prospect": 4}
CONSENT_IDS = {"N": 0, "W": 1, "E": 2, "A": 3}
_NONE = np.iinfo(np.int64).min  # "no opt-out": older than any time


@dataclass(slots=True)
class Features:
    """Each kept row's signature, aligned with `Kept` (by key); `exact`: judged one by one."""

    rid: np.ndarray
    sig: np.ndarray
    exact: np.ndarray

    def table(self) -> pa.Table:
        return pa.table({"rid": self.rid, "sig": self.sig, "exact": self.exact})


def build(con: duckdb.DuckDBPyConnection, plan: ExportPlan, tables: dict[str, pa.Table], policy: Policy,
          kept: Kept, zones: Callable[[str], str] | None = None, *, relations: bool = False,
          subjects: bool = False) -> Features:
    """The signature of every kept row (SIGNATURE packed, see above). `relations` / `subjects`:
    the list has those columns (rg_rows holds them).

    Per-row arrays are bytes where they can be: on the bench's VM, first touching a new 76 MB
    int64 array cost about as much as a binary search of millions of keys."""
    size = len(kept)
    # The lookups are independent and numpy and DuckDB release the GIL: two at a time.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reachguard-features") as pool:
        listed = pool.submit(_listed, kept, tables["rg_dnc"]) if "rg_dnc" in tables else None
        consents = (pool.submit(_on_cursor, con.cursor(), _consents, kept, tables["rg_consent"])
                    if "rg_consent" in tables else None)
        contacts = (pool.submit(_on_cursor, con.cursor(), _contacts, plan, kept, tables["rg_contact"])
                    if "rg_contact" in tables else None)
        sig = _per_kept_row(con, kept, _relation_sql()) if relations else np.zeros(size, dtype=np.int64)
        opted_out = _opt_outs(kept, tables) if "rg_optout" in tables else None
        consent, consented = consents.result() if consents is not None else (None, None)
        if listed is not None:
            sig |= listed.result()
        if opted_out is not None:
            sig |= _standing(*opted_out, consent, consented).view(np.int8) << 4
        if consent is not None:
            sig |= consent << 5  # int8: at most 3 << 5
        exact = kept.key < 0
        if contacts is not None:
            capbits, future, contacted = contacts.result()
            sig |= capbits << 7
            exact |= future
            if plan.contacts_exact:
                exact |= contacted
    if zones is not None:
        sig |= _zone_keys(con, kept, zones) << (7 + len(plan.caps))
    if plan.subject_caps and subjects:
        exact |= _per_kept_row(con, kept, "subject IS NOT NULL").astype(bool)
    return Features(kept.rid, sig, exact)


def _on_cursor(cursor: duckdb.DuckDBPyConnection, work: Callable[..., Any], *args: Any) -> Any:
    """`work(cursor, *args)`, then the cursor closed: a connection of its own for a pool thread
    (a DuckDB connection is not shared between threads; cursors are made on the caller's)."""
    try:
        return work(cursor, *args)
    finally:
        cursor.close()


def _listed(kept: Kept, dnc: pa.Table) -> np.ndarray:
    """1 << 3 (the signature's bit) for each kept row on an applicable list, else 0 (int8)."""
    listed = np.zeros(len(kept), dtype=np.int8)
    listed[locate(kept.key, _column(dnc, "key"))[0]] = 1 << 3
    return listed


def _consents(con: duckdb.DuckDBPyConnection, kept: Kept, consents: pa.Table) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Each kept row's newest consent status (CONSENT_IDS, int8), and (positions, micros) of the
    rows that have one, positions ascending."""
    con.register("rg_consent_arrow", consents)
    ids = "CASE status " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in CONSENT_IDS.items() if v) + " ELSE 0 END"
    try:
        newest = con.sql(
            f"""SELECT key, ({ids})::TINYINT AS status, micros FROM rg_consent_arrow
            QUALIFY row_number() OVER (PARTITION BY key ORDER BY micros DESC, seq DESC) = 1 ORDER BY key"""
        ).fetchnumpy()  # the newest record by (at, seq), as rules/consent.latest_consent
    finally:
        con.unregister("rg_consent_arrow")
    status = np.zeros(len(kept), dtype=np.int8)
    at, found = locate(kept.key, newest["key"])
    status[at] = np.asarray(newest["status"])[found]
    return status, (at, np.asarray(newest["micros"])[found])


def _opt_outs(kept: Kept, tables: dict[str, pa.Table]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Which kept rows have an opt-out, every org's or this org's (one row per key in each,
    export.py), and for each of the two tables (positions, micros) of its hits."""
    opted = np.zeros(len(kept), dtype=bool)
    hits = []
    for name in ("rg_optout", "rg_optout_org"):
        at, found = locate(kept.key, _column(tables[name], "key"))
        opted[at] = True
        hits.append((at, _column(tables[name], "micros")[found]))
    return opted, hits


def _standing(opted: np.ndarray, hits: list[tuple[np.ndarray, np.ndarray]], consent: np.ndarray | None,
              consented: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The opt-outs that stand: all, unless the newest consent is not withdrawn and came after
    the newest opt-out (rules/consent.py). Changes and returns `opted`."""
    if consent is None or consented is None:
        return opted
    # only rows opted out with a consent that could lift it (few): positions ascending
    maybe = np.flatnonzero(opted & (consent >= CONSENT_IDS["E"]))
    newest_out = np.full(len(maybe), _NONE, dtype=np.int64)
    for at, micros in hits:
        where, found = locate(maybe, at)
        np.maximum.at(newest_out, where, micros[found])
    where, found = locate(consented[0], maybe)
    lifted = consented[1][where] > newest_out  # every `maybe` row has a consent: found is all True
    opted[maybe[lifted]] = False
    return opted


def _contacts(con: duckdb.DuckDBPyConnection, plan: ExportPlan, kept: Kept,
              contacts: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per kept row: which per-number caps are full (a bit each), a contact after --at, any contact."""
    con.register("rg_contact_arrow", contacts)
    bits = " | ".join(
        f"((sum((flags >> {i}) & 1) >= {cap.max})::BIGINT << {i})" for i, cap in enumerate(plan.caps)
    ) or "0::BIGINT"
    try:
        per_key = con.sql(
            f"""SELECT key, {bits} AS capbits, bool_or(((flags >> {FUTURE_BIT}) & 1) = 1) AS future
            FROM rg_contact_arrow GROUP BY key"""
        ).fetchnumpy()
    finally:
        con.unregister("rg_contact_arrow")
    capbits = np.zeros(len(kept), dtype=np.int64)
    future = np.zeros(len(kept), dtype=bool)
    contacted = np.zeros(len(kept), dtype=bool)
    at, found = locate(kept.key, per_key["key"])
    capbits[at] = np.asarray(per_key["capbits"])[found]
    future[at] = np.asarray(per_key["future"])[found]
    contacted[at] = True
    return capbits, future, contacted


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def _relation_sql() -> str:
    return "CASE relation " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in RELATION_IDS.items() if v) + " ELSE 0 END"


def _per_kept_row(con: duckdb.DuckDBPyConnection, kept: Kept, expression: str) -> np.ndarray:
    """`expression` (an integer) over rg_rows, for each kept row (the list's subject or relation column)."""
    found = con.sql(f"SELECT rid, ({expression})::BIGINT AS value FROM rg_rows").fetchnumpy()
    every = np.zeros(int(np.max(found["rid"], initial=-1)) + 1, dtype=np.int64)
    every[np.asarray(found["rid"])] = np.asarray(found["value"])
    return every[kept.rid]


def _zone_keys(con: duckdb.DuckDBPyConnection, kept: Kept, zones: Callable[[str], str]) -> np.ndarray:
    """The number of each kept key's zone set (policies with recipient time zones)."""
    found = con.execute(f"SELECT k.key, {num_sql('k.key')} FROM rg_kept k").fetchall()  # qualified: rg_odd has a key too
    ids: dict[str, int] = {}
    zone_ids = np.array([ids.setdefault(zones(row[1]), len(ids)) for row in found], dtype=np.int64)
    zkey = np.zeros(len(kept), dtype=np.int64)
    at, hit = locate(kept.key, np.array([row[0] for row in found], dtype=np.int64))
    zkey[at] = zone_ids[hit]
    return zkey


def row_codes(features: Features, decided: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rid, code) of every row not judged one by one, its code its signature's."""
    rid, sig = features.rid, features.sig
    if features.exact.any():
        judged = ~features.exact
        rid, sig = rid[judged], sig[judged]
    sigs = np.array(sorted(decided), dtype=np.int64)
    codes = np.array([decided[s] for s in sigs.tolist()], dtype=np.int32)
    if len(sig) == 0:
        return rid, np.empty(0, np.int32)
    at = np.searchsorted(sigs, sig) if len(sigs) else np.zeros(len(sig), np.int64)
    np.minimum(at, max(0, len(sigs) - 1), out=at)
    if not len(sigs) or not np.array_equal(sigs.take(at), sig):
        raise RuntimeError("a row's signature was never judged")  # cannot happen: every group is judged
    return rid, codes.take(at)
