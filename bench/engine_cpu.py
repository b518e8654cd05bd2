"""CPU per decision of `Gateway.decide_many` on SQLite, in process: groups of 1,000 as the batch endpoint sends them.

Two workloads, both on a fresh SQLite file:

* `http`: the attempts of bench/http.py's batch phase (service, marketing, collection SMS and
  calls to numbers with nothing recorded; decoded by the batch endpoint's own decoder);
* `decide`: bench/decide.py's population (`--numbers`, 30 % with history) and attempt mix.

It prints CPU seconds (user+sys of this process, time.process_time) per decision for each of
`--repeats` rounds and their median, and the median share spent inside the store's write
lock (the part that `serve --workers N` processes cannot overlap): on a shared machine CPU time moves much less than wall
time. `--profile` prints a cProfile (CPU timer) of one round. For an A/B of two checkouts run
both side by side: `PYTHONPATH=/tmp/old/src .venv/bin/python bench/engine_cpu.py`.

Run: .venv/bin/python bench/engine_cpu.py [--workload http,decide] [--groups 20] [--repeats 5] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
from _common import machine  # noqa: E402
from decide import attempts as decide_attempts, populate  # noqa: E402

import msgspec  # noqa: E402

from reachguard.engine import Gateway  # noqa: E402
from reachguard.model import Attempt  # noqa: E402
from reachguard.store import SQLiteStore  # noqa: E402

GROUP = 1000


def _http_attempts():
    spec = importlib.util.spec_from_file_location("_bench_http", _HERE / "http.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.attempts


def groups_http(count: int, rng: random.Random, start: int) -> list[list[Attempt]]:
    make, decode = _http_attempts(), msgspec.json.Decoder(list[Attempt]).decode
    return [decode(json.dumps(make(start + g * GROUP, GROUP, rng)).encode()) for g in range(count)]


class LockClock:
    """CPU time spent inside the store's outermost transaction, i.e. holding SQLite's write
    lock: the part of a batch that `serve --workers N` processes cannot overlap."""

    def __init__(self, store: SQLiteStore):
        self.seconds = 0.0
        self._depth = 0
        self._transaction = store.transaction
        store.transaction = self._timed  # type: ignore[method-assign]

    @contextlib.contextmanager
    def _timed(self, *args, **kwargs):
        self._depth += 1
        start = time.process_time()
        try:
            with self._transaction(*args, **kwargs):
                yield
        finally:
            self._depth -= 1
            if not self._depth:
                self.seconds += time.process_time() - start


def measure(gateway: Gateway, groups: list[list[Attempt]], profiler=None, clock: LockClock | None = None) -> tuple[float, float]:
    """CPU µs per decision over the groups, and of it the µs inside the write lock."""
    gc.collect()
    cpu = time.process_time()
    locked = clock.seconds if clock is not None else 0.0
    if profiler is not None:
        profiler.enable()
    for group in groups:
        gateway.decide_many(group)
    if profiler is not None:
        profiler.disable()
    count = sum(len(g) for g in groups)
    inside = (clock.seconds - locked) if clock is not None else 0.0
    return (time.process_time() - cpu) / count * 1e6, inside / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="http,decide")
    parser.add_argument("--groups", type=int, default=20, help="groups of 1,000 per round")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--numbers", type=int, default=200_000, help="population of the decide workload")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    with tempfile.TemporaryDirectory(prefix="reachguard-engine-cpu-") as tmp:
        for workload in args.workload.split(","):
            rng = random.Random(20261123)
            store = SQLiteStore(os.path.join(tmp, f"{workload}.db"))
            gateway = Gateway(store, secret=b"bench")
            if workload == "http":
                make = lambda r: groups_http(args.groups, rng, 1_000_000 + r * args.groups * GROUP)  # noqa: E731
            elif workload == "decide":
                accounts = populate(store, args.numbers, 0.3, rng)
                make = lambda r: [decide_attempts(GROUP, args.numbers, accounts, rng) for _ in range(args.groups)]  # noqa: E731
            else:
                raise SystemExit(f"unknown workload {workload!r}")
            clock = LockClock(store)
            measure(gateway, make(-1)[:3])  # warm up
            runs = [measure(gateway, make(r), clock=clock) for r in range(args.repeats)]
            figures = [total for total, _ in runs]
            print(f"{workload:7s} decide_many x{GROUP}: CPU per decision µs "
                  f"{' '.join(f'{f:.1f}' for f in figures)}  median {statistics.median(figures):.1f}")
            inside = statistics.median(locked for _, locked in runs)
            print(f"{'':7s} of which inside the write lock: median {inside:.1f} µs "
                  f"({inside / statistics.median(figures):.0%}; serve --workers N cannot overlap this part)")
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile(time.process_time)
                measure(gateway, make(args.repeats), profiler)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            store.close()
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
