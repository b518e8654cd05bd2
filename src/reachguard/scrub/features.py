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
* any contact when calendar days depend on the recipient's zone (`us`).
"""

from __future__ import annotations

from typing import Callable

import duckdb
import pyarrow as pa

from reachguard.policy.schema import Policy
from reachguard.scrub.export import FUTURE_BIT, ExportPlan

SIGNATURE = ("relation", "listed", "opted", "consent", "capbits", "zkey")


def build(con: duckdb.DuckDBPyConnection, plan: ExportPlan, tables: dict[str, pa.Table], policy: Policy,
          zones: Callable[[str], str] | None = None) -> None:
    """Create `rg_feat(rid, <SIGNATURE>, exact)` for every row of `rg_kept`."""
    for name, table in tables.items():
        con.register(name + "_arrow", table)
    joins = []
    listed = opted = "false"
    consent = "'N'"
    capbits = "0"
    future = contacted = "false"
    if "rg_dnc" in tables:
        listed = "k.num IN (SELECT number FROM rg_dnc_arrow)"  # a mark join: no DISTINCT needed
    if "rg_consent" in tables:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE rg_consent_set AS SELECT number, status, micros FROM ("
            " SELECT split_part(pair, ':', 1) AS number, split_part(pair, ':', 2) AS status,"
            " CAST(split_part(pair, ':', 3) AS BIGINT) AS micros, CAST(split_part(pair, ':', 4) AS BIGINT) AS seq"
            " FROM rg_consent_arrow) QUALIFY row_number() OVER (PARTITION BY number ORDER BY micros DESC, seq DESC) = 1"
        )  # the newest record by (at, seq), as rules/consent.latest_consent
        joins.append("LEFT JOIN rg_consent_set c ON c.number = k.num")
        consent = "coalesce(c.status, 'N')"
    if "rg_optout" in tables:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE rg_opt_set AS SELECT split_part(pair, ':', 1) AS number, "
            "max(CAST(split_part(pair, ':', 2) AS BIGINT)) AS micros FROM rg_optout_arrow GROUP BY 1"
        )
        joins.append("LEFT JOIN rg_opt_set o ON o.number = k.num")
        # rules/consent.py: an opt-out stands unless the newest consent is not withdrawn and
        # came after it (every applicable opt-out, i.e. the latest one).
        lifted = "(c.status IN ('E', 'A') AND c.micros > o.micros)" if "rg_consent" in tables else "false"
        opted = f"(o.number IS NOT NULL AND NOT coalesce({lifted}, false))"
    if "rg_contact" in tables:
        bits = " | ".join(
            f"((sum((flags >> {i}) & 1) >= {cap.max})::INTEGER << {i})" for i, cap in enumerate(plan.caps)
        ) or "0"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE rg_contact_set AS
            SELECT number, {bits} AS capbits, bool_or(((flags >> {FUTURE_BIT}) & 1) = 1) AS future
            FROM (SELECT split_part(pair, ':', 1) AS number, CAST(split_part(pair, ':', 2) AS BIGINT) AS flags
                  FROM rg_contact_arrow) GROUP BY number"""
        )
        joins.append("LEFT JOIN rg_contact_set t ON t.number = k.num")
        capbits, future, contacted = "coalesce(t.capbits, 0)", "coalesce(t.future, false)", "t.number IS NOT NULL"
    zkey = "''"
    if zones is not None:
        nums = [row[0] for row in con.execute("SELECT DISTINCT num FROM rg_kept").fetchall()]
        con.register("rg_zone_arrow", pa.table({"num": pa.array(nums, pa.string()),
                                                 "zkey": pa.array([zones(n) for n in nums], pa.string())}))
        joins.append("LEFT JOIN rg_zone_arrow z ON z.num = k.num")
        zkey = "z.zkey"
    exact = [f"({future})"]
    if plan.subject_caps:
        exact.append("k.subject IS NOT NULL")
    if plan.contacts_exact:
        exact.append(f"({contacted})")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rg_feat AS
        SELECT k.rid, coalesce(k.relation, '') AS relation, {listed} AS listed, {opted} AS opted,
               {consent} AS consent, {capbits} AS capbits, {zkey} AS zkey, ({' OR '.join(exact)}) AS exact
        FROM rg_kept k {' '.join(joins)}"""
    )
    for name in tables:
        con.unregister(name + "_arrow")
