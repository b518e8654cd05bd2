"""CPU per decision on PostgreSQL (+ Redis), split by process: replica, its PostgreSQL backend, Redis.

On a shared machine wall-clock rates say little; CPU seconds per process do. One process
decides groups of `--group` attempts (Gateway.decide_many, what `serve`'s writer does under
load) on one connection, chaining the ledger itself every 50 groups (so the chainer's cost
is counted and stays on the same backend), and reads utime+stime of itself
(time.process_time), of its PostgreSQL backend (pg_backend_pid(), /proc) and of the
redis-server process (/proc; other clients of that Redis count too — keep it to yourself
while measuring), per chunk of 250 groups: the median chunk and the least-disturbed one are
printed. `--profile` adds a cProfile (CPU timer) of the replica side; for a sampling profile
run it under `py-spy record --gil`. To compare two checkouts on a busy machine, run them side
by side (both see the same load) rather than one after the other.

Same population and attempt mix as bench/decide.py. Run it against another checkout for A/B:
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/decide_cpu.py --backend postgres+redis

Run: .venv/bin/python bench/decide_cpu.py [--backend postgres,postgres+redis] [--group 8]
     [--decisions 20000] [--numbers 200000] [--repeats 3] [--profile]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decide import attempts, populate  # noqa: E402
from decide_backends import _url_with, _with_schema, cleanup, copy_population, open_backend  # noqa: E402

from reachguard.engine import Gateway  # noqa: E402
from reachguard.store import SQLiteStore  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
CHUNK = 250  # groups per measured chunk


def proc_cpu(pid: int) -> float:
    """utime + stime of a process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def redis_pid(redis_url: str) -> int | None:
    import redis

    try:
        return int(redis.Redis.from_url(redis_url.split("?")[0]).info("server")["process_id"])
    except Exception:  # noqa: BLE001
        return None


def run(backend: str, url: str, redis_url: str, prefix: str, events: list, group: int, profile: bool) -> dict:
    store = open_backend(backend, url, redis_url, prefix)
    store._chain_interval = 0  # chained here, on this thread's connection
    gateway = Gateway(store, secret=b"bench")
    for i in range(0, 40 * group, group):  # warm up: connection, prepared statements
        gateway.decide_many(events[i : i + group])
    store.chain_ledger()
    with store.read() as conn:
        backend_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    rpid = redis_pid(redis_url) if store.uses_redis else None
    body = events[40 * group :]
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not wall: waits do not count

    def sample(decided: int) -> tuple[float, float, float, float, int]:
        return time.process_time(), proc_cpu(backend_pid), proc_cpu(rpid) if rpid else 0.0, time.perf_counter(), decided

    marks = [sample(0)]
    if profiler:
        profiler.enable()
    groups = range(0, len(body), group)
    for n, i in enumerate(groups):
        gateway.decide_many(body[i : i + group])
        if n % 50 == 49:
            store.chain_ledger()
        if n % CHUNK == CHUNK - 1:
            marks.append(sample(min(i + group, len(body))))
    store.chain_ledger()
    if profiler:
        profiler.disable()
    store.close()
    # Per chunk of CHUNK groups: a machine shared with other work inflates CPU time unevenly
    # (caches, frequency); the median and the least-disturbed chunk are both reported.
    chunks = []
    for (c0, b0, r0, w0, n0), (c1, b1, r1, w1, n1) in zip(marks, marks[1:]):
        count = n1 - n0
        chunks.append({"replica": (c1 - c0) / count * 1e6, "postgres": (b1 - b0) / count * 1e6,
                       "redis": (r1 - r0) / count * 1e6, "wall": (w1 - w0) / count * 1e6})
    out = {k: statistics.median(c[k] for c in chunks) for k in chunks[0]}
    out.update({f"min {k}": min(c[k] for c in chunks) for k in ("replica", "postgres", "redis")})
    if profiler:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="postgres,postgres+redis")
    parser.add_argument("--db", default=os.environ.get("REACHGUARD_BENCH_DB", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("REACHGUARD_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--numbers", type=int, default=200_000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synchronous-commit", default="off")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    rng = random.Random(20261123)
    tag = f"{os.getpid()}_{secrets.token_hex(2)}"
    schema = f"rg_bench_{tag}"
    url = _with_schema(args.db, schema)
    import reachguard

    print(f"code: {Path(reachguard.__file__).resolve().parent}; load average {open('/proc/loadavg').read().split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "population.db")
        sqlite = SQLiteStore(path)
        accounts = populate(sqlite, args.numbers, 0.3, rng)
        sqlite.close()
        try:
            copy_population(path, url)
            target = _url_with(url, synchronous_commit=args.synchronous_commit)
            results: dict[str, list[dict]] = {b: [] for b in backends}
            for repeat in range(args.repeats):
                for backend in backends:
                    prefix = f"rgbench:{tag}:{repeat}:"  # Redis starts empty each run, as in decide_backends
                    events = attempts(args.decisions + 40 * args.group, args.numbers, accounts, random.Random(repeat))
                    results[backend].append(run(backend, target, args.redis, prefix, events, args.group,
                                                args.profile and repeat == 0))
                    r = results[backend][-1]
                    print(f"{backend:16} run {repeat + 1}: replica {r['replica']:6.1f} µs  postgres {r['postgres']:6.1f} µs  "
                          f"redis {r['redis']:5.1f} µs  wall {r['wall']:6.1f} µs per decision (median of chunks; "
                          f"least: {r['min replica']:.1f} / {r['min postgres']:.1f} / {r['min redis']:.1f})", flush=True)
            print(f"medians (groups of {args.group}, synchronous_commit={args.synchronous_commit}, "
                  f"load average now {open('/proc/loadavg').read().split()[0]}):")
            for backend, runs in results.items():
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                print(f"{backend:16} replica {med['replica']:6.1f} µs  postgres {med['postgres']:6.1f} µs  "
                      f"redis {med['redis']:5.1f} µs  wall {med['wall']:6.1f} µs per decision (least: "
                      f"{min(r['min replica'] for r in runs):.1f} / {min(r['min postgres'] for r in runs):.1f} / "
                      f"{min(r['min redis'] for r in runs):.1f})")
        finally:
            cleanup(args.db, schema, args.redis, f"rgbench:{tag}:")


if __name__ == "__main__":
    main()
