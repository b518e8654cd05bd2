"""API test helpers: the real app (FastAPI + middleware) over httpx, two orgs, a key per role."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Iterator

import httpx
import pytest

from reachguard.api.main import create_app
from reachguard.core.config import load_settings
from reachguard.core.keys import create_key

ROLES = ("sender", "compliance", "auditor", "admin")
NUMBER = "+8613800138000"
OTHER_NUMBER = "+8613900139000"
AT = "2026-11-23T10:00:00+08:00"


def attempt(org: str = "acme", **fields: Any) -> dict:
    body = {"type": "attempt", "org": org, "channel": "sms", "purpose": "marketing", "to": NUMBER, "at": AT}
    body.update(fields)
    return body


class SyncClient:
    """httpx.AsyncClient over the ASGI app, driven from a loop in a thread (callable from any thread)."""

    def __init__(self, app: Any):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reachguard.test")

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(self.client.request(method, url, **kw), self.loop).result(60)

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.client.aclose(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Api:
    """A running app with keys for orgs `acme` and `xinghe` in every role."""

    def __init__(self, client: SyncClient, keys: dict[tuple[str, str], str]):
        self.client = client
        self.keys = keys
        self.app = client.app
        self.service = client.app.state.service

    def headers(self, org: str = "acme", role: str = "sender") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[(org, role)]}"}

    def post(self, path: str, body: Any, org: str = "acme", role: str = "sender", **kw: Any):
        content = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
        return self.client.post(path, content=content, headers={**self.headers(org, role), **kw.pop("headers", {})}, **kw)

    def get(self, path: str, org: str = "acme", role: str = "compliance", **kw: Any):
        return self.client.get(path, headers={**self.headers(org, role), **kw.pop("headers", {})}, **kw)

    def event(self, body: dict, org: str = "acme", role: str = "compliance"):
        response = self.post("/v1/events", body, org, role)
        assert response.status_code == 202, response.text
        return response.json()

    def consent(self, org: str = "acme", to: str = NUMBER) -> None:
        self.event({"type": "consent", "org": org, "to": to, "purpose": "marketing", "at": "2026-11-01T10:00:00+08:00"}, org)

    def decide(self, org: str = "acme", **fields: Any) -> dict:
        response = self.post("/v1/decisions", attempt(org, **fields), org)
        assert response.status_code == 200, response.text
        return response.json()


def make_api(tmp_path=None, **settings: Any) -> Iterator[Api]:
    values = {"db_url": ":memory:", "access_log": False, "checkpoint_interval_seconds": 0, "log_level": "warning"}
    values.update(settings)
    app = create_app(load_settings(**values))
    store = app.state.service.store
    keys = {(org, role): create_key(store, org, role)[1] for org in ("acme", "xinghe") for role in ROLES}
    service = app.state.service
    service.start()
    client = SyncClient(app)
    try:
        yield Api(client, keys)
    finally:
        client.close()
        service.close()


def early_in_window(seconds: float, needed: float) -> None:
    """Wait until `needed` seconds remain in the current fixed rate-limit window of `seconds`:
    requests that straddle a window's end are counted in two windows, and the limit test that
    expects a 429 then flakes on a slow machine."""
    while seconds - time.time() % seconds < needed:
        time.sleep(min(0.05, needed / 10))


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
