"""The issue's headline, over real sockets: 4 `reachguard serve` processes on one PostgreSQL
(+ Redis), 64 concurrent HTTP clients on the same 100 numbers of two orgs. No cap is ever
exceeded (nor under-used), every allowed decision is a recorded contact, and each org's ledger
is one verifiable chain holding every answered decision. Bounded: ~1,500 requests."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from reachguard.ledger.audit import audit_store
from reachguard.ledger.checkpoint import TrustedKeys, load_or_create_key
from store_worker import ORGS, check_caps_and_ledger, number, seed

EXE = Path(sys.executable).parent / "reachguard"
REPLICAS, CLIENTS, PER_CLIENT, NUMBERS = 4, 64, 24, 100
AT = "2026-11-23T10:00:00+08:00"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keys(env: dict) -> dict[str, str]:
    """`reachguard keys create` per org (in parallel), the store named by REACHGUARD_DB_URL alone (no --db)."""
    procs = {org: subprocess.Popen([str(EXE), "keys", "create", "--org", org, "--role", "sender"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for org in ORGS}
    keys = {}
    for org, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        keys[org] = out.rstrip("\n").splitlines()[-1]
    return keys


def _serve_all(env: dict, count: int) -> list[tuple[subprocess.Popen, int]]:
    procs = []
    for _ in range(count):
        port = _free_port()
        procs.append((subprocess.Popen([str(EXE), "serve", "--port", str(port)], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), port))
    deadline = time.monotonic() + 60
    for proc, port in procs:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    _stop(procs)
                    raise AssertionError(f"reachguard serve did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.05)
    return procs


def _stop(procs: list[tuple[subprocess.Popen, int]]) -> None:
    for proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, _ in procs:
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _plan(client: int) -> list[list[dict]]:
    """One client's requests: mostly single attempts, some batches of 3 (one transaction, 3 locks)."""
    rng = random.Random(client)
    org = ORGS[client % 2]
    requests = []
    for k in range(PER_CLIENT):
        size = 3 if rng.random() < 0.15 else 1
        group = []
        for j in range(size):
            n = rng.randrange(NUMBERS)
            purpose = rng.choice(("collection", "collection", "marketing"))
            event = {"type": "attempt", "id": f"h{client}-{k}-{j}", "org": org, "to": number(n), "at": AT,
                     "purpose": purpose, "channel": "call" if purpose == "collection" else "sms"}
            if purpose == "collection":
                event["subject"] = f"L{n}"
            group.append(event)
        requests.append(group)
    return requests


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres", "postgres+redis"])
def test_four_serve_processes_sixty_four_clients_one_truth(backend: str, new_store, pg_url: str, redis_url: str,
                                                          tmp_path: Path) -> None:
    store = new_store(backend)
    seed(store, NUMBERS)
    signing_key = load_or_create_key(tmp_path / "ledger-signing-key.pem")  # one key for every replica, as deployed
    env = {**os.environ, "REACHGUARD_DB_URL": pg_url, "REACHGUARD_ACCESS_LOG": "false", "REACHGUARD_LOG_LEVEL": "warning",
           "REACHGUARD_CHECKPOINT_INTERVAL_SECONDS": "0.5",
           "REACHGUARD_SIGNING_KEY_FILE": str(tmp_path / "ledger-signing-key.pem")}
    env.pop("REACHGUARD_REDIS_URL", None)
    if backend == "postgres+redis":
        env["REACHGUARD_REDIS_URL"] = f"{redis_url}?prefix={store.counters.prefix}"
    keys = _keys(env)
    procs = _serve_all(env, REPLICAS)
    verdicts: list[tuple[str, str, str, str]] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(c: int) -> None:
        plan = _plan(c)
        org = ORGS[c % 2]
        mine = []
        port = procs[c % REPLICAS][1]
        headers = {"Authorization": f"Bearer {keys[org]}", "Content-Type": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
            start.wait()
            for group in plan:
                if len(group) == 1:
                    response = http.post("/v1/decisions", content=json.dumps(group[0]))
                    answers = [response.json()] if response.status_code == 200 else []
                else:
                    response = http.post("/v1/decisions:batch", content=json.dumps(group))
                    answers = response.json() if response.status_code == 200 else []
                if response.status_code != 200:
                    with lock:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                for event, answer in zip(group, answers, strict=True):
                    assert answer["id"] == event["id"]
                    mine.append((org, answer["to"], event["purpose"], answer["verdict"]))
        with lock:
            verdicts.extend(mine)

    try:
        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        _stop(procs)
    assert not failures, failures[:5]
    planned = sum(len(group) for c in range(CLIENTS) for group in _plan(c))
    assert len(verdicts) == planned
    assert sum(1 for v in verdicts if v[3] == "allow") > NUMBERS  # the caps were reached, not just touched
    check_caps_and_ledger(store, verdicts)
    # Every replica signed its checkpoints with the one shared key: they verify against it alone.
    reports = audit_store(store, TrustedKeys.of([signing_key.public_key()]))
    assert reports and all(r.ok and r.checkpoints for r in reports), reports
