"""The store's state as typed sets, read from a PostgreSQL store inside the scrub's snapshot.

The same reductions as export.py (one table per rule: rg_dnc, rg_optout, rg_optout_org,
rg_consent, rg_contact, with the same columns, keys and microsecond times), in PostgreSQL's
dialect. A PostgreSQL store has no `dnc_keys`/`opt_out_keys`: the stored numbers are fetched
as text and keyed by Arrow (`arrow_key`, the rule of sqlite_keys.key_sql and rows.key_sql), and
the newest opt-out per number is picked by Arrow too (`newest`) — both measured cheaper than
doing them in PostgreSQL, and than a migration adding key columns (docs/scrub.md).

Why ADBC (`adbc-driver-postgresql`): it fetches with binary COPY straight into Arrow columns,
no Python object per row. It runs in this process (no second copy of SQLite is involved, so no
child is needed) on a connection of its own that imports the snapshot of the scrub's
REPEATABLE READ transaction (`SET TRANSACTION SNAPSHOT`): both see exactly the same commits.

PostgreSQL + Redis: the frequency counters live in Redis (every contact is also written to
PostgreSQL, after Redis, with the same token). rg_contact is PostgreSQL's contacts plus those
only Redis holds (a copy in flight, or whose commit failed after Redis took it), matched by
(number, token) and flagged by `contact_flags` exactly as the SQL flags PostgreSQL's — the union
decide counts (redis_counters: a window Redis does not cover is merged with PostgreSQL's rows;
one it covers holds every contact PostgreSQL has). Redis is read once (redis_windows.py) and
the engine's view (snapshot_pg.PgView) merges those same members for the rows it judges.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from reachguard.scrub.export import FUTURE_BIT, ExportPlan, Query, arrow_key, typed
from reachguard.scrub.redis_windows import RedisWindows
from reachguard.state import CHANNEL_BITS

_KEYABLE = re.compile(r"\+[1-9][0-9]{0,17}")


def micros(column: str) -> str:
    """Integer microseconds, rounded as SQLite's round() rounds a positive value (half up)."""
    return f"floor({column} * 1000000 + 0.5)::bigint"


def literal(value: Any) -> str:
    """A SQL literal (the plan's values are few; standard_conforming_strings is set on)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite time: {value!r}")
        return f"{value!r}::float8"
    text = str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot be sent to PostgreSQL")
    return "'" + text.replace("'", "''") + "'"


def _in(values: Any) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"


def queries(plan: ExportPlan) -> list[Query]:
    """export.queries for PostgreSQL (the SQL has its values inlined; params are empty). Each
    query's first column is the stored number; `export` turns it into `key` (`arrow_key`)."""
    found: list[Query] = []
    bit = CHANNEL_BITS[plan.channel]
    text, whole = pa.string(), pa.int64()
    if "dnc" in plan.rule_names:
        lists = _in(plan.lists) if plan.lists else "(NULL)"
        # a key on several lists comes once per list: features.py only asks "IN rg_dnc"
        found.append(Query("rg_dnc", f"SELECT number FROM dnc WHERE list IN {lists}", (), pa.schema([("key", whole)])))
    if "opt_out" in plan.rule_names:
        kinds = "" if plan.complaints_count else " AND kind IS DISTINCT FROM 'complaint'"
        # Every counting opt-out row; `newest` keeps one row per key (the newest) after the fetch.
        for name, scope in (("rg_optout", "org IS NULL"), ("rg_optout_org", f"org = {literal(plan.org)}")):
            found.append(Query(
                name,
                f"SELECT number, {micros('at')} AS micros FROM opt_outs WHERE {scope} AND (channels & {bit}) <> 0{kinds}",
                (), pa.schema([("key", whole), ("micros", whole)])))
    if "consent" in plan.rule_names:
        at = literal(plan.at_ts)
        found.append(Query(
            "rg_consent",
            f"SELECT number, CASE WHEN withdrawn THEN 'W' WHEN expires_at IS NOT NULL AND expires_at <= {at} "
            f"THEN 'E' ELSE 'A' END AS status, {micros('at')} AS micros, seq::bigint AS seq FROM consents "
            f"WHERE org = {literal(plan.org)} AND (channels & {bit}) <> 0",
            (), pa.schema([("key", whole), ("status", text), ("micros", whole), ("seq", whole)])))
    if "frequency" in plan.rule_names and (plan.caps or plan.subject_caps):
        terms = [f"((CASE WHEN at > {literal(plan.at_ts)} THEN 1 ELSE 0 END)::bigint << {FUTURE_BIT})"]
        for index, (cap, start) in enumerate(zip(plan.caps, plan.cap_starts or [0.0] * len(plan.caps))):
            cond = f"at >= {literal(float(start))}"
            if cap.channels is not None:
                cond += f" AND channel IN {_in(cap.channels)}"
            if cap.relations is not None:
                cond += f" AND relation IN {_in(cap.relations)}"
            terms.append(f"((CASE WHEN {cond} THEN 1 ELSE 0 END)::bigint << {index})")
        found.append(Query(
            "rg_contact",
            f"SELECT number, ({' | '.join(terms)}) AS flags, {TOKEN} AS token FROM contacts "
            f"WHERE org = {literal(plan.org)} AND purpose = {literal(plan.purpose)} AND at >= {literal(float(plan.since))}",
            (), pa.schema([("key", whole), ("flags", whole), ("token", text)])))
    return found


# A contact's identity, as its Redis member carries it (redis_counters.contact_token).
TOKEN = "coalesce(NULLIF(token, ''), 's' || seq::text)"


def contact_flags(plan: ExportPlan, at: float, channel: str, relation: str) -> int:
    """The flags `queries` computes in SQL for one contact (for contacts read from Redis)."""
    flags = (at > plan.at_ts) << FUTURE_BIT
    for index, (cap, start) in enumerate(zip(plan.caps, plan.cap_starts or [0.0] * len(plan.caps))):
        if at >= start and (cap.channels is None or channel in cap.channels) and (cap.relations is None or relation in cap.relations):
            flags |= 1 << index
    return flags


def adbc_uri(url: str) -> str:
    """The libpq URI of a store URL (our own parameters — schema, pool_size… — taken out)."""
    from reachguard.store.pg_engine import parse_url

    return parse_url(url)[0].set(drivername="postgresql").render_as_string(hide_password=False)


def export(url: str, schema: str | None, snapshot: str, plan: ExportPlan, windows: RedisWindows | None = None) -> dict[str, pa.Table]:
    """Run `queries(plan)` through ADBC inside the exported snapshot `snapshot`; with Redis
    `windows` (read once, shared with the engine's view), rg_contact also holds the contacts
    only Redis has (`with_redis`)."""
    import adbc_driver_postgresql.dbapi as adbc

    conn = adbc.connect(adbc_uri(url), autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute(f"SET TRANSACTION SNAPSHOT {literal(snapshot)}")
        cur.execute("SET LOCAL standard_conforming_strings = on")
        if schema:
            cur.execute("SET LOCAL search_path TO " + '"' + schema.replace('"', '""') + '"')
        tables = {}
        for query in queries(plan):
            cur.execute(query.sql)
            table = keyed(cur.fetch_arrow_table(), drop=query.name in _KEYED_ONLY)
            table = typed(table, query.schema)
            tables[query.name] = newest(table) if query.name.startswith("rg_optout") else table
        cur.execute("ROLLBACK")
        cur.close()
    finally:
        conn.close()
    if "rg_contact" in tables:
        contact = tables["rg_contact"]
        if windows is not None:
            contact = with_redis(contact, *redis_contacts(windows, plan))
        tables["rg_contact"] = contact.select(["key", "flags"])
    return tables


# Sets that hold keyed numbers only (as the SQLite key tables do); the others keep key 0 rows.
_KEYED_ONLY = {"rg_dnc", "rg_optout", "rg_optout_org"}


def keyed(table: pa.Table, *, drop: bool) -> pa.Table:
    """The fetched rows with their first column (the number) replaced by its key."""
    key = arrow_key(table.column(0))
    table = table.set_column(0, "key", key)
    return table.filter(pc.not_equal(key, 0)) if drop else table


def newest(table: pa.Table) -> pa.Table:
    """One row per key, its newest time (as the SQLite store's key tables hold it).

    Grouped here rather than by PostgreSQL: a hash aggregate of every opt-out spills to disk at
    the default work_mem (7 s for 500,000 rows, measured), Arrow groups them in milliseconds;
    rounding to microseconds is monotonic, so the newest micros is the micros of the newest."""
    grouped = table.group_by("key", use_threads=False).aggregate([("micros", "max")])
    return pa.table([grouped.column("key"), grouped.column("micros_max")], schema=table.schema)


def redis_contacts(windows: RedisWindows, plan: ExportPlan) -> tuple[pa.Table, list[int]]:
    """This purpose's contacts among the org's Redis windows (`RedisWindows.read`, since
    `plan.since`), as (key, flags, token) rows, and the keys whose members could not be read
    (their rows go to the engine)."""
    head = windows.head
    keys: list[int] = []
    flags: list[int] = []
    tokens: list[str] = []
    odd: list[int] = []
    names = windows.names
    for index, text in windows.items():
        number = names[index][len(head):]
        if not _KEYABLE.fullmatch(number):
            continue  # no list row has this number's key (such rows are judged one by one)
        key = int(number[1:])
        parts = text.split("|")
        try:
            at, channel, purpose, relation, token = float(parts[0]), parts[2], parts[3], parts[4], parts[-1]
        except (ValueError, IndexError):
            odd.append(key)
            continue
        if len(parts) < 7 or not math.isfinite(at):
            odd.append(key)
        elif purpose == plan.purpose:
            keys.append(key)
            flags.append(contact_flags(plan, at, channel, relation))
            tokens.append(token)
    table = pa.table({"key": pa.array(keys, pa.int64()), "flags": pa.array(flags, pa.int64()),
                      "token": pa.array(tokens, pa.string())})
    return table, odd


def with_redis(contact: pa.Table, redis: pa.Table, odd: list[int]) -> pa.Table:
    """PostgreSQL's contacts plus Redis's that PostgreSQL does not have (same key and token:
    the same contact), as decide merges them; a key with an unreadable member is flagged
    "after --at", which sends its rows to the engine (whose view merges the same members)."""
    only = redis.join(contact.select(["key", "token"]), keys=["key", "token"], join_type="left anti")
    flagged = pa.table({"key": pa.array(odd, pa.int64()), "flags": pa.array([1 << FUTURE_BIT] * len(odd), pa.int64()),
                        "token": pa.array([""] * len(odd), pa.string())})
    return pa.concat_tables([contact, only.select(contact.schema.names).cast(contact.schema), flagged.cast(contact.schema)])
