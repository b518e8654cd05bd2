"""What opening a PostgreSQL store costs a CLI command, old code against new, alternated.

Every CLI command that takes `--db postgresql://…` pays it: imports (SQLAlchemy, psycopg, and
Alembic before the plain-SQL revision check) plus the schema check. Two measurements per code
tree, runs alternated (old, new, old, new, …) so both see the same machine load:

* the command itself (default `reachguard keys list --db URL`), wall and CPU (wait4) of a child;
* the phases in a child: importing reachguard.store.postgres, then `PostgresStore(url)` (engine,
  connection, schema check), and whether Alembic ended up imported.

    .venv/bin/python bench/open_store.py --old /tmp/old_x/src [--db URL] [--runs 7]

`--old` is a source tree (e.g. `git archive <commit> src | tar -x -C /tmp/old_x`); without it
only the current code is measured. Prints medians (and min–max) per code tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import checkout_env, machine, median  # noqa: E402

_PHASES = """
import json, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
from reachguard.store.postgres import PostgresStore
t1 = time.perf_counter(); c1 = time.process_time()
PostgresStore(sys.argv[1], chain_interval=0).close()
t2 = time.perf_counter(); c2 = time.process_time()
print(json.dumps({"import": t1 - t0, "import_cpu": c1 - c0, "open": t2 - t1, "open_cpu": c2 - c1,
                  "alembic": "alembic" in sys.modules}))
"""


def command_run(src: str | None, argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of the CLI with `argv`."""
    code = "import sys; from reachguard.cli import main; sys.argv = ['reachguard', *sys.argv[1:]]; main()"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], env=checkout_env(src), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the command failed ({status}) with {src or 'the current code'}")
    return wall, usage.ru_utime + usage.ru_stime


def phases_run(src: str | None, url: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PHASES, url], env=checkout_env(src), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _show(name: str, values: list[float]) -> str:
    return f"{name} {median(values):.3f} s ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("REACHGUARD_BENCH_DB", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--old", default=None, help="source tree of the old code (its src folder)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--command", default="keys list", help="the CLI command to time (--db URL is appended)")
    args = parser.parse_args()
    trees: dict[str, str | None] = {"new": str(Path(__file__).resolve().parents[1] / "src")}
    if args.old:
        trees = {"old": args.old, **trees}
    argv = [*args.command.split(), "--db", args.db]
    print(machine())
    print(f"load before: {os.getloadavg()}")
    results: dict[str, dict[str, list[float]]] = {k: {} for k in trees}
    alembic: dict[str, bool] = {}
    for _ in range(args.runs):
        for name, src in trees.items():
            wall, cpu = command_run(src, argv)
            phases = phases_run(src, args.db)
            got = results[name]
            for key, value in (("command", wall), ("command_cpu", cpu), *((k, phases[k]) for k in
                               ("import", "import_cpu", "open", "open_cpu"))):
                got.setdefault(key, []).append(value)
            alembic[name] = phases["alembic"]
    print(f"load after: {os.getloadavg()}")
    print(f"`reachguard {' '.join(argv)}`, {args.runs} runs each, alternated; medians (min–max)")
    for name, got in results.items():
        print(f"{name:>4}: {_show('command wall', got['command'])}, {_show('CPU', got['command_cpu'])}")
        print(f"      {_show('import store.postgres', got['import'])} ({_show('CPU', got['import_cpu'])}), "
              f"{_show('PostgresStore(url)', got['open'])} ({_show('CPU', got['open_cpu'])}); "
              f"Alembic imported: {alembic[name]}")


if __name__ == "__main__":
    main()
