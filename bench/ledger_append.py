"""The PostgreSQL ledger alone: append entries in groups and chain them, per entry the CPU of
this process and of its PostgreSQL backend, the WAL written and the tables' size.

Decisions append their entries in groups (one statement per group, as `decide_many` does);
here each group is its own transaction, and the ledger is chained every 50 groups on the same
connection, as in bench/decide_cpu.py — so the figures are the ledger's share of a decision
without the rest of it. Every `--vacuum-every` chained entries the queue is vacuumed on the
same connection, as the background chainer does (0: never, as before that existed; its CPU
counts in the chunk it falls in). Each chunk line also gives `ledger_pending`'s size: the
chaining's cost per entry grows with it while its dead rows are not vacuumed. Run it on the
checkout to measure (PYTHONPATH=<checkout>/src), alternating checkouts:

    PYTHONPATH=src .venv/bin/python bench/ledger_append.py --entries 40000

WAL bytes are the server's (pg_current_wal_lsn): other clients of the same server count too.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decide_cpu import proc_cpu  # noqa: E402

TABLES = ("ledger", "ledger_pending", "ledger_body", "ledger_queue", "ledger_chain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("REACHGUARD_BENCH_DB", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--entries", type=int, default=40_000)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--body-bytes", type=int, default=600, help="about the size of a decision's entry")
    parser.add_argument("--chunks", type=int, default=5)
    parser.add_argument("--vacuum-every", type=int, default=None,
                        help="VACUUM ledger_pending every N chained entries (default: the background chainer's "
                             "setting; 0: never)")
    args = parser.parse_args()
    import reachguard
    from reachguard.store.postgres import PostgresStore

    try:
        from reachguard.store.pg_chainer import VACUUM_EVERY  # the background chainer's setting
    except ImportError:  # a checkout from before the chainer vacuumed the queue (A/B runs)
        VACUUM_EVERY = 0
    vacuum_every = VACUUM_EVERY if args.vacuum_every is None else args.vacuum_every
    if vacuum_every < 0:
        parser.error("--vacuum-every must be >= 0")
    if vacuum_every and not hasattr(PostgresStore, "vacuum_pending"):
        parser.error("this checkout cannot VACUUM the queue: --vacuum-every 0")

    schema = f"rg_bench_ledger_{os.getpid()}_{secrets.token_hex(2)}"
    url = args.db + ("&" if "?" in args.db else "?") + f"schema={schema}&synchronous_commit=off"
    store = PostgresStore(url, chain_interval=0)
    pad = "x" * max(0, args.body_bytes - 110)
    entries = [(f"org{i % args.orgs}", "decision", 1_763_900_000.0 + i, f"+86139{i % 100000:08d}", "allow",
                f'{{"decision":{{"verdict":"allow","reasons":[],"id":"e{i}"}},"pad":"{pad}"}}'.encode())
               for i in range(args.entries)]
    vacuum = f"VACUUM ledger_pending every {vacuum_every:,} chained entries" if vacuum_every else "ledger_pending never VACUUMed"
    print(f"code: {Path(reachguard.__file__).resolve().parent}; load average {open('/proc/loadavg').read().split()[0]}; "
          f"{vacuum}")
    chained = 0

    def chain() -> None:
        nonlocal chained
        chained += store.chain_ledger()
        if vacuum_every and chained >= vacuum_every:
            chained = 0
            store.vacuum_pending()
    try:
        with store.read() as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        per_chunk = args.entries // args.chunks
        chunks = []
        for c in range(args.chunks):
            part = entries[c * per_chunk:(c + 1) * per_chunk]
            with store.read() as conn:
                lsn0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            p0, b0 = time.process_time(), proc_cpu(backend)
            for g, k in enumerate(range(0, len(part), args.group)):
                store.ledger_append(part[k:k + args.group])
                if g % 50 == 49:
                    chain()
            chain()
            p1, b1 = time.process_time(), proc_cpu(backend)
            with store.read() as conn:
                wal = conn.execute("SELECT pg_current_wal_lsn() - %s::pg_lsn", (lsn0,)).fetchone()[0]
                pending = conn.execute("SELECT pg_total_relation_size('ledger_pending')").fetchone()[0]
            chunks.append({"replica": (p1 - p0) / len(part) * 1e6, "postgres": (b1 - b0) / len(part) * 1e6,
                           "wal": float(wal) / len(part)})
            r = chunks[-1]
            print(f"chunk {c + 1}: replica {r['replica']:6.1f} µs  postgres {r['postgres']:6.1f} µs  "
                  f"WAL {r['wal']:7.0f} B per entry; ledger_pending {pending / 2**20:6.1f} MiB", flush=True)
        with store.read() as conn:
            sizes = {t: conn.execute("SELECT pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                                     "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = %s "
                                     "AND c.relkind = 'r'", (t,)).fetchone() for t in TABLES}
        size = sum(s[0] for s in sizes.values() if s)
        med = {k: statistics.median(c[k] for c in chunks) for k in chunks[0]}
        print(f"median of {args.chunks} chunks ({args.entries:,} entries, groups of {args.group}, {args.orgs} orgs, "
              f"bodies ~{args.body_bytes} B): replica {med['replica']:.1f} µs  postgres {med['postgres']:.1f} µs  "
              f"WAL {med['wal']:.0f} B per entry; ledger tables {size / args.entries:.0f} B per entry "
              f"(load average now {open('/proc/loadavg').read().split()[0]})")
    finally:
        store.close()
        import psycopg

        with psycopg.connect(args.db, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
