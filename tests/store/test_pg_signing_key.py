"""On PostgreSQL, whatever signs ledger checkpoints needs `signing_key_file`: a key held only in
memory dies with the process, and its checkpoints then fail verification on the other replicas
and after a restart (verification trusts only pinned keys). `serve`, the service itself and the
`audit` commands that sign refuse to run without it, exit 2 with one line that says what to set."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reachguard.cli import app

EXE = Path(sys.executable).parent / "reachguard"
ATTEMPT = {"type": "attempt", "org": "acme", "channel": "sms", "purpose": "service", "to": "+8613700000001",
           "at": "2026-11-23T10:00:00+08:00", "id": "k1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(pg_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "REACHGUARD_DB_URL": pg_url, "REACHGUARD_LOG_LEVEL": "warning", "REACHGUARD_ACCESS_LOG": "false"}
    for name in ("REACHGUARD_SIGNING_KEY_FILE", "REACHGUARD_REDIS_URL", "REACHGUARD_CONFIG"):
        env.pop(name, None)
    return {**env, **extra}


def _serve(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen([str(EXE), "serve", "--port", str(port), *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    return proc, port


def _refused(env: dict[str, str], *args: str) -> str:
    """Serve must exit by itself (never listen); its stderr."""
    proc, port = _serve(env, *args)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("reachguard serve started on PostgreSQL without a usable signing key") from None
    assert proc.returncode == 2, err
    assert "Traceback" not in err, err
    return err


@pytest.fixture
def pg(new_store: Any, pg_url: str) -> str:
    new_store("postgres")  # empties this run's schema
    return pg_url


def _says_set_the_key(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: signing_key_file is not set"), err
    assert "REACHGUARD_SIGNING_KEY_FILE" in err and "openssl genpkey -algorithm ed25519" in err


def test_serve_on_postgres_with_several_workers_without_a_signing_key_file_is_refused(pg: str) -> None:
    _says_set_the_key(_refused(_env(pg), "--workers", "2"))


@pytest.mark.parametrize("content", [b"not a key", b"-----BEGIN PRIVATE KEY-----\ngarbage\n"])
def test_serve_with_a_garbage_signing_key_file_is_one_error_line(pg: str, tmp_path: Path, content: bytes) -> None:
    """With several workers too: said once by `serve`, not a traceback in each worker."""
    key = tmp_path / "ledger-signing-key.pem"
    key.write_bytes(content)
    key.chmod(0o600)
    err = _refused(_env(pg, REACHGUARD_SIGNING_KEY_FILE=str(key)), "--workers", "2")
    assert err.strip().splitlines() == [err.strip()] and "cannot load the ledger signing key" in err, err


def test_serve_on_postgres_refuses_without_a_key_and_starts_with_the_key_it_says_to_make(pg: str, tmp_path: Path) -> None:
    """Without signing_key_file: refused. With the key the refusal says how to make: serve starts,
    signs, and audit verify (same settings) trusts its checkpoints."""
    _says_set_the_key(_refused(_env(pg)))
    key = tmp_path / "ledger-signing-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, capture_output=True)
    key.chmod(0o600)
    env = _env(pg, REACHGUARD_SIGNING_KEY_FILE=str(key))
    created = subprocess.run([str(EXE), "keys", "create", "--org", "acme", "--role", "sender"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    api_key = created.stdout.rstrip("\n").splitlines()[-1]
    proc, port = _serve(env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/readyz").json() == {"status": "ready"}
            answer = client.post("/v1/decisions", content=json.dumps(ATTEMPT),
                                 headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    audit = subprocess.run([str(EXE), "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0 and "ok      acme: 1 entries, 1 signed checkpoint(s)" in audit.stdout, audit.stdout + audit.stderr


def test_a_named_key_file_that_does_not_exist_is_refused_not_made(pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Made on demand, each host that shares no file system with the others would sign with its
    own key: serve and the service refuse, and no file appears."""
    from reachguard.api.main import app_from_env
    from reachguard.core.config import ConfigError

    missing = tmp_path / "keys" / "ledger-signing-key.pem"
    err = _refused(_env(pg, REACHGUARD_SIGNING_KEY_FILE=str(missing)))
    assert err.strip().splitlines() == [err.strip()] and f"signing_key_file {missing} does not exist" in err, err
    for name in ("REACHGUARD_REDIS_URL", "REACHGUARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REACHGUARD_DB_URL", pg)
    monkeypatch.setenv("REACHGUARD_SIGNING_KEY_FILE", str(missing))
    with pytest.raises(ConfigError, match="does not exist"):
        app_from_env()
    assert not missing.exists()


def test_the_service_itself_refuses_postgres_without_a_signing_key_file(pg: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`uvicorn --factory reachguard.api.main:app_from_env` and embedders build the app without `serve`."""
    from reachguard.api.main import app_from_env
    from reachguard.core.config import ConfigError

    for name in ("REACHGUARD_SIGNING_KEY_FILE", "REACHGUARD_REDIS_URL", "REACHGUARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REACHGUARD_DB_URL", pg)
    with pytest.raises(ConfigError, match="REACHGUARD_SIGNING_KEY_FILE"):
        app_from_env()


@pytest.mark.parametrize("command", [["audit", "checkpoint"], ["audit", "public-key"],
                                     ["audit", "export", "--org", "acme", "--out", "OUT"],
                                     ["audit", "anchor", "--out", "OUT"]])
def test_audit_commands_that_sign_refuse_postgres_without_a_signing_key_file(
        pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    """They would sign (or print) a throw-away key that no verification trusts."""
    from reachguard.store import open_store
    from worldkit import World

    for name in ("REACHGUARD_SIGNING_KEY_FILE", "REACHGUARD_REDIS_URL", "REACHGUARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    store = open_store(pg)
    World(store=store).attempt("2026-11-23T10:00:00+08:00")  # something to checkpoint and export
    store.close()
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    result = CliRunner().invoke(app, [*args, "--db", pg])
    assert result.exit_code == 2, result.output
    assert "signing_key_file is not set" in result.output and "REACHGUARD_SIGNING_KEY_FILE" in result.output
    assert not (tmp_path / "out").exists()
