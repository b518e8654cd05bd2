"""The group-commit hand-off alone: how concurrent callers split into groups, and what the hand-off costs.

A fake gateway stands in for the store: each group "decides" by sleeping `--work-ms` (releasing the
GIL, as a writer waiting on PostgreSQL does). N client threads call it in a closed loop through
the service's own queue (api/group_queue.py), as bench/decide_backends.py's grouped mode does.
Printed per configuration: calls/s, the mean group size, and the CPU time of the whole process
per call (client threads + writer: the hand-off's own cost, no store work). Configurations, in the
same run: the wait off (the baseline) and on, and the caller waiting on a threading.Event (what
the bench used before) or on a pre-acquired lock. Timings are medians of --repeats runs.

Run: .venv/bin/python bench/group_handoff.py [--clients 8] [--work-ms 1] [--wait-ms 0.5] [--seconds 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from reachguard.api.group_queue import GroupQueue  # noqa: E402


def run(clients: int, work: float, wait: float, handoff: str, seconds: float) -> tuple[float, float, float]:
    """(calls/s, mean group, CPU µs per call) of one run."""
    queue: GroupQueue[list] = GroupQueue(wait)
    sizes: list[int] = []

    def writer() -> None:
        while (group := queue.take()) is not None:
            time.sleep(work)
            sizes.append(len(group))
            for slot in group:
                slot[1].set() if handoff == "event" else slot[1].release()

    def call() -> None:
        if handoff == "event":
            done = threading.Event()
            queue.put([None, done])
            done.wait()
        else:
            lock = threading.Lock()
            lock.acquire()
            queue.put([None, lock])
            lock.acquire()

    counts: list[int] = []
    deadline = time.perf_counter() + seconds

    def client() -> None:
        n = 0
        while time.perf_counter() < deadline:
            call()
            n += 1
        counts.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    pool = [threading.Thread(target=client) for _ in range(clients)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    queue.close()
    thread.join()
    calls = sum(counts)
    return calls / wall, statistics.fmean(sizes), cpu / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="client threads (bench/decide.py's 16 workers over 2 replicas: 8)")
    parser.add_argument("--work-ms", type=float, default=1.0, help="the fake gateway's time per group")
    parser.add_argument("--wait-ms", type=float, default=0.5, help="the wait for company when on (serve's default)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"{args.clients} client threads, fake gateway {args.work_ms:g} ms per group, {args.seconds:g} s per run, "
          f"median of {args.repeats} runs (configurations interleaved)")
    configs = [("off", "event"), ("on", "event"), ("off", "lock"), ("on", "lock")]
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {c: [] for c in configs}
    for _ in range(args.repeats):
        for wait, handoff in configs:
            results[(wait, handoff)].append(
                run(args.clients, args.work_ms / 1000, args.wait_ms / 1000 if wait == "on" else 0.0, handoff, args.seconds))
    base = statistics.median(r[2] for r in results[("off", "event")])
    for (wait, handoff), runs in results.items():
        rate, group, cpu = (statistics.median(r[i] for r in runs) for i in range(3))
        label = f"wait {wait:<3} ({args.wait_ms:g} ms)" if wait == "on" else "wait off"
        print(f"{label:<18} hand-off {handoff:<5}  {rate:8,.0f} calls/s  mean group {group:4.1f}  "
              f"CPU {cpu:5.1f} µs per call ({cpu / base:.2f}× the wait-off Event row)")


if __name__ == "__main__":
    main()
