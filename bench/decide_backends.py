"""Gateway.decide on the production backends: PostgreSQL, and PostgreSQL + Redis.

Same population and attempt mix as bench/decide.py (imported from it): 1,000,000 numbers, 30%
with history; 60% marketing, 30% collection, 10% service. The population is generated into
an SQLite file by decide.populate and copied into a fresh PostgreSQL schema (dropped at the
end); Redis starts empty under a key prefix of its own (deleted at the end), so the counters
fill from PostgreSQL as numbers are first decided, as after a Redis restart.

Two modes. "direct": workers are PROCESSES (no shared GIL), each with its own store,
connection and Gateway, deciding one attempt at a time (Gateway.decide: lock, load, judge,
record, ledger entry, commit). "grouped" (what `reachguard serve` does): workers are client
threads over min(workers, --replicas) processes; each process runs the store's
`writer_threads` writer threads (1 unless the URL says writers=N; --writers overrides), each
deciding whatever is queued together in one transaction (Gateway.decide_many), after waiting
up to --group-wait-ms for company as `serve` does (api/group_queue.py). Printed for 1, 4 and 16 workers:
decisions/s (all workers together, over the wall time from a common start) and p50/p99 of
single decisions; beside, in the same run: the SQLite figure (Gateway.decide on the same
population, one process, its WAL file) and the raw `SELECT 1` round-trip rate on the same
PostgreSQL server with the same number of worker processes.

Run: .venv/bin/python bench/decide.py --backend postgres+redis     (or this file directly)
     [--db postgresql://…] [--redis redis://…] [--numbers N] [--decisions N] [--workers 1,4,16]
`--synchronous-commit off` measures without waiting for the WAL flush (it replaces a
synchronous_commit given in --db).

Sustained load: `--seconds 300 --every 30 --no-sqlite --mode grouped --workers 16` prints the
rate of each 30-second interval too, and on PostgreSQL what the server did in it per decision
(bench/pg_sampler.py: WAL, blocks read, buffers written by backends, checkpoints). The raw
round trips are measured for at most 10 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import libpq_url, machine, percentile  # noqa: E402
from decide import attempts, populate  # noqa: E402
from pg_sampler import PgSampler, format_interval  # noqa: E402

from reachguard.api.group_queue import GroupQueue  # noqa: E402
from reachguard.core.config import Settings  # noqa: E402
from reachguard.engine import Gateway  # noqa: E402
from reachguard.store import SQLiteStore  # noqa: E402

TABLES = {
    "consents": "org, number, channels, at, expires_at, withdrawn, evidence",
    "opt_outs": "number, org, channels, at, kind, note",
    "dnc": "number, list, at",
    "accounts": "org, subject, borrower, days_past_due, contacts, at",
    "outcomes": "org, number, subject, result, at",
    "contacts": "org, number, channel, purpose, relation, subject, at, attempt_id, agent, code",
}


def _with_schema(url: str, schema: str) -> str:
    return url + ("&" if "?" in url else "?") + f"schema={schema}"


def open_backend(backend: str, url: str, redis_url: str, prefix: str):
    if backend.startswith("sqlite:"):
        return SQLiteStore(backend[len("sqlite:"):])
    if backend == "postgres":
        from reachguard.store.postgres import PostgresStore

        return PostgresStore(url)
    from reachguard.store.redis_counters import PostgresRedisStore

    return PostgresRedisStore(url, redis_url, prefix=prefix)


def copy_population(sqlite_path: str, url: str) -> None:
    """Copy the generated tables into PostgreSQL with COPY, then ANALYZE."""
    import sqlite3

    from reachguard.store.postgres import PostgresStore

    store = PostgresStore(url, chain_interval=0)
    source = sqlite3.connect(sqlite_path)
    with store.read() as conn:
        for table, columns in TABLES.items():
            rows = source.execute(f"SELECT {columns} FROM {table}")
            with conn.cursor() as cur, cur.copy(f"COPY {table}({columns}) FROM STDIN") as copy:
                for row in rows:
                    if table == "consents":
                        row = row[:5] + (bool(row[5]),) + row[6:]
                    copy.write_row(row)
        conn.execute("ANALYZE")
    source.close()
    store.close()


class _Events:
    """Attempts from decide.attempts, generated before the clock starts (then reused in turn)."""

    def __init__(self, seed: int, population: int, accounts: list[int], count: int):
        self.events = attempts(count, population, accounts, random.Random(seed))
        self.index = 0

    def next(self):
        event = self.events[self.index]
        self.index = (self.index + 1) % len(self.events)
        return event


class _GroupWriter:
    """What `reachguard serve` does: writer threads (store.writer_threads of them) take what is
    queued together from the service's own queue (api/group_queue.py, waiting up to
    `group_wait` seconds for company as serve's `group_wait_ms` does) and decide it in one
    transaction (Gateway.decide_many); each caller waits for its own answer."""

    def __init__(self, gateway: Gateway, writers: int = 1, group_wait: float = 0.0):
        self.gateway = gateway
        self.queue: GroupQueue[list] = GroupQueue(group_wait)
        self.sizes: list[int] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(writers)]
        for thread in self.threads:
            thread.start()

    def decide(self, attempt):
        # The caller waits on a lock the writer releases: the lightest one-waiter hand-off, so the
        # bench's own clients take less of the machine (bench/group_handoff.py measures both).
        done = threading.Lock()
        done.acquire()
        slot: list = [attempt, done, None]
        self.queue.put(slot)
        done.acquire()
        return slot[2]

    def _run(self) -> None:
        while True:
            group = self.queue.take()
            if group is None:
                return
            decisions = self.gateway.decide_many([slot[0] for slot in group])
            self.sizes.append(len(group))
            for slot, decision in zip(group, decisions):
                slot[2] = decision
                slot[1].release()

    def close(self) -> None:
        self.queue.close()
        for thread in self.threads:
            thread.join()


def _decide_worker(backend: str, url: str, redis_url: str, prefix: str, seed: int, threads: int, seconds: float,
                   population: int, accounts: list[int], writers: int, group_wait: float, barrier, results) -> None:
    """One process: `threads` clients; threads == 0 means one client calling Gateway.decide
    directly, else the clients go through a group-commit writer (as `reachguard serve`)."""
    store = open_backend(backend, url, redis_url, prefix)
    gateway = Gateway(store, secret=b"bench")
    writer = _GroupWriter(gateway, writers or getattr(store, "writer_threads", 1), group_wait) if threads else None
    decide = writer.decide if writer else gateway.decide
    clients = max(threads, 1)
    per_client = int(12_000 * seconds / clients) + 100  # more than this machine can decide in `seconds`
    sources = [_Events(seed * 100 + t, population, accounts, per_client) for t in range(clients)]
    for source in sources:
        for _ in range(10):  # warm the connection and the prepared statements
            decide(source.next())
    latencies: list[float] = []
    ends: list[float] = []  # when each decision was answered (perf_counter: one clock for every process)
    lock = threading.Lock()
    clock = time.perf_counter
    barrier.wait()
    start = clock()
    cpu0, servers0 = time.process_time(), server_cpu() if seed % 1000 == 0 else None
    deadline = start + seconds

    def client(source: _Events) -> None:
        mine, answered = [], []
        while True:
            event = source.next()
            t0 = clock()
            decide(event)
            t1 = clock()
            mine.append(t1 - t0)
            answered.append(t1)
            if t1 >= deadline:
                break
        with lock:
            latencies.extend(mine)
            ends.extend(answered)

    pool = [threading.Thread(target=client, args=(source,)) for source in sources]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    end = clock()
    cpu = time.process_time() - cpu0
    servers = None
    if servers0 is not None:
        servers1 = server_cpu()
        servers = {name: servers1[name] - servers0[name] for name in servers0}
    sizes = writer.sizes if writer else []
    if writer:
        writer.close()
    results.put((start, end, latencies, sizes, (cpu, servers), ends))
    store.close()


def server_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of every postgres and redis-server process on this host:
    the servers' side of a run, measured by the first worker (other clients' work included)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"postgres": 0.0, "redis-server": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                head, _, tail = f.read().rpartition(")")
        except OSError:
            continue
        name = head.partition("(")[2]
        if name in totals:
            fields = tail.split()
            totals[name] += (int(fields[11]) + int(fields[12])) / tick
    return totals


def _select1_worker(url: str, seconds: float, barrier, results) -> None:
    import psycopg

    conn = psycopg.connect(libpq_url(url), autocommit=True)
    for _ in range(20):
        conn.execute("SELECT 1", prepare=True).fetchone()
    clock = time.perf_counter
    latencies = []
    barrier.wait()
    start = clock()
    deadline = start + seconds
    while True:
        t0 = clock()
        conn.execute("SELECT 1", prepare=True).fetchone()
        t1 = clock()
        latencies.append(t1 - t0)
        if t1 >= deadline:
            break
    results.put((start, t1, latencies, []))
    conn.close()


def _evalsha_worker(redis_url: str, seconds: float, barrier, results) -> None:
    """Baseline: EVALSHA of a script that returns 1, over the store's own lean RESP path."""
    import redis

    from reachguard.store.redis_counters import _Wire, split_redis_url

    client = redis.Redis.from_url(split_redis_url(redis_url)[0])
    wire = _Wire(client.connection_pool)
    sha = wire.call(["SCRIPT", "LOAD", "return 1"])
    command = ["EVALSHA", sha, 0]
    for _ in range(20):
        wire.call(command)
    clock = time.perf_counter
    latencies = []
    barrier.wait()
    start = clock()
    deadline = start + seconds
    while True:
        t0 = clock()
        wire.call(command)
        t1 = clock()
        latencies.append(t1 - t0)
        if t1 >= deadline:
            break
    results.put((start, t1, latencies, []))
    wire.drop()


def run_workers(workers: int, target, args_for) -> tuple:
    """(rate over the common wall time, p50 ms, p99 ms, mean group, CPU µs per decision by
    process kind or None, (common start, every answer's time) or None) of `workers` processes."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    procs = [context.Process(target=target, args=args_for(w) + (barrier, results)) for w in range(workers)]
    for proc in procs:
        proc.start()
    outs = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise SystemExit(f"a worker failed (exit {proc.exitcode})")
    start = min(o[0] for o in outs)
    end = max(o[1] for o in outs)
    latencies = [x for o in outs for x in o[2]]
    sizes = [x for o in outs for x in o[3]]
    group = sum(sizes) / len(sizes) if sizes else 1.0
    cpu = None
    if all(len(o) > 4 for o in outs):
        servers = next(o[4][1] for o in outs if o[4][1] is not None)
        count = len(latencies)
        cpu = {"replica": sum(o[4][0] for o in outs) / count * 1e6, "postgres": servers["postgres"] / count * 1e6,
               "redis": servers["redis-server"] / count * 1e6}
    answered = (start, sorted(x for o in outs for x in o[5])) if all(len(o) > 5 for o in outs) else None
    return (len(latencies) / (end - start), percentile(latencies, 50) * 1e3, percentile(latencies, 99) * 1e3, group, cpu,
            answered)


def interval_rates(answered: tuple[float, list[float]], every: float) -> list[float]:
    """Decisions per second in each `every`-second interval after the common start (a sustained
    run: does the rate hold, or fall as tables, indexes and queues grow, at checkpoints…)."""
    start, times = answered
    counts = Counter(int((t - start) // every) for t in times)
    last = int((times[-1] - start) // every) if times else -1
    return [counts.get(k, 0) / every for k in range(last)]  # the last interval is cut short: left out


def server_info(url: str, redis_url: str, backends: list[str]) -> str:
    from reachguard.store.postgres import PostgresStore

    store = PostgresStore(url, chain_interval=0)
    with store.read() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
    store.close()
    text = f"PostgreSQL {version} (synchronous_commit={sync})"
    if "postgres+redis" in backends:
        import redis

        info = redis.Redis.from_url(redis_url.split("?")[0]).info("server")
        text += f", Redis {info['redis_version']}"
    return text


def _url_with(url: str, **params: str) -> str:
    """The URL with these query parameters set (replaced if --db already had them: a URL
    parameter given twice is refused by the store)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="postgres,postgres+redis",
                        help="postgres, postgres+redis, or both comma-separated (default)")
    parser.add_argument("--db", default=os.environ.get("REACHGUARD_BENCH_DB", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("REACHGUARD_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per configuration")
    parser.add_argument("--workers", default="1,4,16")
    parser.add_argument("--mode", default="direct,grouped",
                        help="direct: each worker a process calling Gateway.decide; grouped: workers are client "
                             "threads of up to --replicas processes, each deciding what is queued together "
                             "(group commit, as `reachguard serve`)")
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 2,
                        help="grouped mode: at most this many replica processes (default: one per CPU)")
    parser.add_argument("--writers", type=int, default=0,
                        help="grouped mode: writer threads per replica process (default: the store's writer_threads, "
                             "as `reachguard serve`: 1 unless the database URL says writers=N)")
    parser.add_argument("--group-wait-ms", type=float, default=Settings.model_fields["group_wait_ms"].default,
                        help="grouped mode: how long a writer waits for company when fewer are queued than its recent "
                             "groups held (default: serve's group_wait_ms; 0: take what is queued at once)")
    parser.add_argument("--every", type=float, default=0.0,
                        help="also print the rate of each interval of this many seconds (for long --seconds runs)")
    parser.add_argument("--no-sqlite", action="store_true",
                        help="leave out the SQLite figure (long runs on the production backends)")
    parser.add_argument("--synchronous-commit", default="on",
                        help="PostgreSQL synchronous_commit for the deciders: on, off, or both (on,off)")
    args = parser.parse_args()
    if not (0 <= args.every < 86400):  # also refuses nan and inf
        parser.error(f"--every must be between 0 and 86400 seconds, not {args.every}")
    if not (0 <= args.group_wait_ms <= 100):  # serve's own range; also refuses nan and inf
        parser.error(f"--group-wait-ms must be between 0 and 100, not {args.group_wait_ms}")
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    for backend in backends:
        if backend not in ("sqlite", "postgres", "postgres+redis"):
            parser.error(f"unknown backend {backend!r}")
    backends = [b for b in backends if b != "sqlite"]  # the SQLite figure is always printed
    counts = [int(w) for w in args.workers.split(",")]
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    syncs = [v.strip() for v in args.synchronous_commit.split(",") if v.strip()]
    rng = random.Random(20261123)
    tag = f"{os.getpid()}_{secrets.token_hex(2)}"
    schema = f"rg_bench_{tag}"
    url = _with_schema(args.db, schema)
    prefix = f"rgbench:{tag}:"

    print(f"machine: {machine()}")
    rows: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "population.db")
        sqlite = SQLiteStore(path)
        t0 = time.perf_counter()
        accounts = populate(sqlite, args.numbers, 0.3, rng)
        sqlite.close()
        t1 = time.perf_counter()
        try:
            if backends:
                copy_population(path, url)
                print(f"server: {server_info(url, args.redis, backends)}")
            print(f"population: {args.numbers:,} numbers, 30% with history (bench/decide.py); generated in "
                  f"{t1 - t0:.1f} s, copied to PostgreSQL in {time.perf_counter() - t1:.1f} s")
            print(f"each figure: {args.seconds:g} s measured after a common start (the raw round trips: "
                  f"{min(args.seconds, 10.0):g} s); workers: "
                  "direct = that many processes, each calling Gateway.decide one at a time; "
                  f"grouped = that many client threads over min(workers, {args.replicas}) replica processes, each with a "
                  f"group-commit writer (Gateway.decide_many of whatever is queued; group_wait_ms {args.group_wait_ms:g})\n",
                  flush=True)

            def measure(name: str, backend: str, target_url: str, mode: str) -> None:
                figures = {}
                for w in counts:
                    sampler = PgSampler(args.db, args.every) if args.every and backend != "sqlite:" + path else None
                    if sampler:
                        sampler.start()
                    if mode == "direct":
                        procs, threads = w, 0
                    else:
                        procs = min(w, args.replicas)
                        threads = w // procs
                    figures[w] = run_workers(
                        procs, _decide_worker,
                        lambda i, w=w, threads=threads: (backend, target_url, args.redis, prefix, 1000 * w + i, threads,
                                                         args.seconds, args.numbers, accounts, args.writers,
                                                         args.group_wait_ms / 1000),
                    )
                    if sampler:
                        sampler.stop()
                        start, answered = figures[w][5] if figures[w][5] else (0.0, [])
                        if sampler.error:
                            print(f"    {w} workers, PostgreSQL: counters not read ({sampler.error})", flush=True)
                        for row in sampler.intervals(start, answered):
                            print(f"    {w} workers, PostgreSQL: {format_interval(row)}", flush=True)
                rows.append((name, figures))
                _print_row(name, figures, counts)
                for w in counts:
                    if args.every and figures[w][5]:
                        rates = interval_rates(figures[w][5], args.every)
                        print(f"  {w} workers, per {args.every:g} s: " + " ".join(f"{r:,.0f}" for r in rates), flush=True)

            baseline_seconds = min(args.seconds, 10.0)  # a round trip's rate needs no long run
            print(f"{'':44}" + "".join(f"{f'{w} worker' + ('s' if w > 1 else ''):>34}" for w in counts))
            if backends:
                select1 = {w: run_workers(w, _select1_worker, lambda i: (url, baseline_seconds)) for w in counts}
                rows.append(("raw SELECT 1 round trips (processes)", select1))
                _print_row(rows[-1][0], select1, counts)
            if "postgres+redis" in backends:
                evalsha = {w: run_workers(w, _evalsha_worker, lambda i: (args.redis, baseline_seconds)) for w in counts}
                rows.append(("raw Redis EVALSHA round trips (processes)", evalsha))
                _print_row(rows[-1][0], evalsha, counts)
            for mode in modes if not args.no_sqlite else ():
                measure(f"SQLite file, {mode}", "sqlite:" + path, "", mode)
            for backend in backends:
                for sync in syncs:
                    target = _url_with(url, synchronous_commit=sync)
                    for mode in modes:
                        measure(f"{backend} sc={sync}, {mode}", backend, target, mode)
        finally:
            if backends:
                cleanup(args.db, schema, args.redis, prefix)
    print("\n(rate: decisions, or round trips, per second for all workers together; p50/p99: ms per call "
          "as the caller waits for it; g: mean decisions per store transaction; CPU: user+system µs per decision "
          "of the replica processes (client threads included), and of every postgres / redis-server process on "
          "the host during the run, other clients' work included)")


def _print_row(name: str, figures: dict, counts: list[int]) -> None:
    line = f"{name:44}"
    for w in counts:
        rate, p50, p99, group = figures[w][:4]
        cell = f"{rate:,.0f}/s p50 {p50:.2f} p99 {p99:.2f}" + (f" g{group:.1f}" if group > 1.05 else "")
        line += f"{cell:>34}"
    print(line, flush=True)
    if all(figures[w][4] for w in counts):
        servers = not name.startswith("SQLite")
        line = f"{'  CPU µs/decision: replica' + ('/PG/Redis' if servers else ''):44}"
        for w in counts:
            cpu = figures[w][4]
            cell = f"{cpu['replica']:.0f}" + (f" / {cpu['postgres']:.0f} / {cpu['redis']:.0f}" if servers else "")
            line += cell.rjust(34)
        print(line, flush=True)


def cleanup(db: str, schema: str, redis_url: str, prefix: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(db), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    try:
        from reachguard.store.redis_counters import RedisCounters

        RedisCounters(redis_url, prefix=prefix).clear()
    except Exception:  # noqa: BLE001 - no Redis in this run
        pass


if __name__ == "__main__":
    main()
