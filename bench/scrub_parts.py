"""The campaign scrub part by part, in one process: where its wall time and CPU go.

`bench/scrub.py` times whole scrubs beside the raw anti-join; this one splits one scrub of the
same inputs into its phases (list load with tier-1 keys, dedup, waiting for the export child,
features, judging, codes, writing, publishing) with wall and process-CPU seconds each, and then
times three parts alone, each the median of --repeat runs:
* tier 1: the per-row key expression (numbers_sql.row_key_sql) over the loaded list;
* the export child: reading the store's sets in its own process (CPU from rusage);
* the writers: both output files from the loaded list with typical codes, through Arrow and,
  where the checkout has it, line for line from a plain list loaded narrow (passthrough.py).
To compare two checkouts, run it with each one first on PYTHONPATH (the bench's own code only
uses the public functions of reachguard.scrub), in turns:

    .venv/bin/python bench/scrub.py --rows 10000000 --repeat 1 --dir /tmp/s10m --keep   # the inputs
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/scrub_parts.py --dir /tmp/s10m
    .venv/bin/python bench/scrub_parts.py --dir /tmp/s10m
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

# As `reachguard scrub` runs (core/memory.py): numpy's huge-page advice off unless the caller set it.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import duckdb  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median  # noqa: E402

AT = "2026-11-23T10:00:00+08:00"
START = time.perf_counter()


def timed(owner: Any, name: str, label: str) -> Callable[[], None]:
    """Wrap owner.name so each call prints when it started, its wall and its process CPU;
    returns the function that puts the original back."""
    fn = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            print(f"  {label:22s} at {wall - START:6.2f} s  wall {time.perf_counter() - wall:6.2f} s  "
                  f"cpu {time.process_time() - cpu:6.2f} s", flush=True)

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, fn)


def phases(folder: Path, replace: bool) -> None:
    from reachguard.scrub import export_child, features, output, pipeline, rows, source

    undo: list[Callable[[], None]] = []
    for owner, name, label in ((source, "load", "load list + tier 1"), (rows, "build", "dedup (rows.build)"),
                               (export_child.ExportChild, "result", "wait for export child"),
                               (features, "build", "features"), (pipeline._Scrub, "_judge_signatures", "judge signatures"),
                               (pipeline._Scrub, "_codes", "codes"),
                               (output, "write" if hasattr(output, "write") else "write_outputs", "write both files"),
                               (output, "publish", "publish")):
        undo.append(timed(owner, name, label))
    if hasattr(output, "passthrough"):  # the line-for-line writer's two steps, inside "write both files"
        proof = "prove" if hasattr(output.passthrough, "prove") else "open_lines"
        undo += [timed(output.passthrough, proof, "  prove the lines"), timed(output.passthrough, "write", "  copy the lines")]
    if not replace:  # else the scrub replaces the previous run's outputs, unlinking them in `publish`
        for name in ("allowed.csv", "allowed.rejected.csv"):
            (folder / name).unlink(missing_ok=True)
    global START
    START = time.perf_counter()
    cpu = time.process_time()
    report = pipeline.run_scrub(folder / "list.csv", store=folder / "store.db", org="acme", purpose="marketing",
                                channel="sms", at=datetime.fromisoformat(AT), out=folder / "allowed.csv")
    print(f"  whole scrub: {time.perf_counter() - START:.2f} s wall, {time.process_time() - cpu:.2f} s CPU in this process; "
          f"{report.allowed:,} allowed")
    for restore in undo:
        restore()


def best(label: str, repeat: int, run: Callable[[], tuple[float, float]]) -> None:
    runs = [run() for _ in range(repeat)]
    print(f"  {label:34s} wall {median([r[0] for r in runs]):6.2f} s  cpu {median([r[1] for r in runs]):6.2f} s  "
          f"(median of {repeat})", flush=True)


def parts(folder: Path, repeat: int) -> None:
    from reachguard.policy import PolicyBook
    from reachguard.scrub import numbers_sql, output, rows, source
    from reachguard.scrub.export import plan_for
    from reachguard.scrub.export_child import ExportChild

    con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB", "preserve_insertion_order": True})
    src = source.load(con, folder / "list.csv", None, rows.select)

    def tier1() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        con.execute(f"CREATE OR REPLACE TEMP TABLE t1 AS SELECT {numbers_sql.row_key_sql(src.number_column)} AS k FROM rg_src")
        return time.perf_counter() - wall, time.process_time() - cpu

    policy = PolicyBook.profile("cn").for_org("acme")
    plan = plan_for(policy, "acme", "marketing", "sms", datetime.fromisoformat(AT))

    def child() -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, cpu = time.perf_counter(), time.process_time()
        with tempfile.TemporaryDirectory() as spill:
            reader = ExportChild(str(folder / "store.db"), plan, Path(spill))
            reader.ready()
            reader.pin()
            reader.result()
            reader.close()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return time.perf_counter() - wall, spent + time.process_time() - cpu

    rng = np.random.default_rng(1)
    codes = rng.choice(np.arange(6, dtype=np.int32), size=src.rows, p=[0.074, 0.5, 0.2, 0.1, 0.076, 0.05])
    labels = ["", "NO_CONSENT", "NO_CONSENT;ON_DNC_LIST", "OPTED_OUT", "NO_CONSENT;OPTED_OUT", "DUPLICATE"]
    targets = (folder / "parts_allowed.csv", folder / "parts_rejected.csv")

    def writer(write: Callable[..., tuple[Path, Path]], on: duckdb.DuckDBPyConnection, loaded: Any) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            temps = write(on, loaded, codes, labels, targets, lambda n: None)
            took = time.perf_counter() - wall, time.process_time() - cpu
            for temp in temps:
                Path(temp).unlink()
            return took
        return run

    best("tier 1 (row_key_sql) on the list", repeat, tier1)
    best("export child (its CPU + this side)", repeat, child)
    best("write both files (Arrow)", repeat, writer(output.write_outputs, con, src))
    con.close()
    if "narrow" in inspect.signature(source.load).parameters:
        con = duckdb.connect(config={"threads": 2, "memory_limit": "3GB", "preserve_insertion_order": True})
        wall, cpu = time.perf_counter(), time.process_time()
        plain = source.load(con, folder / "list.csv", None, rows.select, narrow=True)
        print(f"  {'narrow load + tier 1 (plain: ' + str(plain.plain) + ')':34s} wall {time.perf_counter() - wall:6.2f} s  "
              f"cpu {time.process_time() - cpu:6.2f} s  (one run)")
        best("write both files (lines)", repeat, writer(output.write, con, plain))
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="bench/scrub.py's inputs (list.csv, store.db)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--replace-outputs", action="store_true",
                        help="leave the previous run's output files for the scrub to replace (timed in `publish`)")
    parser.add_argument("--phases", type=int, default=1, help="whole scrubs timed by phase (default 1)")
    parser.add_argument("--no-parts", action="store_true", help="skip the parts timed alone")
    args = parser.parse_args()
    from reachguard import scrub

    print(f"machine: {machine()} · code: {Path(inspect.getfile(scrub)).parent} · numpy huge pages: {os.environ['NUMPY_MADVISE_HUGEPAGE']}")
    print("one scrub, by phase:")
    for _ in range(args.phases):
        phases(args.dir, args.replace_outputs)
    if not args.no_parts:
        print("parts alone:")
        parts(args.dir, args.repeat)


if __name__ == "__main__":
    main()
