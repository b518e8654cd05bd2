"""`run_scrub`: a campaign list in, allowed and rejected rows out, same answers as `decide`.

The steps, and why in this order:
1. start a child process that reads the store's tables (export_child.py), let DuckDB load the
   list in a background thread (source.py), open one snapshot of the store (snapshot.py) that
   the child is pinned to — the three overlap; a PostgreSQL store instead gets one REPEATABLE
   READ snapshot that an ADBC export thread imports (snapshot_pg.py, export_pg.py);
2. normalise every number to an integer key (rows.py, numbers_sql.py), mark bad
   subject/relation cells, keep the first row of each number (the later ones are DUPLICATE);
3. reduce each kept row's state to a signature (features.py) and let the engine judge a real
   row per signature, or judge rows one by one where the sets cannot decide (judge.py);
4. write allowed and rejected rows (output.py; a plain CSV line for line, passthrough.py),
   record --reserve contacts, commit, publish.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import duckdb
import numpy as np
import pyarrow as pa

from reachguard.policy import PolicyBook
from reachguard.scrub import features, output, passthrough, rows as rows_mod, source as source_mod
from reachguard.scrub.export import ExportPlan, plan_for
from reachguard.scrub.export_child import ExportChild
from reachguard.scrub.judge import Judge, Outcome
from reachguard.scrub.options import check_options, check_paths
from reachguard.scrub.report import DUPLICATE, INVALID_FIELD, INVALID_NUMBER, ScrubReport
from reachguard.scrub.snapshot import open_state
from reachguard.scrub.snapshot_pg import is_pg_store, open_pg, open_pg_state
from reachguard.scrub.source import RESERVED_PREFIX as P, Source, ScrubInputError, text_sql
from reachguard.store import SQLiteStore, Store, is_postgres_url
from reachguard.store.sqlite import sqlite_path

Progress = Callable[[str, float], None]
"""progress(stage, fraction of the whole scrub done, 0..1); stages: read, numbers, state, judge, write."""

_WEIGHTS = {"read": (0.0, 0.30), "numbers": (0.30, 0.40), "state": (0.40, 0.50), "judge": (0.50, 0.65), "write": (0.65, 1.0)}


def run_scrub(
    source: str | Path,
    *,
    store: str | Path | Store,
    org: str,
    purpose: str,
    channel: str,
    at: datetime,
    out: str | Path,
    rejected: str | Path | None = None,
    column: str | None = None,
    reserve: bool = False,
    policies: PolicyBook | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    memory_limit: str = "3GB",
    secret: bytes | None = None,
) -> ScrubReport:
    """Scrub the list at `source` against `store` for one org, purpose, channel and time.

    Writes the allowed rows to `out` and the rejected ones (plus a `reasons` column) to
    `rejected` (default `<out stem>.rejected<suffix>`), both only once everything succeeded.
    With `reserve`, allowed rows are recorded as contacts in the same transaction that read
    the state (their verification codes use `secret`, else the store's, as the gateway's
    would). Raises ScrubInputError for unusable input; stored data is never changed then.
    """
    started = time.perf_counter()
    check_options(org, purpose, channel, at)
    src_path, out_path = Path(source), Path(out)
    rej_path = Path(rejected) if rejected is not None else output.default_rejected(out_path)
    check_paths(src_path, out_path, rej_path)
    policies = policies if policies is not None else PolicyBook.profile("cn")
    policy = policies.for_org(org)
    plan = plan_for(policy, org, purpose, channel, at)
    report_progress = _stages(progress)
    temps = (output.temp_path(out_path), output.temp_path(rej_path))
    with tempfile.TemporaryDirectory(prefix="reachguard-scrub-") as spill:
        con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1, "memory_limit": memory_limit,
                                     "temp_directory": spill, "preserve_insertion_order": True})
        child: ExportChild | None = None
        loader: _Background | None = None
        own = None
        try:
            if isinstance(store, str) and is_postgres_url(store):
                own = store = open_pg(store)
            pg = is_pg_store(store)
            if not pg:
                db_path = store.path if isinstance(store, SQLiteStore) else sqlite_path(str(store))
                if plan.set_based and db_path != ":memory:" and Path(db_path).is_file():
                    child = ExportChild(db_path, plan, Path(spill))
            report_progress("read", 0.0)
            csv_out = not any(output.is_parquet_path(p) for p in (out_path, rej_path))
            loader = _Background(lambda: source_mod.load(con, src_path, column, rows_mod.select, narrow=csv_out))
            opened = (open_pg_state(store, plan, reserve=reserve) if pg
                      else open_state(store, plan, reserve=reserve, child=child))  # type: ignore[arg-type]
            with opened as (snap, tables):
                src = loader.result()
                report_progress("read", 1.0)
                state = _Scrub(con, src, plan, policies, snap, org, purpose, channel, at, reserve, report_progress, secret)
                report = state.run(tables, (out_path, rej_path))
            output.publish(temps, (out_path, rej_path))
        except BaseException:
            output.discard(temps)
            if loader is not None:
                con.interrupt()
                loader.wait()
            raise
        finally:
            if child is not None:
                child.close()
            if own is not None:
                own.close()
            con.close()
    report.seconds = time.perf_counter() - started
    report_progress("write", 1.0)
    return report


class _Background:
    """Run one function in a thread; `result()` re-raises its exception in the caller."""

    def __init__(self, fn: Callable[[], Any]):
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name="reachguard-scrub-load", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to the caller
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class _Scrub:
    """The steps after loading; one instance per run (holds the reason-set registry)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, src: Source, plan: ExportPlan, policies: PolicyBook, snap: SQLiteStore,
                 org: str, purpose: str, channel: str, at: datetime, reserve: bool, progress: Progress,
                 secret: bytes | None = None):
        self.con, self.src, self.plan, self.policies = con, src, plan, policies
        self.progress = progress
        self.judge = Judge(snap, policies, org=org, purpose=purpose, channel=channel, at=at, reserve=reserve, secret=secret)
        self.reserve = reserve
        self.outcomes: list[Outcome] = [Outcome("allow", ())]
        self.ids: dict[Outcome, int] = {self.outcomes[0]: 0}
        self.notes: list[str] = []
        self.meta = {"org": org, "purpose": purpose, "channel": channel, "at": at.isoformat()}
        self.features: features.Features | None = None

    def code(self, outcome: Outcome) -> int:
        if outcome not in self.ids:
            self.ids[outcome] = len(self.outcomes)
            self.outcomes.append(outcome)
        return self.ids[outcome]

    def run(self, exported: Callable[[], dict[str, pa.Table]], targets: tuple[Path, Path]) -> ScrubReport:
        ahead = passthrough.LinesAhead(self.src.path, self.src.delimiter) if self.src.plain else None
        try:
            return self._run(exported, targets, ahead)
        finally:
            if ahead is not None:
                ahead.close()

    def _run(self, exported: Callable[[], dict[str, pa.Table]], targets: tuple[Path, Path],
             ahead: passthrough.LinesAhead | None) -> ScrubReport:
        con = self.con
        built = rows_mod.build(con, self.src)
        self.progress("numbers", 1.0)
        tables = exported()
        self.progress("state", 0.5)
        set_wise = self.plan.set_based and self.plan.purpose in ("marketing", "service")
        if set_wise:
            zones = None
            policy = self.policies.for_org(self.plan.org)
            if policy.timezone == "recipient":
                zones = lambda number: "|".join(z.key for z in policy.zones_for(number))  # noqa: E731
            self.features = features.build(con, self.plan, tables, policy, built.kept, zones,
                                           relations=self.src.relation_column is not None,
                                           subjects=self.src.subject_column is not None)
            con.register("rg_feat", self.features.table())  # (rid, sig, exact) for the SQL below
        self.progress("state", 1.0)
        decided, signatures = self._judge_signatures() if set_wise else ({}, 0)
        exact = self._judge_rows(set_wise)
        codes = self._codes(decided, exact)
        self.progress("judge", 1.0)
        if self.src.subject_column is None and self.plan.purpose == "collection":
            self.notes.append("the list has no `subject` column: every collection row is UNKNOWN_SUBJECT")
        labels = [";".join(o.codes) for o in self.outcomes]
        total = max(1, len(codes))
        output.write(con, self.src, codes, labels, targets, lambda n: self.progress("write", 0.95 * n / total), ahead=ahead)
        reserved = self._reserve(codes, exact) if self.reserve else 0
        return self._report(codes, targets, built, signatures, len(exact), reserved)

    # --- judging --------------------------------------------------------------------------

    def _rows(self, where: str) -> dict[int, tuple[str, str | None, str | None]]:
        found = self.con.execute(
            f"SELECT k.rid, r.raw, r.subject, r.relation FROM (SELECT rid FROM rg_kept WHERE {where}) k "
            f"JOIN (SELECT rowid AS rid, {text_sql(self.src, self.src.number_column)} AS raw, {P}subject AS subject, "
            f"{P}relation AS relation FROM rg_src) r ON r.rid = k.rid ORDER BY k.rid"
        ).fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in found}

    def _judge_signatures(self) -> tuple[dict[int, int], int]:
        """One engine judgement per signature (two representatives must agree)."""
        con = self.con
        groups = con.execute(
            "SELECT sig, min(rid), max(rid) FROM rg_feat WHERE NOT exact GROUP BY sig"
        ).fetchall()
        reps = sorted({g[-2] for g in groups} | {g[-1] for g in groups})
        con.register("rg_reps", pa.table({"rid": pa.array(reps, pa.int64())}))
        rows = self._rows("rid IN (SELECT rid FROM rg_reps)")
        con.unregister("rg_reps")
        decided: dict[int, int] = {}
        split = []
        for index, group in enumerate(groups):
            first = self.judge.one(*rows[group[-2]])
            second = first if group[-1] == group[-2] else self.judge.one(*rows[group[-1]])
            if first == second:
                decided[group[0]] = self.code(first)
            else:
                split.append(group[0])
            self.progress("judge", 0.3 * (index + 1) / max(1, len(groups)))
        if split and self.features is not None:
            self.notes.append(f"{len(split)} state signature(s) did not determine the verdict; their rows were judged one by one")
            self.features.exact |= np.isin(self.features.sig, np.array(split, dtype=np.int64))
            con.register("rg_feat", self.features.table())
        return decided, len(groups)

    def _judge_rows(self, set_wise: bool) -> dict[int, int]:
        """Rows the engine judges one by one, in list order (all of them off the set-wise path)."""
        where = "rid IN (SELECT rid FROM rg_feat WHERE exact)" if set_wise else "true"
        rows = self._rows(where)
        rids = list(rows)
        total = max(1, len(rids))
        outcomes = self.judge.many([rows[r] for r in rids], lambda n: self.progress("judge", 0.3 + 0.7 * n / total))
        return {rid: self.code(o) for rid, o in zip(rids, outcomes)}

    def _codes(self, decided: dict[int, int], exact: dict[int, int]) -> np.ndarray:
        """The status of every row, in row order: 0 allowed, else an index into self.outcomes."""
        con = self.con
        count = self.src.rows
        codes = np.full(count, self.code(Outcome("duplicate", (DUPLICATE,))), dtype=np.int32)
        invalid_number = self.code(Outcome("deny", (INVALID_NUMBER,)))
        invalid_field = self.code(Outcome("deny", (INVALID_FIELD,)))
        bad = con.sql("SELECT rid, field_ok FROM rg_rows WHERE key IS NULL OR NOT field_ok").fetchnumpy()
        codes[bad["rid"]] = np.where(np.asarray(bad["field_ok"], dtype=bool), invalid_number, invalid_field)
        if decided and self.features is not None:
            rid, code = features.row_codes(self.features, decided)
            codes[rid] = code
        if exact:
            codes[np.fromiter(exact.keys(), np.int64, len(exact))] = np.fromiter(exact.values(), np.int32, len(exact))
        return codes

    def _reserve(self, codes: np.ndarray, exact: dict[int, int]) -> int:
        """Record the set-wise allowed rows (the engine recorded its own as it went)."""
        allowed = np.flatnonzero(codes == 0)
        engine_allowed = sum(1 for code in exact.values() if code == 0)
        self.con.register("rg_allowed", pa.table({"rid": pa.array(allowed, pa.int64())}))
        rows = self.con.execute(
            f"SELECT {rows_mod.num_sql('k.key')}, r.subject, r.relation FROM rg_kept k JOIN rg_rows r ON r.rid = k.rid "
            "WHERE k.rid IN (SELECT rid FROM rg_allowed) AND k.rid NOT IN (SELECT rid FROM rg_feat WHERE exact) ORDER BY k.rid"
            if self.features is not None else "SELECT NULL, NULL, NULL WHERE false"
        ).fetchall()
        self.con.unregister("rg_allowed")
        reserved = self.judge.reserve_rows(rows) + engine_allowed
        self.judge.ledger_summary({**self.meta, "list": self.src.path.name, "rows": self.src.rows})
        return reserved

    def _report(self, codes: np.ndarray, targets: tuple[Path, Path], built: rows_mod.Built, signatures: int,
                row_by_row: int, reserved: int) -> ScrubReport:
        counts = np.bincount(codes, minlength=len(self.outcomes))
        by_verdict: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for outcome, count in zip(self.outcomes, counts.tolist()):
            by_verdict[outcome.verdict] = by_verdict.get(outcome.verdict, 0) + count
            for code in outcome.codes:
                if count:
                    reasons[code] = reasons.get(code, 0) + count
        allowed = int(counts[0]) if len(counts) else 0
        kept = len(built.kept)
        return ScrubReport(
            rows=len(codes), allowed=allowed, rejected=len(codes) - allowed,
            denied=by_verdict.get("deny", 0) - reasons.get(INVALID_NUMBER, 0) - reasons.get(INVALID_FIELD, 0),
            deferred=by_verdict.get("defer", 0), invalid_numbers=reasons.get(INVALID_NUMBER, 0),
            duplicates=reasons.get(DUPLICATE, 0), invalid_fields=reasons.get(INVALID_FIELD, 0), reasons=reasons,
            number_column=self.src.number_column, out=targets[0], rejected_out=targets[1], reserved=reserved,
            numbers_in_sql=built.in_sql, numbers_in_python=built.in_python, signatures=signatures,
            judged_set_wise=kept - row_by_row, judged_row_by_row=row_by_row, notes=self.notes, **self.meta,
        )


def _stages(progress: Progress | None) -> Progress:
    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            start, end = _WEIGHTS[stage]
            progress(stage, start + (end - start) * min(1.0, max(0.0, fraction)))
    return report
