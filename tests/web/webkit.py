"""Web test helpers: a real `reachguard serve` on a free port with a temp SQLite store, keys,
seeding through the HTTP API, and in-process clients for the page-level tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx

from reachguard.core.keys import create_key
from reachguard.store import open_store

EXE = Path(sys.executable).with_name("reachguard")
CHROMIUM = Path(os.environ.get("REACHGUARD_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
A_NUMBER = "+8613800138000"
B_NUMBER = "+8613900139000"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class Site:
    """A served ReachGuard and the keys made for it: keys[(org, name)] = API key."""

    url: str
    db: Path
    proc: subprocess.Popen
    keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def api(self, org: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[(org, 'sender')]}"}, timeout=30)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


KEYS = (("acme", "sender", "sender", None), ("acme", "alice", "compliance", "alice"), ("acme", "bob", "compliance", "bob"),
        ("acme", "carol", "compliance", "carol"), ("acme", "audit", "auditor", "audit"),
        ("beta", "sender", "sender", None), ("beta", "officer", "compliance", "bert"))


def serve(tmp: Path) -> Iterator[Site]:
    """Start `reachguard serve` on a temp store with the KEYS made beforehand; stop it after."""
    db = tmp / "web.db"
    store = open_store(str(db))
    keys = {}
    for org, name, role, label in KEYS:
        keys[(org, name)] = create_key(store, org, role, label)[1]
    store.close()
    port = free_port()
    env = {**os.environ, "REACHGUARD_ACCESS_LOG": "false", "REACHGUARD_LOG_LEVEL": "warning",
           "REACHGUARD_CHECKPOINT_INTERVAL_SECONDS": "0.5"}
    proc = subprocess.Popen([str(EXE), "serve", "--db", str(db), "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "serve exited")
            if time.time() > deadline:
                proc.kill()
                raise AssertionError("reachguard serve did not start")
            time.sleep(0.05)
    site = Site(f"http://127.0.0.1:{port}", db, proc, keys)
    try:
        yield site
    finally:
        site.stop()


def seed(site: Site) -> dict[str, Any]:
    """Decisions made now through the API: denials (no consent) with agents, one allowed SMS
    (its verification code), and org beta's own number. Returns what the tests look for."""
    with site.api("acme") as acme, site.api("beta") as beta:
        base = {"type": "attempt", "org": "acme", "channel": "sms", "to": A_NUMBER}
        denied = [dict(base, purpose="marketing", at=now_iso(), agent=f"agent-{i % 2}", id=f"m{i}") for i in range(5)]
        answers = acme.post("/v1/decisions:batch", json=denied).raise_for_status().json()
        assert all(a["verdict"] == "deny" for a in answers), answers
        allowed = acme.post("/v1/decisions", json=dict(base, purpose="service", at=now_iso(), id="s1",
                                                        content="【星河消费金融】您的验证码已发送，如非本人操作请忽略。"))
        decision = allowed.raise_for_status().json()
        assert decision["verdict"] == "allow" and decision["verification_code"], decision
        beta.post("/v1/decisions", json={"type": "attempt", "org": "beta", "channel": "sms", "purpose": "marketing",
                                         "to": B_NUMBER, "at": now_iso(), "id": "b1"}).raise_for_status()
    return {"code": decision["verification_code"], "denied": len(denied), "decisions": len(denied) + 1}


class Pages:
    """The app in process (Starlette's TestClient), for the page-level tests: keys per org/name."""

    def __init__(self, db_url: str = ":memory:", keys: dict[tuple[str, str], str] | None = None, **settings: Any):
        """An app on `db_url` (another app on the same store is another worker); `keys`: the
        keys another Pages already made in that store, else the KEYS are made here."""
        import warnings

        from reachguard.api.main import create_app
        from reachguard.core.config import load_settings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient

        self.app = create_app(load_settings(db_url=db_url, access_log=False, log_level="warning", **settings))
        self.store = self.app.state.service.store
        self.keys = keys if keys is not None else {
            (org, name): create_key(self.store, org, role, label)[1] for org, name, role, label in KEYS}
        self._client_cls = TestClient
        self.client = TestClient(self.app, base_url="http://testserver")

    def new_client(self, **kw: Any) -> Any:
        return self._client_cls(self.app, **kw)

    @staticmethod
    def csrf(client: Any, path: str = "/public/report") -> str:
        match = CSRF.search(client.get(path).text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def login(self, client: Any, org: str, name: str) -> str:
        """Log `client` in; returns the CSRF token to use afterwards."""
        token = self.csrf(client, "/console/login")
        r = client.post("/console/login", data={"key": self.keys[(org, name)], "csrf": token}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return self.csrf(client, "/console/review")

    def close(self) -> None:
        self.client.close()
        self.app.state.web.jobs.close()  # what the lifespan's end does (the TestClient here runs none)
        self.app.state.service.close()
