"""The CLI's start-up cost: a command imports only what it needs (scripts call it in loops).

Each case runs the CLI in a fresh interpreter and lists which heavy modules got imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Loaded by some command, never by the command tree itself. Not pydantic: typer (0.29) builds
# pydantic adapters for the parameters of the command it runs, so that cost is typer's.
HEAVY = (
    "duckdb", "numpy", "sklearn", "scipy", "pyarrow", "pydantic_settings", "sqlalchemy",
    "psycopg", "redis", "fastapi", "uvicorn", "phonenumbers", "reachguard.engine", "reachguard.policy",
    "reachguard.store", "reachguard.reputation", "reachguard.scrub", "reachguard.protect",
    "reachguard.content", "reachguard.templates", "reachguard.ledger", "reachguard.api",
)

# Run the app like the console script, then report the heavy modules that were imported.
_RUNNER = """
import json, sys
heavy = json.loads(sys.argv[1])
sys.argv = ["reachguard", *sys.argv[2:]]
from reachguard.cli import app
try:
    app()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def run_cli(*args: str) -> tuple[int, list[str], str]:
    """(exit code, heavy modules imported, stdout before the report) of `reachguard ARGS`."""
    proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(HEAVY), *args],
                          capture_output=True, text=True, timeout=120, check=True)
    *out, last = proc.stdout.rstrip("\n").split("\n")
    report = json.loads(last)
    return report["code"], report["loaded"], "\n".join(out)


def test_importing_the_command_tree_loads_no_heavy_module() -> None:
    code = f"import json, sys, reachguard.cli; print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("args", [("--help",), ("keys", "--help"), ("scrub", "--help"), ("replay", "--help")])
def test_help_loads_no_heavy_module(args: tuple[str, ...]) -> None:
    code, loaded, out = run_cli(*args)
    assert code == 0 and "Usage" in out
    assert loaded == []


def test_keys_on_sqlite_skip_the_analytics_and_settings(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    code, loaded, out = run_cli("keys", "create", "--org", "acme", "--role", "sender", "--db", db)
    assert code == 0 and "created key" in out
    assert not {"duckdb", "numpy", "sklearn", "pydantic_settings", "sqlalchemy", "reachguard.engine"} & set(loaded)
    code, loaded, out = run_cli("keys", "list", "--db", db)
    assert code == 0 and "acme" in out
    assert not {"duckdb", "numpy", "sklearn", "pydantic_settings", "sqlalchemy", "reachguard.engine",
                "reachguard.policy"} & set(loaded)
    assert "reachguard.store" in loaded  # the command did run against the store


def test_review_json_loads_the_content_review_only() -> None:
    code, loaded, out = run_cli("review", "--purpose", "marketing", "--json", "【星河】您好")
    assert code == 0 and json.loads(out)["id"] is None
    assert "reachguard.content" in loaded
    assert not {"duckdb", "numpy", "sklearn", "reachguard.engine", "reachguard.store", "reachguard.policy"} & set(loaded)


@pytest.mark.parametrize("module", ["reachguard", "reachguard.cli"])
def test_python_dash_m_runs_the_same_cli(module: str, tmp_path: Path) -> None:
    """`python -m reachguard` (and `.cli`) is the installed script: same commands, same exit codes."""
    db = tmp_path / "rg.db"
    made = subprocess.run([sys.executable, "-m", module, "keys", "create", "--org", "acme", "--role", "sender", "--db", str(db)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    listed = subprocess.run([sys.executable, "-m", module, "keys", "list", "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "acme" in listed.stdout, listed.stdout + listed.stderr
    bad = subprocess.run([sys.executable, "-m", module, "no-such-command"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
