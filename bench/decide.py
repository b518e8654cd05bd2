"""Gateway.decide throughput and latency: the one entry point for every backend.

Population: 1,000,000 numbers, 30% with history (consent, opt-outs, lists, accounts, contacts,
outcomes). Mix of attempts: 60% marketing, 30% collection, 10% service, over working hours.

* `bench/decide.py` (or `--backend sqlite`): one process on the embedded SQLite store, single
  decisions and batches; baseline in the same run: SQLite's own rate for one indexed select +
  one insert per transaction on the same file.
* `bench/decide.py --backend postgres|postgres+redis[,…] [--workers 1,4,16]`: 1, 4 and 16
  concurrent worker PROCESSES on PostgreSQL (+ Redis), beside the SQLite figure and the raw
  `SELECT 1` (and Redis EVALSHA) round-trip rates on the same servers in the same run
  (bench/decide_backends.py; its --help lists the options).

Run: `.venv/bin/python bench/decide.py [--numbers N]`
     `.venv/bin/python bench/decide.py --backend postgres,postgres+redis --workers 1,4,16`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median, percentile  # noqa: E402

from reachguard.engine import Gateway  # noqa: E402
from reachguard.events import decode_event  # noqa: E402
from reachguard.store import SQLiteStore  # noqa: E402

BASE = 1_795_000_000.0  # 2026-11-19 around noon, Shanghai
ORGS = ("acme", "xinghe", "kuaidai")


def number(i: int) -> str:
    return f"+86138{i:08d}"


def populate(store: SQLiteStore, population: int, history_share: float, rng: random.Random) -> list[int]:
    """Bulk-load state straight into the tables (the engine's own write path is measured elsewhere)."""
    with_history = rng.sample(range(population), int(population * history_share))
    accounts = with_history[: len(with_history) // 3]
    with store.transaction(), store.read() as db:
        db.executemany(
            "INSERT INTO consents(org, number, channels, at, expires_at, withdrawn) VALUES (?,?,15,?,NULL,0)",
            ((ORGS[i % 3], number(i), BASE - 86400 * 60) for i in with_history),
        )
        db.executemany(
            "INSERT INTO opt_outs(number, org, channels, at, kind) VALUES (?,?,15,?, 'opt_out')",
            ((number(i), ORGS[i % 3], BASE - 86400) for i in with_history[::10]),
        )
        db.executemany("INSERT OR IGNORE INTO dnc(number, list, at) VALUES (?, 'national', ?)",
                       ((number(i), BASE) for i in with_history[::7]))
        db.executemany(
            "INSERT INTO accounts(org, subject, borrower, days_past_due, contacts, at) VALUES (?,?,?,?,?,?)",
            ((ORGS[i % 3], f"L{i}", number(i), i % 30, json.dumps({number((i + 1) % population): True}), BASE - 86400 * 3)
             for i in accounts),
        )
        db.executemany(
            "INSERT INTO contacts(org, number, channel, purpose, relation, subject, at) VALUES (?,?,?,?,?,?,?)",
            ((ORGS[i % 3], number(i), "sms", "marketing", "prospect", None, BASE - 86400 * (i % 25)) for i in with_history),
        )
        db.executemany(
            "INSERT INTO outcomes(org, number, subject, result, at) VALUES (?,?,?,?,?)",
            ((ORGS[i % 3], number(i), f"L{i}", "no_answer", BASE - 86400 * 2) for i in accounts),
        )
    return accounts


def attempts(count: int, population: int, accounts: list[int], rng: random.Random) -> list:
    events = []
    for k in range(count):
        roll = rng.random()
        at = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(BASE + 8 * 3600 + rng.randrange(3 * 86400)))
        hour = int(at[11:13])
        at = at[:11] + f"{9 + hour % 11:02d}" + at[13:]  # keep to working hours, mostly
        if roll < 0.3:
            i = rng.choice(accounts)
            event = {"type": "attempt", "id": f"b{k}", "org": ORGS[i % 3], "channel": rng.choice(("sms", "call")),
                     "purpose": "collection", "to": number(i), "subject": f"L{i}", "at": at}
        else:
            i = rng.randrange(population)
            event = {"type": "attempt", "id": f"b{k}", "org": ORGS[i % 3], "channel": rng.choice(("sms", "sms", "call")),
                     "purpose": "marketing" if roll < 0.9 else "service", "to": number(i), "at": at}
        events.append(decode_event(json.dumps(event)))
    return events


def bench_single(gateway: Gateway, events: list) -> tuple[float, list[float]]:
    latencies = []
    clock = time.perf_counter
    start = clock()
    for event in events:
        t0 = clock()
        gateway.decide(event)
        latencies.append(clock() - t0)
    return len(events) / (clock() - start), latencies


def bench_batched(gateway: Gateway, events: list, batch: int) -> tuple[float, float]:
    """Decisions per second (wall), and CPU µs per decision (steadier on a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), batch):
        gateway.decide_many(events[i : i + batch])
    return len(events) / (time.perf_counter() - start), (time.process_time() - cpu) / len(events) * 1e6


def bench_raw_sqlite(store: SQLiteStore, count: int, population: int, rng: random.Random) -> tuple[float, list[float]]:
    """Baseline: one indexed select + one insert per BEGIN IMMEDIATE … COMMIT."""
    latencies = []
    clock = time.perf_counter
    with store.read() as db:
        start = clock()
        for _ in range(count):
            n = number(rng.randrange(population))
            t0 = clock()
            db.execute("BEGIN IMMEDIATE")
            db.execute("SELECT channel, at FROM contacts WHERE number=? AND org=? AND at>=?", (n, "acme", BASE - 86400 * 31)).fetchall()
            db.execute("INSERT INTO contacts(org, number, channel, purpose, relation, at) VALUES ('acme', ?, 'sms', 'bench', 'prospect', ?)", (n, BASE))
            db.execute("COMMIT")
            latencies.append(clock() - t0)
        rate = count / (clock() - start)
    return rate, latencies


def main() -> None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--backend", default="sqlite")
    pre.add_argument("--workers")
    known, _ = pre.parse_known_args()
    if known.backend != "sqlite" or known.workers:
        import decide_backends

        decide_backends.main()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite", help="sqlite (this page), or postgres, postgres+redis (see above)")
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(20261123)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(os.path.join(tmp, "bench.db"))
        t0 = time.perf_counter()
        accounts = populate(store, args.numbers, 0.3, rng)
        print(f"population: {args.numbers:,} numbers, 30% with history, loaded in {time.perf_counter() - t0:.1f} s")
        gateway = Gateway(store)
        singles, batches, raws, p50s, p99s, raw_p99s, cpus = [], [], [], [], [], [], []
        for repeat in range(args.repeats):
            events = attempts(args.decisions, args.numbers, accounts, rng)
            rate, lat = bench_single(gateway, events)
            singles.append(rate)
            p50s.append(percentile(lat, 50) * 1e3)
            p99s.append(percentile(lat, 99) * 1e3)
            rate, cpu = bench_batched(gateway, attempts(args.decisions * 2, args.numbers, accounts, rng), args.batch)
            batches.append(rate)
            cpus.append(cpu)
            raw_rate, raw_lat = bench_raw_sqlite(store, args.decisions, args.numbers, rng)
            raws.append(raw_rate)
            raw_p99s.append(percentile(raw_lat, 99) * 1e3)
        print(f"repeats: {args.repeats}; medians below")
        print(f"Gateway.decide single : {median(singles):>9,.0f} decisions/s  p50 {median(p50s):.3f} ms  p99 {median(p99s):.3f} ms")
        print(f"Gateway.decide_many   : {median(batches):>9,.0f} decisions/s  (batches of {args.batch}; "
              f"CPU {median(cpus):.1f} µs per decision)")
        print(f"raw SQLite select+insert per transaction: {median(raws):>9,.0f} tx/s  p99 {median(raw_p99s):.3f} ms")
        print(f"load average: {open('/proc/loadavg').read().split()[0]}")
        print(f"ratio single/raw: {median(singles) / median(raws):.2f}   batched/raw: {median(batches) / median(raws):.2f}")
        store.close()


if __name__ == "__main__":
    main()
