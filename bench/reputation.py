"""Reputation: ingest rate and lookup latency on the embedded SQLite store, beside raw SQLite.

    .venv/bin/python bench/reputation.py                   # 10,000,000 reports over 2,000,000 numbers
    .venv/bin/python bench/reputation.py --fold-every 0    # the same as one bulk load, folded at its end
    .venv/bin/python bench/reputation.py --reports 1000000 # a quicker run

Ingest (default) goes through `reputation.BulkIngest`: each batch is appended to the reports log
and the aggregates are folded every --fold-every reports and at the end; the time until the last
fold has committed (every lookup exact) is what is timed. --per-call times `record_reports` per
batch instead (aggregates updated in every call).

Reports arrive in time order over a year, to uniformly drawn numbers (plus 100 "hot" numbers
that get 0.5 % of all reports) from uniformly drawn reporters (one per 10 reports). Ingest is
timed from validated `report` events to committed rows: number normalisation, reporter HMAC,
the per-number aggregates and reporter records, the reports log (`reputation.record_reports`,
batches of --batch). Generating the events is not timed.

Raw baseline, same run, same machine, same pragmas: `executemany` of the same rows (number,
label, reporter hash, time) into one table with an index on number — the least a store of
reports must do — and an indexed SELECT of one number's rows. The raw insert runs over the first
--raw-reports rows (default: all, at most 2,000,000).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta, timezone

from _common import machine, median, percentile

from reachguard import reputation
from reachguard.reputation import bulk as bulk_module, page as page_module, setfold
from reachguard.model import REPORT_LABELS, Report
from reachguard.reputation.bulk import FOLD_EVERY
from reachguard.reputation.keying import reporter_hash
from reachguard.store import SQLiteStore

T0 = datetime(2025, 11, 1, tzinfo=timezone(timedelta(hours=8)))
YEAR = 365 * 86_400.0
LABEL_MIX = ["collection"] * 4 + ["loan_marketing"] * 3 + ["harassment"] * 2 + ["fraud"]


def numbers_pool(count: int, rng: random.Random) -> list[str]:
    picked = rng.sample(range(3_000_000_000, 10_000_000_000), count)
    return [f"+861{n}" for n in picked]


def events(total: int, start: int, size: int, numbers: list[str], reporters: int, rng: random.Random) -> list[Report]:
    """Reports start..start+size of the stream (time order), as validated events."""
    out = []
    hot = numbers[:100]
    for i in range(start, min(total, start + size)):
        number = rng.choice(hot) if rng.random() < 0.005 else rng.choice(numbers)
        reporter = f"reporter-{rng.randrange(reporters)}"
        label = rng.choice(LABEL_MIX) if rng.random() < 0.9 else rng.choice(REPORT_LABELS)
        at = T0 + timedelta(seconds=i * YEAR / total)
        out.append(Report(to=number, label=label, reporter=reporter, at=at))
    return out


def raw_baseline(path: str, total: int, numbers: list[str], reporters: int, batch: int, lookups: int,
                 seed: int, cache_mb: int) -> tuple[float, float, list[float], list[float]]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(f"PRAGMA cache_size = {-1024 * cache_mb}")
    db.execute("CREATE TABLE raw(seq INTEGER PRIMARY KEY, number TEXT, label TEXT, reporter BLOB, at REAL, text TEXT)")
    db.execute("CREATE INDEX raw_by_number ON raw(number)")
    rng = random.Random(seed)
    key = b"k" * 32
    spent = cpu = 0.0
    for start in range(0, total, batch):
        rows = [(e.to, e.label, reporter_hash(key, e.reporter), e.at.timestamp(), e.text)
                for e in events(total, start, batch, numbers, reporters, rng)]
        began, began_cpu = time.perf_counter(), time.process_time()
        db.execute("BEGIN")
        db.executemany("INSERT INTO raw(number, label, reporter, at, text) VALUES (?,?,?,?,?)", rows)
        db.execute("COMMIT")
        spent += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
    probe = random.Random(seed + 1)
    latencies, cpu_latencies = [], []
    for _ in range(lookups):
        number = probe.choice(numbers)
        began, began_cpu = time.perf_counter(), time.process_time()
        db.execute("SELECT label, reporter, at FROM raw WHERE number = ?", (number,)).fetchall()
        latencies.append(time.perf_counter() - began)
        cpu_latencies.append(time.process_time() - began_cpu)
    db.close()
    return total / spent, total / cpu, latencies, cpu_latencies


class Phases:
    """Wall and CPU seconds per ingest phase (--phases): wraps the store's reputation methods, the
    set fold and `BulkIngest.fold`; "fold: rest" is the fold's time outside its reads, computation
    and writes (commit, WAL checkpoint, transposition, sets)."""

    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = {}

    def wrap(self, owner: object, name: str, phase) -> None:
        inner = getattr(owner, name)

        def timed(*args, **kwargs):
            began, began_cpu = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                got = self.spent.setdefault(phase(*args, **kwargs) if callable(phase) else phase, [0.0, 0.0])
                got[0] += time.perf_counter() - began
                got[1] += time.process_time() - began_cpu
        setattr(owner, name, timed)

    def install(self, store: SQLiteStore) -> None:
        self.wrap(bulk_module, "prepare", "prepare")
        self.wrap(page_module.Columns, "extend", "columns (ids per add)")
        self.wrap(page_module.Columns, "page", "fold: rank the page")
        self.wrap(store, "report_aggregates", "fold: read aggregates")
        self.wrap(store, "reporters", "fold: read reporters")
        self.wrap(store, "report_log", "fold: read log")
        self.wrap(setfold, "fold", "fold: compute")
        self.wrap(store, "save_reports", lambda reports, aggregates, reporters: "log append" if reports else "fold: write")
        self.wrap(reputation.BulkIngest, "fold", "fold (total)")

    def report(self, total: int) -> None:
        spent = dict(self.spent)
        whole = spent.get("fold (total)", [0.0, 0.0])
        inside = [sum(v[i] for k, v in spent.items() if k.startswith("fold: ")) for i in (0, 1)]
        spent["fold: rest"] = [whole[0] - inside[0], whole[1] - inside[1]]
        for name, (wall, cpu) in spent.items():
            print(f"  phase {name:<24} wall {wall:8.1f} s ({wall / total * 1e6:5.1f} µs/report)  "
                  f"CPU {cpu:8.1f} s ({cpu / total * 1e6:5.1f} µs/report)")


class LockHolds:
    """How long each outermost store transaction held the write lock: the longest is how long a
    decision arriving meanwhile (`serve` on the same file) would wait for it."""

    def __init__(self, store: SQLiteStore) -> None:
        self.holds: list[float] = []
        self._depth = 0
        inner = store.transaction

        @contextlib.contextmanager
        def timed(*args, **kwargs):
            outermost = not self._depth
            self._depth += 1
            began = 0.0
            try:
                with inner(*args, **kwargs):  # the hold: from BEGIN IMMEDIATE until COMMIT returns
                    began = time.perf_counter()
                    yield
            finally:
                self._depth -= 1
                if outermost and began:
                    self.holds.append(time.perf_counter() - began)
        store.transaction = timed  # type: ignore[method-assign]

    def report(self) -> None:
        holds = sorted(self.holds)
        print(f"write lock: {len(holds):,} transactions, longest {holds[-1]:.2f} s, "
              f"p99 {percentile(holds, 99):.2f} s, median {median(holds) * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=10_000_000)
    parser.add_argument("--numbers", type=int, default=None, help="default: reports / 5")
    parser.add_argument("--reporters", type=int, default=None, help="default: reports / 10")
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--fold-every", type=int, default=FOLD_EVERY,
                        help="reports per fold of the bulk ingest (default: %(default)s; 0: one fold, at the end of the load)")
    parser.add_argument("--per-call", action="store_true", help="time record_reports per batch instead of BulkIngest")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--raw-reports", type=int, default=None, help="rows for the raw insert baseline")
    parser.add_argument("--dir", default=None, help="where the database files go (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache-mb", type=int, default=64,
                        help="SQLite page cache of both the store and the raw baseline (the store's default: 64)")
    parser.add_argument("--phases", action="store_true", help="print wall and CPU time per ingest phase")
    args = parser.parse_args()
    total = args.reports
    count = args.numbers or max(100, total // 5)
    reporters = args.reporters or max(10, total // 10)
    raw_total = args.raw_reports or min(total, 2_000_000)
    fold_every = args.fold_every or total
    print(f"machine: {machine()}")
    print("shared machine (other jobs running): figures are noisy; compare the ratios")
    print(f"{total:,} reports over {count:,} numbers from {reporters:,} reporters, batches of {args.batch:,}, "
          f"SQLite page cache {args.cache_mb} MiB (store and baseline); ingest: "
          + ("record_reports per batch" if args.per_call else f"BulkIngest, a fold every {fold_every:,} reports"))
    rng = random.Random(args.seed)
    numbers = numbers_pool(count, rng)
    with tempfile.TemporaryDirectory(prefix="rg-bench-rep-", dir=args.dir) as folder:
        store = SQLiteStore(os.path.join(folder, "reputation.db"))
        reputation.reporter_key(store)
        holds = LockHolds(store)
        phases = Phases() if args.phases else None
        if phases:
            phases.install(store)
        if args.cache_mb != 64:  # the same pragma for the baseline below
            with store.read() as db:
                db.execute(f"PRAGMA cache_size = {-1024 * args.cache_mb}")
        spent = cpu = 0.0
        rates = []
        bulk = None if args.per_call else reputation.BulkIngest(store, fold_every=fold_every)
        for start in range(0, total, args.batch):
            batch = events(total, start, args.batch, numbers, reporters, rng)
            began, began_cpu = time.perf_counter(), time.process_time()
            if bulk is None:
                reputation.record_reports(store, batch)
            else:
                bulk.add(batch)
            elapsed = time.perf_counter() - began
            cpu += time.process_time() - began_cpu
            spent += elapsed
            rates.append(len(batch) / elapsed)
            if (start // args.batch) % 20 == 0:
                print(f"  {start + len(batch):>12,} reports  {len(batch) / elapsed:>10,.0f}/s this batch", flush=True)
        if bulk is not None:  # the last fold: until it commits, lookups do not see every report
            began, began_cpu = time.perf_counter(), time.process_time()
            bulk.close()
            spent += time.perf_counter() - began
            cpu += time.process_time() - began_cpu
        size = os.path.getsize(os.path.join(folder, "reputation.db"))
        print(f"ingest: {total / spent:,.0f} reports/s overall (median batch {median(rates):,.0f}/s, "
              f"slowest batch {min(rates):,.0f}/s), {spent:.1f} s, database {size / 1e6:,.0f} MB; "
              f"CPU time {total / cpu:,.0f} reports/s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
        holds.report()
        if phases:
            phases.report(total)
        probe = random.Random(args.seed + 1)
        at = T0 + timedelta(days=366)
        latencies, cpu_latencies = [], []
        labelled = 0
        for _ in range(args.lookups):
            number = probe.choice(numbers)
            began, began_cpu = time.perf_counter(), time.process_time()
            rep = reputation.lookup(store, number, at)
            latencies.append(time.perf_counter() - began)
            cpu_latencies.append(time.process_time() - began_cpu)
            labelled += rep.label is not None
        store.close()
        print(f"lookup: median {median(latencies) * 1e6:,.0f} µs, p99 {percentile(latencies, 99) * 1e6:,.0f} µs, "
              f"max {max(latencies) * 1e6:,.0f} µs over {args.lookups:,} random numbers ({labelled:,} labelled); "
              f"CPU time median {median(cpu_latencies) * 1e6:,.0f} µs, p99 {percentile(cpu_latencies, 99) * 1e6:,.0f} µs")
        raw_rate, raw_cpu_rate, raw_latencies, raw_cpu = raw_baseline(os.path.join(folder, "raw.db"), raw_total, numbers, reporters,
                                               args.batch, args.lookups, args.seed, args.cache_mb)
        print(f"raw baseline ({raw_total:,} rows): executemany insert {raw_rate:,.0f} rows/s; indexed SELECT "
              f"median {median(raw_latencies) * 1e6:,.0f} µs, p99 {percentile(raw_latencies, 99) * 1e6:,.0f} µs; CPU time: "
              f"insert {raw_cpu_rate:,.0f} rows/s, SELECT p99 {percentile(raw_cpu, 99) * 1e6:,.0f} µs")
        print(f"ratios: ingest {total / spent / raw_rate:.2f} x raw insert; lookup p99 "
              f"{percentile(latencies, 99) / percentile(raw_latencies, 99):.1f} x raw SELECT p99")
        print(f"ratios (CPU time): ingest {cpu and (total / cpu) / raw_cpu_rate:.2f} x raw insert; lookup p99 "
              f"{percentile(cpu_latencies, 99) / max(percentile(raw_cpu, 99), 1e-9):.1f} x raw SELECT p99")
        print(f"targets (wall clock): ingest >= 100,000 reports/s: {'met' if total / spent >= 100_000 else 'NOT met'}; "
              f"lookup p99 < 1 ms: {'met' if percentile(latencies, 99) < 0.001 else 'NOT met'}")


if __name__ == "__main__":
    main()
