"""`reachguard serve` as a real process over a socket; kill -9 under load loses no acknowledged decision."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

EXE = Path(sys.executable).parent / "reachguard"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key(db: Path, org: str, role: str) -> str:
    out = subprocess.run([str(EXE), "keys", "create", "--org", org, "--role", role, "--db", str(db)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith("rg_") and " " not in last  # the key alone on the last line
    return last


def _serve(db: Path, port: int, env: dict | None = None, workers: int = 1) -> subprocess.Popen:
    proc = subprocess.Popen([str(EXE), "serve", "--db", str(db), "--port", str(port), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "REACHGUARD_CHECKPOINT_INTERVAL_SECONDS": "0.5", **(env or {})})
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode())
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("reachguard serve did not start")


def _attempt(i: int) -> dict:
    return {"type": "attempt", "org": "acme", "channel": "sms", "purpose": "service", "to": f"+86137{i:08d}",
            "at": "2026-11-23T10:00:00+08:00", "id": f"k{i}"}


def test_serve_over_a_socket(tmp_path: Path) -> None:
    db = tmp_path / "rg.db"
    key = _key(db, "acme", "sender")
    port = _free_port()
    proc = _serve(db, port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # plain HTTP/1.1 on the wire
            body = json.dumps(_attempt(1)).encode()
            sock.sendall(b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode()
                         + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\nX-Request-ID: test-42\r\nConnection: close\r\n\r\n" + body)
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        head, _, payload = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"x-request-id: test-42" in head.lower()
        assert json.loads(payload)["verdict"] == "allow"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/readyz").json() == {"status": "ready"}
            assert client.get("/openapi.json").json()["info"]["title"] == "ReachGuard"
            assert "reachguard_decisions_total" in client.get("/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "reachguard.access"]
    assert any(line["request_id"] == "test-42" and line["status"] == 200 and line["org"] == "acme" for line in access), lines
    audit = subprocess.run([str(EXE), "audit", "verify", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0 and "1 signed checkpoint" in audit.stdout, audit.stdout


def test_refuses_unsafe_settings(tmp_path: Path) -> None:
    result = subprocess.run([str(EXE), "serve", "--db", str(tmp_path / "x.db"), "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "clear text" in result.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_loses_no_acknowledged_decision(tmp_path: Path, workers: int) -> None:
    """With 2 worker processes the writers of both share the SQLite file (each its own group commit)."""
    db = tmp_path / "rg.db"
    key = _key(db, "acme", "sender")
    port = _free_port()
    proc = _serve(db, port, workers=workers)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=5) as client:
            for i in range(worker, 10**6, 8):
                if stop.is_set():
                    return
                try:
                    response = client.post("/v1/decisions", content=json.dumps(_attempt(i)))
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(response.json()["to"] + "|" + f"k{i}")

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while len(acknowledged) < 300 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-load, no shutdown of any kind (every worker of the group)
    proc.wait(10)
    time.sleep(0.2)  # the workers' sockets are gone once the kernel has reaped them
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acknowledged) >= 300, "the load never got going"

    proc = _serve(db, port)  # restart on the same file: recovery, then it serves again
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
            assert client.post("/v1/decisions", content=json.dumps(_attempt(10**7))).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    from reachguard.store import SQLiteStore

    store = SQLiteStore(str(db))
    try:
        in_ledger = set()
        for entry in store.ledger_entries("acme"):
            body = json.loads(entry.body)
            in_ledger.add(body["decision"]["to"] + "|" + str(body["attempt"]["id"]))
    finally:
        store.close()
    missing = [a for a in acknowledged if a not in in_ledger]
    assert not missing, f"{len(missing)} acknowledged decisions missing, e.g. {missing[:3]}"
    audit = subprocess.run([str(EXE), "audit", "verify", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0, audit.stdout + audit.stderr
