"""SQL pieces written once for both SQL backends (SQLite and PostgreSQL): number records,
ledger paging, the optional filters of ledger and decision reads."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Sequence

from reachguard.ledger.chain import LedgerEntry


# The per-number reads behind Store.number_records, written once for every backend: each is
# (section, SQL with `?` placeholders for (number[, org]), column names). Backends that use
# another placeholder style translate `?` before running them.
NUMBER_RECORD_QUERIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("consents", "SELECT channels, at, expires_at, withdrawn, evidence FROM consents WHERE number=? AND org=? ORDER BY seq",
     ("channels", "at", "expires_at", "withdrawn", "evidence")),
    ("opt_outs", "SELECT org, channels, at, kind, note FROM opt_outs WHERE number=? AND (org=? OR org IS NULL) ORDER BY seq",
     ("org", "channels", "at", "kind", "note")),
    ("lists", "SELECT list, at FROM dnc WHERE number=? ORDER BY list", ("list", "at")),
    ("accounts", "", ()),  # backend-specific (designated contacts are JSON): filled in by the caller
    ("outcomes", "SELECT subject, result, at FROM outcomes WHERE number=? AND org=? ORDER BY seq", ("subject", "result", "at")),
    ("contacts", "SELECT channel, purpose, relation, subject, at, attempt_id, agent FROM contacts "
     "WHERE number=? AND org=? ORDER BY at DESC, seq DESC LIMIT 100",
     ("channel", "purpose", "relation", "subject", "at", "id", "agent")),
    ("inbound", "SELECT recipient, org, text, at FROM inbound WHERE sender=? AND (org=? OR org IS NULL) ORDER BY seq",
     ("to", "org", "text", "at")),
)


def number_records_from(fetch: Callable[[str, tuple], Iterable[Sequence[Any]]], org: str, number: str,
                        accounts: list[dict]) -> dict[str, list[dict]]:
    """Store.number_records from one backend's `fetch(sql, params)`; contacts oldest first."""
    records: dict[str, list[dict]] = {}
    for section, sql, names in NUMBER_RECORD_QUERIES:
        if section == "accounts":
            records[section] = accounts
            continue
        params = (number,) if sql.count("?") == 1 else (number, org)
        records[section] = [dict(zip(names, row)) for row in fetch(sql, params)]
    records["contacts"].reverse()  # the newest 100, shown in time order
    return records


LEDGER_PAGE = 5000


def paged_ledger_range(fetch: Callable[[int], Sequence[Sequence[Any]]], seq_from: int, seq_to: int) -> Iterator[LedgerEntry]:
    """`Store.ledger_range` for every SQL dialect: `fetch(start)` returns up to LEDGER_PAGE rows
    (the LedgerEntry columns, in seq order) from `start` to `seq_to`; a page at a time, so an
    export of millions of entries never holds them all."""
    start = seq_from
    while start <= seq_to:
        rows = fetch(start)
        for row in rows:
            yield LedgerEntry(*row)
        if len(rows) < LEDGER_PAGE:
            return
        start = rows[-1][1] + 1


def and_where(*clauses: tuple[str, Any]) -> tuple[str, list[Any]]:
    """` AND clause` for each (clause, value) whose value is given, and those values: the optional
    filters of the ledger and checkpoint reads, for every SQL dialect (each clause carries its own
    placeholder)."""
    given = [(clause, value) for clause, value in clauses if value is not None]
    return "".join(" AND " + clause for clause, _ in given), [value for _, value in given]


def decision_filters(
    p: str, reason_exists: str, org: str, after_seq: int, at_from: float | None, at_to: float | None,
    verdict: str | None, reason: str | None, limit: int,
) -> tuple[str, list[Any]]:
    """The `WHERE … ORDER BY seq LIMIT …` tail of `Store.decisions` and its parameters, for every
    SQL dialect: `p` is its placeholder, `reason_exists` its `EXISTS (…)` clause matching a reason
    code in the entry's JSON body (the one part the dialects spell differently)."""
    extra, values = and_where((f"at >= {p}", at_from), (f"at < {p}", at_to), (f"tag = {p}", verdict), (reason_exists, reason))
    sql = f" WHERE org = {p} AND seq > {p} AND kind = 'decision'{extra} ORDER BY seq LIMIT {p}"
    return sql, [org, after_seq, *values, limit]
