"""FINISH (the Lua script that appends a decision's contacts to Redis) old code against new.

Why: FINISH runs once per decision on PostgreSQL + Redis; keeping the org's index of its counters
(store/redis_index.py) adds a ZSCORE, maybe a ZADD, a ZREMRANGEBYSCORE and a PEXPIRE per number
key. Each child appends one contact to each of N fresh numbers (one FINISH each, as a decision
does) under a key prefix of its own, then deletes its keys; runs alternate old, new, old, …
Reported per FINISH: the client's wall time and Redis's own time for the script (INFO
commandstats: `cmdstat_evalsha` usec delta / calls delta; other clients' EVALSHAs on the same
server during a run are counted too, so look at medians).

    .venv/bin/python bench/redis_finish.py --old /tmp/old_x/src [--calls 20000] [--runs 3] [--distinct 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median  # noqa: E402

REDIS = "redis://127.0.0.1:6379/0"


def _evalsha(client) -> tuple[int, int]:
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def child(calls: int, distinct: int) -> dict:
    from reachguard.store.redis_scripts import RedisCounters

    prefix = f"rgbench:finish:{secrets.token_hex(4)}:"
    counters = RedisCounters(REDIS, prefix=prefix)
    at = 1_795_000_000.0
    counters.finish("warm", [], {counters.number_key("acme", "+860"): ("", [(at, f"{at!r}|+860|sms|marketing|prospect||w")])},
                    unlock=True)
    calls0, usec0 = _evalsha(counters.client)
    start = time.perf_counter()
    for i in range(calls):
        number = f"+86138{i % distinct:08d}"
        t = at + i
        counters.finish("t", [], {counters.number_key("acme", number): ("", [(t, f"{t!r}|{number}|sms|marketing|prospect||k{i}")])},
                        unlock=True)
    seconds = time.perf_counter() - start
    calls1, usec1 = _evalsha(counters.client)
    counters.clear()
    counters.close()
    return {"us_per_finish": seconds / calls * 1e6, "server_us": (usec1 - usec0) / max(1, calls1 - calls0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", default=None, help="source tree of the old code (its src folder)")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--distinct", type=int, default=0,
                        help="cycle over this many numbers (repeat contacts: the index entry exists); default: all fresh")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.calls, args.distinct or args.calls)))
        return
    trees = {"new": str(Path(__file__).resolve().parents[1] / "src")}
    if args.old:
        trees = {"old": args.old, **trees}
    print(machine())
    print(f"load before: {os.getloadavg()}")
    got: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, src in trees.items():
            env = dict(os.environ, PYTHONPATH=src)
            out = subprocess.run([sys.executable, __file__, "--child", "--calls", str(args.calls), "--distinct", str(args.distinct)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            got[name].append(json.loads(out))
    print(f"load after: {os.getloadavg()}")
    for name, runs in got.items():
        wall = [r["us_per_finish"] for r in runs]
        server = [r["server_us"] for r in runs]
        print(f"{name:>4}: {median(wall):6.1f} us per FINISH at the client ({min(wall):.1f}–{max(wall):.1f}), "
              f"{median(server):5.2f} us in Redis ({min(server):.2f}–{max(server):.2f}); {args.calls:,} calls × {args.runs} runs, "
              f"{args.distinct or args.calls:,} numbers")


if __name__ == "__main__":
    main()
