"""Decoding one contract event: `events.decode_event` on a typical attempt line, beside msgspec's
bare typed decode of the same bytes (the floor), in the same run. Median of --repeat timings of
--number decodes each; microseconds per event.

    .venv/bin/python bench/decode.py
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/decode.py     # another checkout, for A/B
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median  # noqa: E402

LINE = json.dumps({"type": "attempt", "id": "a-123456", "org": "acme", "to": "+8613800138000", "channel": "sms",
                   "purpose": "marketing", "at": "2026-11-22T10:00:00+08:00", "agent": "agent-7",
                   "content": "【某某银行】您的账单已出，请于本月25日前还款。回T退订"}, ensure_ascii=False).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from reachguard.events import decode_event
    from reachguard.model import Event

    bare = msgspec.json.Decoder(Event)
    print(f"machine: {machine()} · {len(LINE)}-byte attempt line")
    for label, fn in (("msgspec typed decode (floor)", lambda: bare.decode(LINE)), ("events.decode_event", lambda: decode_event(LINE))):
        runs = timeit.repeat(fn, number=args.number, repeat=args.repeat)
        print(f"  {label:30s} {median(runs) / args.number * 1e6:6.2f} us per event (median of {args.repeat})")


if __name__ == "__main__":
    main()
