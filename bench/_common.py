"""Shared by the benchmarks: what machine this ran on, and robust summary statistics."""

from __future__ import annotations

import os
import platform
import statistics
import sys


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{platform.node()} · {cpu} · {os.cpu_count()} CPUs · {platform.system()} {platform.release()} · "
            f"Python {sys.version.split()[0]}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)
