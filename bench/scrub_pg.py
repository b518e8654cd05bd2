"""Campaign scrub on a PostgreSQL (or PostgreSQL + Redis) store, beside the raw DuckDB anti-join.

The same inputs as bench/scrub.py (its `generate`, without the SQLite store): a messy list of
--rows rows, and a store with --rows opt-outs + `national` list entries, --rows/10 consents and
--rows/1000 contacts today — bulk-loaded into a PostgreSQL schema of its own with COPY (schema
`rg_bench_scrub_<rows>`, kept for --reuse). Then, in child processes one at a time:
* scrub — run_scrub(list, "postgresql://…?schema=…", marketing/sms at 10:00), every rule, both
          files (with --backend postgres+redis, REACHGUARD_REDIS_URL is set for the child);
* raw   — bench/scrub.py's raw anti-join (clean CSV against the blocked numbers in Parquet).
CPU: the child's own (user + system), and the PostgreSQL server's over the same interval (every
`postgres` process, reaped backends included — other users of the server count too).

    .venv/bin/python bench/scrub_pg.py --rows 1000000 --repeat 3
    .venv/bin/python bench/scrub_pg.py --rows 1000000 --repeat 3 --dir /tmp/spg1m --keep --reuse
    .venv/bin/python bench/scrub_pg.py --rows 1000000 --backend postgres+redis --redis-counted 100000 …
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scrub as base  # noqa: E402  (bench/scrub.py)
from _common import machine, median  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
PREFIX = "rgbench:scrub:"


def server_cpu() -> float:
    """CPU seconds used so far by every `postgres` process (the postmaster's reaped children too)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        if text[text.index("(") + 1:text.rindex(")")] != "postgres":
            continue
        fields = text[text.rindex(")") + 2:].split()
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / tick


def load(folder: Path, rows: int, url: str) -> float:
    """Bulk-load the bench's store into the schema of `url` with COPY; returns seconds."""
    import psycopg

    from reachguard.store.postgres import PostgresStore

    start = time.perf_counter()
    store = PostgresStore(url, chain_interval=0)  # the schema, migrated as the gateway would
    schema = store.schema
    store.close()
    half = rows // 2
    at = f"CAST({base.AT_TS - 30 * 86400} AS DOUBLE)"
    parquet = folder / "blocked.parquet"
    n13 = base.list_number_sql("(k * 13) % " + str(rows), rows)
    n17 = base.list_number_sql("(k * 17) % " + str(rows), rows)
    tables = {
        "opt_outs(number, org, channels, at, kind, note)":
            f"SELECT number, NULL, 15, {at}, 'opt_out', NULL FROM '{parquet}' WHERE j < {half}",
        "dnc(number, list, at)": f"SELECT DISTINCT number, 'national', {at} FROM '{parquet}' WHERE j >= {half}",
        "consents(org, number, channels, at, expires_at, withdrawn, evidence)":
            f"SELECT 'acme', '+86' || CAST({n13} AS VARCHAR), 15, {at} + k % 1000, NULL, false, 'bench' FROM range({rows // 10}) t(k)",
        "contacts(org, number, channel, purpose, relation, subject, at)":
            f"SELECT 'acme', '+86' || CAST({n17} AS VARCHAR), 'sms', 'marketing', 'prospect', NULL, "
            f"CAST({base.AT_TS - 3600} AS DOUBLE) FROM range({max(1, rows // 1000)}) t(k)",
    }
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        for target, sql in tables.items():
            csv = folder / "pg_load.csv"
            con.execute(f"COPY ({sql}) TO '{csv}' (HEADER false)")
            with conn.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN (FORMAT csv)") as copy, open(csv, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            csv.unlink()
        conn.execute("ANALYZE")
    con.close()
    return time.perf_counter() - start


def loaded(url: str) -> bool:
    import psycopg

    from reachguard.store.pg_engine import parse_url

    schema = parse_url(url)[1]["schema"]
    with psycopg.connect(PG) as conn:
        found = conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'opt_outs'", (schema,)).fetchone()
        return found is not None and conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{schema}".opt_outs)').fetchone()[0]


def fill_redis(folder: Path, count: int) -> None:
    """Counters in Redis for `count` numbers of the list (one marketing contact 3 days ago each,
    in Redis only: a live PostgreSQL+Redis store holds a counter per number contacted lately)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    numbers: list[str] = []
    with open(folder / "clean.csv", encoding="utf-8") as handle:
        next(handle)
        seen: set[str] = set()
        for line in handle:
            number = line.strip()
            if number not in seen:
                seen.add(number)
                numbers.append(number)
                if len(numbers) >= count:
                    break
    at = base.AT_TS - 3 * 86400
    pipe = client.pipeline(transaction=False)
    for i, number in enumerate(numbers):
        pipe.zadd(f"{PREFIX}c:acme|{number}", {f"{at!r}|{number}|sms|marketing|prospect||bench{i}": at})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    client.close()


def clear_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    names = list(client.scan_iter(match=PREFIX + "*", count=10_000))
    for i in range(0, len(names), 1000):
        client.delete(*names[i:i + 1000])
    client.close()


def child_scrub(folder: Path, url: str) -> dict:
    from reachguard.scrub import run_scrub

    report = run_scrub(folder / "list.csv", store=url, org="acme", purpose="marketing", channel="sms",
                       at=datetime.fromisoformat(base.AT), out=folder / "allowed.csv")
    return {k: v for k, v in report.as_dict().items() if k not in ("notes",)}


def measure(kind: str, folder: Path, url: str, backend: str) -> tuple[float, float, dict]:
    env = dict(os.environ)
    env.pop("REACHGUARD_REDIS_URL", None)
    if backend == "postgres+redis":
        env["REACHGUARD_REDIS_URL"] = f"{REDIS}?prefix={PREFIX}"
    before = server_cpu()
    seconds, rss, answer = base.run_child([sys.executable, __file__, "--child", kind, "--dir", str(folder), "--url", url],
                                          folder, env)
    answer["server_cpu"] = server_cpu() - before
    return seconds, rss, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("postgres", "postgres+redis"), default="postgres")
    parser.add_argument("--redis-counted", type=int, default=0,
                        help="postgres+redis: give this many list numbers a counter in Redis first (removed at the end)")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated files and the schema")
    parser.add_argument("--reuse", action="store_true", help="reuse the files in --dir and the schema if loaded")
    parser.add_argument("--child", choices=("scrub", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        answer = child_scrub(args.dir, args.url) if args.child == "scrub" else base.child_raw(args.dir)
        sys.stdout.write(json.dumps(answer, default=str))
        return
    url = f"{PG}?schema=rg_bench_scrub_{args.rows}"
    folder = args.dir or Path(tempfile.mkdtemp(prefix="reachguard-bench-scrub-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"rows: {args.rows:,} · backend {args.backend} · repeat {args.repeat} · shared machine: figures are noisy")
    try:
        if not (args.reuse and (folder / "list.csv").exists()):
            for name, seconds in base.generate(folder, args.rows, sqlite_store=False).items():
                print(f"generated {name:<28} {seconds:6.1f} s")
        if not (args.reuse and loaded(url)):
            print(f"loaded the PostgreSQL store in {load(folder, args.rows, url):.1f} s")
        clear_redis()
        if args.backend == "postgres+redis" and args.redis_counted:
            fill_redis(folder, args.redis_counted)
            print(f"{args.redis_counted:,} list numbers have a counter in Redis")
        runs: dict[str, list[tuple[float, float, dict]]] = {"scrub": [], "raw": []}
        print(f"load average before: {open('/proc/loadavg').read().strip()}")
        for _ in range(args.repeat):
            for kind in ("raw", "scrub"):
                seconds, rss, answer = measure(kind, folder, url, args.backend)
                runs[kind].append((seconds, rss, answer))
                print(f"  {kind:<5} {seconds:6.2f} s process, {answer['seconds']:6.2f} s work, {answer['cpu']:6.2f} s CPU "
                      f"+ {answer['server_cpu']:5.2f} s server CPU  peak {rss:7,.0f} MiB  "
                      f"(load {open('/proc/loadavg').read().split()[0]})")
        s, r = runs["scrub"], runs["raw"]
        scrub_s, raw_s = median([x[0] for x in s]), median([x[0] for x in r])
        scrub_cpu = median([x[2]["cpu"] + x[2]["server_cpu"] for x in s])
        raw_cpu = median([x[2]["cpu"] for x in r])
        print(f"scrub ({args.backend}): median {scrub_s:.2f} s process ({median([x[2]['seconds'] for x in s]):.2f} s work), "
              f"peak {max(x[1] for x in s):,.0f} MiB, CPU {scrub_cpu:.1f} s with the server's · raw anti-join: median "
              f"{raw_s:.2f} s process, CPU {raw_cpu:.1f} s · ratio {scrub_s / raw_s:.2f}x process, {scrub_cpu / raw_cpu:.2f}x CPU"
              f" · load average {open('/proc/loadavg').read().split()[0]} (end)")
        report = s[-1][2]
        print(f"scrub answer: {report['allowed']:,} allowed, {report['rejected']:,} rejected "
              f"({report['invalid_numbers']:,} invalid, {report['duplicates']:,} duplicates), reasons {report['reasons']}, "
              f"{report['signatures']} signatures, {report['judged_row_by_row']:,} rows judged one by one")
    finally:
        clear_redis()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
            import psycopg

            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "rg_bench_scrub_{args.rows}" CASCADE')


if __name__ == "__main__":
    main()
