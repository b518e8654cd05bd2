"""Pure ASGI middleware: request id, body-size limit, error net, access log, latency metrics.

Pure ASGI (not BaseHTTPMiddleware) because it sits on the hot path of every decision.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from reachguard.api.deps import SENDER, bearer_key, check_role, principal_for_key
from reachguard.api.errors import ApiError, error_bytes
from reachguard.api.logs import request_id
from reachguard.api.routes.decisions import decide_batch_bytes, decide_one
from reachguard.api.service import Service

log = logging.getLogger("reachguard.access")
errlog = logging.getLogger("reachguard.api")
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._\-]{1,64}$")


class BodyTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, "TOO_LARGE", f"the request body is over the limit of {limit} bytes for this endpoint")


_JSON = (b"content-type", b"application/json")
_SENDERS = frozenset({SENDER})
# The hot endpoints skip FastAPI's router and dependency injection (the same handler
# functions as the documented routes, so behaviour is identical): method, path → handler.
_FAST = {("POST", "/v1/decisions"): decide_one, ("POST", "/v1/decisions:batch"): decide_batch_bytes}
_HEALTH = b'{"status":"ok"}'


class ServiceMiddleware:
    def __init__(self, app: Any, service: Service):
        self.app = app
        self.service = service
        s = service.settings
        self.default_limit = s.max_body_bytes
        self.limits = (("/v1/decisions:batch", s.max_batch_body_bytes), ("/v1/import/", s.max_import_bytes),
                       ("/v1/scrubs", s.max_import_bytes))  # a campaign list upload is an import
        self.access_log = s.access_log
        self.prefix = os.urandom(4).hex() + "-"  # request ids: random per process, then a counter
        self.counter = 0

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default_limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid_bytes = None
        length = None
        authorization = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _SAFE_ID.match(value):
                    rid_bytes = value
            elif name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = value
        if rid_bytes:
            rid = rid_bytes.decode("ascii")
        else:
            self.counter += 1
            rid = f"{self.prefix}{self.counter:x}"
        token = request_id.set(rid)
        rid_header = (b"x-request-id", rid.encode("ascii"))
        path = scope["path"]
        limit = self.limit_for(path)
        state: dict[str, Any] = {"status": 500, "started": False, "route": None, "org": None}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        async def simple(status: int, body: bytes, extra: tuple = ()) -> None:
            await send_wrapper({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]})
            await send({"type": "http.response.body", "body": body})

        try:
            if "\x00" in path or b"%00" in scope.get("query_string", b""):
                # No id, name or time holds NUL; PostgreSQL cannot even compare with one (a 503
                # there, a 404 on SQLite): the same 400 on every store, before any route.
                await simple(400, error_bytes("INVALID_FIELD", "the URL holds a NUL character (%00)"))
                return
            if length is not None:
                try:
                    declared = int(length)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await simple(400, error_bytes("BAD_REQUEST", "invalid Content-Length"))
                    return
                if declared > limit:
                    await simple(413, error_bytes("TOO_LARGE", f"the request body ({declared} bytes) is over the limit "
                                                               f"of {limit} bytes for this endpoint"), ((b"connection", b"close"),))
                    return
            fast = _FAST.get((scope["method"], path))
            if fast is not None:
                state["route"] = path
                try:
                    principal = await principal_for_key(self.service, bearer_key(authorization))
                    state["org"] = principal.org
                    check_role(principal, _SENDERS)
                    body = await _read_body(receive, limit)
                    payload = await fast(self.service, principal, body)
                except ApiError as exc:
                    extra = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items())
                    await simple(exc.status, error_bytes(exc.code, exc.message, exc.details), extra)
                    return
                await simple(200, payload)
                return
            if path == "/healthz" and scope["method"] == "GET":
                state["route"] = path
                await simple(200, _HEALTH)
                return
            received = 0

            async def receive_wrapper() -> dict:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            errlog.exception("unhandled error", extra={"path": path, "method": scope["method"]})
            if not state["started"]:
                await simple(500, error_bytes("INTERNAL", f"internal error; quote request id {rid}", {"request_id": rid}))
        finally:
            elapsed = time.perf_counter() - started
            label = state["route"] or getattr(scope.get("route"), "path", None) or "unmatched"
            status = state["status"]
            self.service.metrics.observe_request(scope["method"], label, status, elapsed)
            if self.service.settings.access_log:
                principal = state["org"]
                if principal is None and isinstance(scope.get("state"), dict):
                    principal = getattr(scope["state"].get("principal"), "org", None)
                log.info("request", extra={"method": scope["method"], "path": path, "status": status,
                                           "ms": round(elapsed * 1000, 3), "org": principal})
            request_id.reset(token)


async def _read_body(receive: Any, limit: int) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "BAD_REQUEST", "the client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
