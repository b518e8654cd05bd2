"""Each kept row's state reduced to a signature, set-wise in DuckDB (marketing and service).

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

The store's numbers are matched by the same integer key as the list's (rows.py).
"""

from __future__ import annotations

from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa

from reachguard.policy.schema import Policy
from reachguard.scrub.export import FUTURE_BIT, ExportPlan
from reachguard.scrub.rows import num_sql

SIGNATURE = ("relation", "listed", "opted", "consent", "capbits", "zkey")
# The signature travels as one BIGINT (`sig`): grouping and joining one integer per row is far
# cheaper than six columns, three of them text. Bits, low to high: relation (3), listed (1),
# opted (1), consent (2), capbits (one per per-number cap), then the zone set's number.
RELATION_IDS = {"": 0, "borrower": 1, "contact": 2, "guarantor": 3, "prospect": 4}
CONSENT_IDS = {"N": 0, "W": 1, "E": 2, "A": 3}


def build(con: duckdb.DuckDBPyConnection, plan: ExportPlan, tables: dict[str, pa.Table], policy: Policy,
          zones: Callable[[str], str] | None = None) -> None:
    """Create `rg_feat(rid, sig, exact)` for every row of `rg_kept` (sig: SIGNATURE packed, see above)."""
    for name, table in tables.items():
        con.register(name + "_arrow", table)
    joins = []
    listed = opted = "false"
    consent = "0"
    capbits = "0"
    future = contacted = "false"
    if "rg_dnc" in tables:
        listed = "k.key IN (SELECT key FROM rg_dnc_arrow)"  # a mark join: no DISTINCT needed
    if "rg_consent" in tables:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE rg_consent_set AS SELECT key, status, micros FROM (
             SELECT key, status, micros, seq FROM rg_consent_arrow)
             QUALIFY row_number() OVER (PARTITION BY key ORDER BY micros DESC, seq DESC) = 1"""
        )  # the newest record by (at, seq), as rules/consent.latest_consent
        joins.append("LEFT JOIN rg_consent_set c ON c.key = k.key")
        consent = ("CASE c.status " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in CONSENT_IDS.items() if v)
                   + " ELSE 0 END")
    if "rg_optout" in tables:
        # every org's and this org's newest opt-out: one row per key in each (export.py)
        joins.append("LEFT JOIN rg_optout_arrow o ON o.key = k.key LEFT JOIN rg_optout_org_arrow g ON g.key = k.key")
        newest = "greatest(o.micros, g.micros)"
        # rules/consent.py: an opt-out stands unless the newest consent is not withdrawn and
        # came after it (every applicable opt-out, i.e. the latest one).
        lifted = f"(c.status IN ('E', 'A') AND c.micros > {newest})" if "rg_consent" in tables else "false"
        opted = f"((o.key IS NOT NULL OR g.key IS NOT NULL) AND NOT coalesce({lifted}, false))"
    if "rg_contact" in tables:
        bits = " | ".join(
            f"((sum((flags >> {i}) & 1) >= {cap.max})::INTEGER << {i})" for i, cap in enumerate(plan.caps)
        ) or "0"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE rg_contact_set AS
            SELECT key, {bits} AS capbits, bool_or(((flags >> {FUTURE_BIT}) & 1) = 1) AS future
            FROM rg_contact_arrow GROUP BY key"""
        )
        joins.append("LEFT JOIN rg_contact_set t ON t.key = k.key")
        capbits, future, contacted = "coalesce(t.capbits, 0)", "coalesce(t.future, false)", "t.key IS NOT NULL"
    zkey = "0"
    if zones is not None:
        found = con.execute(f"SELECT key, {num_sql('key')} FROM rg_kept").fetchall()
        ids: dict[str, int] = {}
        zone_ids = [ids.setdefault(zones(row[1]), len(ids)) for row in found]
        con.register("rg_zone_arrow", pa.table({"key": pa.array([row[0] for row in found], pa.int64()),
                                                 "zkey": pa.array(zone_ids, pa.int64())}))
        joins.append("LEFT JOIN rg_zone_arrow z ON z.key = k.key")
        zkey = "z.zkey"
    relation = ("CASE k.relation " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in RELATION_IDS.items() if v)
                + " ELSE 0 END")
    exact = [f"({future})", "k.key < 0"]
    if plan.subject_caps:
        exact.append("k.subject IS NOT NULL")
    if plan.contacts_exact:
        exact.append(f"({contacted})")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rg_feat AS
        SELECT k.rid, (({relation}) + (({listed})::BIGINT << 3) + (({opted})::BIGINT << 4) + (({consent})::BIGINT << 5)
                       + (({capbits})::BIGINT << 7) + (({zkey})::BIGINT << {7 + len(plan.caps)})) AS sig,
               ({' OR '.join(exact)}) AS exact
        FROM rg_kept k {' '.join(joins)}"""
    )
    for name in tables:
        con.unregister(name + "_arrow")


def row_codes(con: duckdb.DuckDBPyConnection, decided: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rid, code) of every row of `rg_feat` not judged one by one, its code its signature's.

    The lookup is a join inside DuckDB (parallel, beside the data) and only 4-byte row ids and
    2-byte codes come out: fetching 8-byte rids and signatures into numpy to look them up there
    cost twice as long on a 10M list."""
    con.register("rg_sig_codes", pa.table({"sig": pa.array(list(decided), pa.int64()),
                                           "code": pa.array(list(decided.values()), pa.int32())}))
    try:
        found = con.sql(
            "SELECT f.rid::INTEGER AS rid, coalesce(m.code, -1) AS code FROM rg_feat f "
            "LEFT JOIN rg_sig_codes m ON m.sig = f.sig WHERE NOT f.exact"
        ).fetchnumpy()
    finally:
        con.unregister("rg_sig_codes")
    rid, code = np.asarray(found["rid"]), np.asarray(found["code"])
    if len(code) and int(code.min()) < 0:
        raise RuntimeError("a row's signature was never judged")  # cannot happen: every group is judged
    return rid, code
