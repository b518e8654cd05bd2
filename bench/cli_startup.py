"""Start-up cost of the `reachguard` CLI: wall and CPU of short commands, beside Python's floor.

Why: scripts call `reachguard keys create` etc. in loops, and every command used to import every
command module's dependencies (engine, policy/pydantic, reputation/numpy, …) before running.
Each run is a fresh interpreter (`python -c "…main()"`, as the console script does); CPU is the
child's rusage (user + system). `python -c pass` is the floor every command pays. With
--old PATH the same commands also run against another checkout (PYTHONPATH=PATH/src),
alternating old and new in each round; medians (min–max) over the rounds.

    .venv/bin/python bench/cli_startup.py [--runs 7] [--old /tmp/old_cli]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import checkout_env, machine, median  # noqa: E402

_MAIN = "import sys; from reachguard.cli import main; sys.argv = ['reachguard', *sys.argv[1:]]; main()"
_REVIEW_TEXT = "【星河金融】您好，您的借款今日到期，请及时还款。退订回T"


def run_once(src: str | None, argv: list[str] | str) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh interpreter: the CLI with `argv`, or `python -c argv` for a str."""
    cmd = [sys.executable, "-c", argv] if isinstance(argv, str) else [sys.executable, "-c", _MAIN, *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=checkout_env(src), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv} failed ({status}) with {src or 'the current code'}")
    return wall, usage.ru_utime + usage.ru_stime


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _show(values: list[float]) -> str:
    return f"{median(values):.3f} s ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="rounds (each runs every command once per code)")
    parser.add_argument("--old", help="another checkout; its src/ goes on PYTHONPATH")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rg-cli-startup-") as tmp:
        db = os.path.join(tmp, "keys.db")
        subprocess.run([sys.executable, "-c", _MAIN, "keys", "create", "--org", "acme", "--role", "sender",
                        "--db", db], env=checkout_env(None), stdout=subprocess.DEVNULL, check=True)
        commands: dict[str, list[str] | str] = {
            "python -c pass (floor)": "pass",
            "python -c 'import reachguard.cli'": "import reachguard.cli",
            "reachguard --help": ["--help"],
            "reachguard keys list --db <sqlite>": ["keys", "list", "--db", db],
            "reachguard review --purpose marketing TEXT": ["review", "--purpose", "marketing", _REVIEW_TEXT],
        }
        codes: list[tuple[str, str | None]] = [("new", None)]
        if args.old:
            codes.insert(0, ("old", str(Path(args.old) / "src")))
        results: dict[tuple[str, str], tuple[list[float], list[float]]] = {
            (name, label): ([], []) for name in commands for label, _ in codes}
        print(machine())
        print(f"load before: {_load()}")
        for round_ in range(args.runs):
            order = codes if round_ % 2 == 0 else codes[::-1]  # alternate which code runs first
            for name, argv in commands.items():
                for label, src in order:
                    wall, cpu = run_once(src, argv)
                    results[name, label][0].append(wall)
                    results[name, label][1].append(cpu)
        print(f"load after: {_load()}")
    print(f"\n{args.runs} runs each, medians (min–max)\n")
    print("| command | code | wall | CPU (user+sys) |")
    print("|---|---|---|---|")
    for name in commands:
        for label, _ in codes:
            walls, cpus = results[name, label]
            print(f"| {name} | {label} | {_show(walls)} | {_show(cpus)} |")


if __name__ == "__main__":
    main()
