"""`reachguard replay` of a large event stream: wall time, events/s and peak memory.

Generates a stream (default 1,000,000 events: 30% state events — consents, opt-outs, lists,
accounts, outcomes, replies — and 70% attempts over 100,000 numbers), replays it in a
subprocess exactly as a user would (`reachguard replay FILE`), and reads the child's peak RSS.
Baseline in the same run: decoding the same file with msgspec alone (the floor for any replay).
Run: `.venv/bin/python bench/replay.py [--events N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from reachguard.events import decode_event  # noqa: E402

BASE = 1_795_000_000  # 2026-11-19


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(ts + 8 * 3600))


def generate(path: str, count: int, numbers: int, rng: random.Random) -> None:
    orgs = ("acme", "xinghe", "kuaidai")
    with open(path, "w", encoding="utf-8") as out:
        for k in range(count):
            ts = BASE + k * (30 * 86400 / count)  # a month, in order
            n = rng.randrange(numbers)
            to = f"+86 139 {n // 10000:04d} {n % 10000:04d}"
            org = orgs[n % 3]
            roll = rng.random()
            if roll < 0.10:
                event = {"type": "consent", "org": org, "to": to, "purpose": "marketing", "at": iso(ts)}
            elif roll < 0.13:
                event = {"type": "opt_out", "to": to, "at": iso(ts), "org": org}
            elif roll < 0.16:
                event = {"type": "dnc", "list": "national", "to": to, "at": iso(ts)}
            elif roll < 0.22:
                event = {"type": "account", "org": org, "subject": f"L{n}", "borrower": to, "at": iso(ts),
                         "days_past_due": rng.randrange(0, 40)}
            elif roll < 0.28:
                event = {"type": "outcome", "org": org, "to": to, "subject": f"L{n}", "at": iso(ts),
                         "result": rng.choice(("no_answer", "no_answer", "conversation", "voicemail"))}
            elif roll < 0.30:
                event = {"type": "inbound_sms", "from": to, "to": "1069000012345", "text": rng.choice(("T", "好的", "退订")),
                         "at": iso(ts)}
            elif roll < 0.72:
                event = {"type": "attempt", "id": f"a{k}", "org": org, "channel": rng.choice(("sms", "call")),
                         "purpose": "marketing", "to": to, "at": iso(ts)}
            else:
                event = {"type": "attempt", "id": f"a{k}", "org": org, "channel": rng.choice(("sms", "call")),
                         "purpose": "collection", "to": to, "subject": f"L{n}", "at": iso(ts)}
            out.write(json.dumps(event, ensure_ascii=False))
            out.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--numbers", type=int, default=100_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    reachguard = str(Path(sys.executable).with_name("reachguard"))
    with tempfile.TemporaryDirectory() as tmp:
        stream = os.path.join(tmp, "events.jsonl")
        generate(stream, args.events, args.numbers, random.Random(20261123))
        size = os.path.getsize(stream)
        print(f"stream: {args.events:,} events, {size / 1e6:.0f} MB")

        start = time.perf_counter()
        with open(stream, "rb") as lines:
            decoded = sum(1 for line in lines if decode_event(line.strip()))
        baseline = time.perf_counter() - start

        start = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            result = subprocess.run([reachguard, "replay", stream], stdout=sink, stderr=subprocess.PIPE, check=False)
        elapsed = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if result.returncode != 0:
            print(result.stderr.decode(errors="replace")[-2000:])
            raise SystemExit(f"replay failed with exit code {result.returncode}")
    print(f"msgspec decode only (baseline): {decoded / baseline:>10,.0f} events/s  ({baseline:.1f} s)")
    print(f"reachguard replay             : {args.events / elapsed:>10,.0f} events/s  ({elapsed:.1f} s)  peak RSS {peak_mb:,.0f} MB")
    print(f"ratio replay/decode-only: {elapsed / baseline:.1f}x slower")


if __name__ == "__main__":
    main()
