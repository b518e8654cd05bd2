"""Shared by the benchmarks: what machine this ran on, robust summary statistics, and the
environment that runs another checkout's code in a child."""

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


def libpq_url(url: str) -> str:
    """A ReachGuard PostgreSQL URL as psycopg takes it: our own parameters (schema=,
    synchronous_commit=, writers=…) and the SQLAlchemy driver name taken out."""
    from reachguard.store.postgres import parse_url

    sa_url, _ = parse_url(url)
    return sa_url.set(drivername="postgresql").render_as_string(hide_password=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def checkout_env(src: str | None) -> dict[str, str]:
    """The environment of a child running the code in `src` (a checkout's src folder), or this
    checkout's code for None. Refuses a folder without the package: an A/B against a wrong path
    would silently measure this checkout twice."""
    env = dict(os.environ)
    if src:
        if not os.path.isfile(os.path.join(src, "reachguard", "__init__.py")):
            raise SystemExit(f"{src} holds no reachguard package: give the old checkout's src folder")
        env["PYTHONPATH"] = src
    else:
        env.pop("PYTHONPATH", None)
    return env
