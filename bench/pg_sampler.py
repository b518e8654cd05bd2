"""What PostgreSQL did during each interval of a long bench run: WAL bytes, blocks read from
outside shared_buffers, buffers the backends had to write out themselves, checkpoints.

Used by bench/decide_backends.py `--every S` on the production backends: a thread samples the
server's counters every S seconds, and each interval's deltas are divided by the decisions
answered in that same interval (the workers' answer times are on the same perf_counter clock).
The counters are the whole server's (other clients' work counts too) and are flushed by the
backends about once a second, so read them per interval of tens of seconds, not per second.
The sampler's intervals start when it does (before the workers' common start), so they are
not the rate lines' intervals; those that reach outside the measured run are left out.
PostgreSQL 12–16 (17 moved the checkpoint and backend-write counters out of pg_stat_bgwriter:
the bench then says the counters could not be read).
"""

from __future__ import annotations

import threading
import time

from _common import libpq_url

_COUNTERS = (
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8, "
    "(SELECT blks_read FROM pg_stat_database WHERE datname = current_database()), "
    "buffers_backend, checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
)
FIELDS = ("wal", "read", "backend_writes", "checkpoints")


class PgSampler(threading.Thread):
    """Samples the server's counters every `every` seconds until stopped."""

    def __init__(self, url: str, every: float):
        super().__init__(name="pg-sampler", daemon=True)
        self.url, self.every = url, every
        self.samples: list[tuple[float, tuple]] = []
        self.error: str | None = None  # why no counters could be read
        self._stopped = threading.Event()

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(libpq_url(self.url), autocommit=True) as conn:
                while True:
                    self.samples.append((time.perf_counter(), conn.execute(_COUNTERS).fetchone()))
                    if self._stopped.wait(self.every):
                        self.samples.append((time.perf_counter(), conn.execute(_COUNTERS).fetchone()))
                        return
        except psycopg.Error as exc:  # e.g. PostgreSQL 17 moved these counters out of pg_stat_bgwriter
            self.error = str(exc).strip().splitlines()[0]

    def stop(self) -> None:
        self._stopped.set()
        self.join()

    def intervals(self, start: float, answered: list[float]) -> list[dict]:
        """Per interval between two samples that lies wholly within the measured run (from the
        common `start` to the last answer): decisions/s and each counter per decision."""
        out = []
        end = max(answered, default=start)
        for (t0, c0), (t1, c1) in zip(self.samples, self.samples[1:]):
            decided = sum(1 for t in answered if t0 <= t < t1)
            if t0 < start or t1 > end or not decided:
                continue
            row = {"rate": decided / (t1 - t0), "seconds": t1 - t0}
            row.update({name: (b - a) / decided for name, a, b in zip(FIELDS, c0, c1)})
            row["checkpoints"] *= decided  # a count per interval, not per decision
            out.append(row)
        return out


def format_interval(row: dict) -> str:
    return (f"{row['rate']:,.0f}/s over {row['seconds']:.0f} s; per decision: WAL {row['wal'] / 1024:.1f} KiB, "
            f"blocks read {row['read']:.2f}, written by backends {row['backend_writes']:.2f}; "
            f"checkpoints {row['checkpoints']:.0f}")
