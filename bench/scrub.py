"""Campaign scrub at scale: `reachguard.scrub.run_scrub` beside a raw DuckDB anti-join.

Generates (in --dir, deleted afterwards unless --keep):
* a messy campaign CSV of --rows rows (default 10,000,000): numbers in eight spellings
  (bare, +86, 0086, spaced, dashed, parenthesised…), ~0.1 % garbage, ~5 % duplicates, plus a
  name and a segment column;
* a SQLite store bulk-loaded directly (no events; the store's triggers fill its key tables,
  store/sqlite_keys.py, as it loads): --rows opt-outs and list entries (half
  opt-outs, half `national` list; half of them numbers of the list), --rows/10 marketing
  consents for acme (numbers of the list), and --rows/1000 contacts today (caps).
Then, in child processes measured one at a time (wall time, peak RSS via wait4):
* scrub   — run_scrub(csv, store, marketing/sms at 10:00): every rule, both output files;
* raw     — DuckDB reads a CSV of the same numbers already clean (E.164), anti-joins them
            against the same opt-out + list numbers (read from Parquet), writes the survivors
            to CSV. No normalising, no consent, no caps: the floor for "the same join".
Medians of --repeat runs; the machine is shared, so expect noise.

    .venv/bin/python bench/scrub.py --rows 1000000
    .venv/bin/python bench/scrub.py              # 10M: ~2.5 GB of files while it runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median  # noqa: E402

AT = "2026-11-23T10:00:00+08:00"
AT_TS = datetime.fromisoformat(AT).timestamp()
BASE = 13_000_000_000  # numbers 130…–199… : every one a valid +86 mobile
SPAN = 6_000_000_000


def list_number_sql(i: str, rows: int) -> str:
    """The list's number for row i (as BIGINT): ~5 % of rows repeat an earlier number."""
    return f"({BASE} + hash(CASE WHEN {i} % 20 = 7 THEN ({i} * 7919) % {rows} ELSE {i} END) % {SPAN})"


def generate(folder: Path, rows: int, sqlite_store: bool = True) -> dict[str, float]:
    """Write list.csv, clean.csv, blocked.parquet and store.db (unless not `sqlite_store`:
    bench/scrub_pg.py loads PostgreSQL instead); returns the seconds each took."""
    took: dict[str, float] = {}
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    start = time.perf_counter()
    n = list_number_sql("i", rows)
    messy = f"""CASE i % 10
        WHEN 0 THEN '+86' || n WHEN 1 THEN '+86 ' || substr(n,1,3) || ' ' || substr(n,4,4) || ' ' || substr(n,8,4)
        WHEN 2 THEN substr(n,1,3) || '-' || substr(n,4,4) || '-' || substr(n,8,4) WHEN 3 THEN '0086' || n
        WHEN 4 THEN '(+86) ' || substr(n,1,3) || '.' || substr(n,4,4) || '.' || substr(n,8,4)
        WHEN 5 THEN CASE WHEN i % 1000 = 5 THEN 'N/A' ELSE ' ' || n || ' ' END
        ELSE n END"""
    con.execute(f"""COPY (SELECT 'customer ' || i AS name, {messy} AS phone, 'segment-' || (i % 7) AS segment
                    FROM (SELECT i, CAST({n} AS VARCHAR) AS n FROM range({rows}) t(i)))
                    TO '{folder / "list.csv"}' (HEADER, DELIMITER ',')""")
    took["list.csv"] = time.perf_counter() - start
    start = time.perf_counter()
    con.execute(f"""COPY (SELECT '+86' || CAST({n} AS VARCHAR) AS number FROM range({rows}) t(i))
                    TO '{folder / "clean.csv"}' (HEADER)""")
    # opt-outs and list entries: half of them numbers of the list, half elsewhere
    half = rows // 2
    blocked = (f"SELECT '+86' || CAST(CASE WHEN j % 2 = 0 THEN {list_number_sql('(j * 104729) % ' + str(rows), rows)} "
               f"ELSE {BASE} + hash(j + 987654321) % {SPAN} END AS VARCHAR) AS number, j FROM range({rows}) t(j)")
    con.execute(f"COPY ({blocked}) TO '{folder / 'blocked.parquet'}' (FORMAT parquet)")
    took["clean.csv + blocked.parquet"] = time.perf_counter() - start
    if sqlite_store:
        start = time.perf_counter()
        _store(con, folder, rows, half)
        took["store.db"] = time.perf_counter() - start
    con.close()
    return took


def _store(con: duckdb.DuckDBPyConnection, folder: Path, rows: int, half: int) -> None:
    from reachguard.store import SQLiteStore

    path = folder / "store.db"
    SQLiteStore(str(path)).close()  # the schema, exactly as the gateway makes it
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    at = f"CAST({AT_TS - 30 * 86400} AS DOUBLE)"
    parquet = folder / "blocked.parquet"

    def batches(sql: str):
        reader = con.sql(sql).to_arrow_reader(500_000)
        for batch in reader:
            yield from zip(*(column.to_pylist() for column in batch.columns))

    db.executemany("INSERT INTO opt_outs(number, org, channels, at, kind, note) VALUES (?, NULL, 15, ?, 'opt_out', NULL)",
                   batches(f"SELECT number, {at} FROM '{parquet}' WHERE j < {half}"))
    db.executemany("INSERT OR IGNORE INTO dnc(number, list, at) VALUES (?, 'national', ?)",
                   batches(f"SELECT number, {at} FROM '{parquet}' WHERE j >= {half}"))
    n = list_number_sql("(k * 13) % " + str(rows), rows)
    db.executemany("INSERT INTO consents(org, number, channels, at, expires_at, withdrawn, evidence) "
                   "VALUES ('acme', ?, 15, ?, NULL, 0, 'bench')",
                   batches(f"SELECT '+86' || CAST({n} AS VARCHAR), {at} + k % 1000 FROM range({rows // 10}) t(k)"))
    n = list_number_sql("(k * 17) % " + str(rows), rows)
    db.executemany("INSERT INTO contacts(org, number, channel, purpose, relation, subject, at) "
                   "VALUES ('acme', ?, 'sms', 'marketing', 'prospect', NULL, ?)",
                   batches(f"SELECT '+86' || CAST({n} AS VARCHAR), CAST({AT_TS - 3600} AS DOUBLE) FROM range({max(1, rows // 1000)}) t(k)"))
    db.execute("COMMIT")
    db.close()


OUTPUTS = ("allowed.csv", "allowed.rejected.csv", "raw_allowed.csv")


def child_scrub(folder: Path) -> dict:
    from reachguard.scrub import run_scrub

    report = run_scrub(folder / "list.csv", store=str(folder / "store.db"), org="acme", purpose="marketing",
                       channel="sms", at=datetime.fromisoformat(AT), out=folder / "allowed.csv")
    return {k: v for k, v in report.as_dict().items() if k not in ("notes",)}


def child_raw(folder: Path) -> dict:
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    con.execute(f"CREATE TABLE blocked AS SELECT DISTINCT number FROM '{folder / 'blocked.parquet'}'")
    # COPY answers with the number of rows it wrote (re-reading the file to count them, as this
    # baseline once did, only made the floor slower).
    kept = con.execute(f"""COPY (SELECT c.* FROM read_csv('{folder / "clean.csv"}', header = true, columns = {{'number': 'VARCHAR'}}) c
                    ANTI JOIN blocked b USING (number)) TO '{folder / "raw_allowed.csv"}' (HEADER)""").fetchall()[0][0]
    return {"allowed": kept, "seconds": time.perf_counter() - started}


def measure(kind: str, folder: Path, huge_pages: bool = False) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MiB, the child's answer + its CPU seconds) of one child process.

    CPU seconds (user + system, its own helper processes included) are what a loaded machine
    distorts least: with four other jobs on two cores, wall times double and halve from run to run.
    Both children run as `reachguard scrub` runs: numpy's huge-page advice off (core/memory.py),
    unless `huge_pages` (numpy's default)."""
    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "1" if huge_pages else "0"}
    return run_child([sys.executable, __file__, "--child", kind, "--dir", str(folder)], folder, env)


def run_child(argv: list[str], folder: Path, env: dict[str, str] | None = None) -> tuple[float, float, dict]:
    """Run one timed child (its stdout: a JSON answer); the previous run's outputs are removed
    first — replacing a 1 GB output from an earlier run costs ~1 s of unlinking, not scrubbing."""
    for name in OUTPUTS:
        (folder / name).unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv[3]} child failed ({status})")
    answer = json.loads(out)
    answer["cpu"] = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss / 1024, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to generate (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--reuse", action="store_true",
                        help="use the files already in --dir (from a run with --keep and the same --rows)")
    parser.add_argument("--numpy-huge-pages", action="store_true",
                        help="run the children with numpy's huge-page advice on (numpy's default; the CLI turns it off)")
    parser.add_argument("--child", choices=("scrub", "raw"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        answer = child_scrub(args.dir) if args.child == "scrub" else child_raw(args.dir)
        sys.stdout.write(json.dumps(answer, default=str))
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="reachguard-bench-scrub-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"rows: {args.rows:,} · store: {args.rows:,} opt-outs/list entries, {args.rows // 10:,} consents, "
          f"{max(1, args.rows // 1000):,} contacts · repeat {args.repeat} · numpy huge pages "
          f"{'on' if args.numpy_huge_pages else 'off (as the CLI)'} · shared machine: figures are noisy")
    try:
        if args.reuse and args.dir is not None:
            print(f"reusing the inputs in {folder}")
        else:
            for name, seconds in generate(folder, args.rows).items():
                print(f"generated {name:<28} {seconds:6.1f} s")
        sizes = {p.name: p.stat().st_size / 2**20 for p in folder.iterdir() if p.suffix in (".csv", ".db", ".parquet")}
        print("sizes: " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in sorted(sizes.items())))
        runs: dict[str, list[tuple[float, float]]] = {"scrub": [], "raw": []}
        inside: dict[str, list[float]] = {"scrub": [], "raw": []}
        cpu: dict[str, list[float]] = {"scrub": [], "raw": []}
        answers: dict[str, dict] = {}
        print(f"load average before: {open('/proc/loadavg').read().strip()}")
        for _ in range(args.repeat):
            for kind in ("raw", "scrub"):
                seconds, rss, answer = measure(kind, folder, args.numpy_huge_pages)
                runs[kind].append((seconds, rss))
                inside[kind].append(answer["seconds"])
                cpu[kind].append(answer["cpu"])
                answers[kind] = answer
                print(f"  {kind:<5} {seconds:6.2f} s process, {answer['seconds']:6.2f} s work, {answer['cpu']:6.2f} s CPU  "
                      f"peak {rss:7,.0f} MiB  (load {open('/proc/loadavg').read().split()[0]})")
        scrub_s, raw_s = median([s for s, _ in runs["scrub"]]), median([s for s, _ in runs["raw"]])
        scrub_rss = max(r for _, r in runs["scrub"])
        report = answers["scrub"]
        work_scrub, work_raw = median(inside["scrub"]), median(inside["raw"])
        print(f"scrub: median {scrub_s:.2f} s process ({work_scrub:.2f} s work), peak {scrub_rss:,.0f} MiB · "
              f"raw anti-join: median {raw_s:.2f} s process ({work_raw:.2f} s work), "
              f"peak {max(r for _, r in runs['raw']):,.0f} MiB · ratio {scrub_s / raw_s:.2f}x process, "
              f"{work_scrub / work_raw:.2f}x work, {median(cpu['scrub']) / median(cpu['raw']):.2f}x CPU "
              f"({median(cpu['scrub']):.1f} s / {median(cpu['raw']):.1f} s) · load average {open('/proc/loadavg').read().split()[0]} (end)")
        print(f"scrub answer: {report['allowed']:,} allowed, {report['rejected']:,} rejected "
              f"({report['invalid_numbers']:,} invalid, {report['duplicates']:,} duplicates), reasons {report['reasons']}, "
              f"{report['numbers_in_python']:,} raw values via Python, {report['signatures']} signatures, "
              f"{report['judged_row_by_row']:,} rows judged one by one")
        print(f"raw answer: {answers['raw']['allowed']:,} clean numbers not blocked (duplicates and garbage included)")
        print(f"targets: < 10 s {'met' if scrub_s < 10 else 'NOT met'}; within 3x of raw "
              f"{'met' if scrub_s <= 3 * raw_s else 'NOT met'}; < 4 GB {'met' if scrub_rss < 4096 else 'NOT met'}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
