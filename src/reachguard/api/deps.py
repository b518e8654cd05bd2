"""Authentication and authorisation: `Authorization: Bearer KEY` → (org, role).

Roles: `sender` (decisions, events, inbound), `compliance` (events, imports, reads, policy),
`auditor` (reads, ledger), `admin` (keys). The org of every request is the key's org; a
body that names another org is refused (403 ORG_MISMATCH), and every read is scoped to it.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from reachguard.api.errors import ApiError
from reachguard.api.service import Principal, Service

bearer = HTTPBearer(auto_error=False, description="An API key from `reachguard keys create` (or POST /v1/keys).")

SENDER, COMPLIANCE, AUDITOR, ADMIN = "sender", "compliance", "auditor", "admin"


def service(request: Request) -> Service:
    return request.app.state.service


async def principal_for_key(svc: Service, key: str | None) -> Principal:
    """The caller of an API key (cached), after the per-key rate limit; ApiError 401/429 otherwise."""
    if not key:
        raise ApiError(401, "UNAUTHENTICATED", "missing API key: send `Authorization: Bearer KEY`",
                       headers={"WWW-Authenticate": "Bearer"})
    principal = None
    if len(key) <= 200:
        hit, principal, digest = svc.keys.cached(key)
        if not hit:
            principal = await run_in_threadpool(svc.keys.load, digest)
    if principal is None:
        raise ApiError(401, "UNAUTHENTICATED", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if svc.settings.api_rate_limit:
        retry = await svc.api_limiter.hit(principal.key_id)
        if retry is not None:
            svc.metrics.rate_limited.labels("api").inc()
            raise ApiError(429, "RATE_LIMITED", "too many requests for this API key",
                           headers={"Retry-After": str(max(1, int(retry + 0.999)))})
    return principal


def check_role(principal: Principal, allowed: frozenset[str]) -> None:
    if principal.role not in allowed:
        raise ApiError(403, "FORBIDDEN", f"role {principal.role!r} may not do this; needs {' or '.join(sorted(allowed))}")


def bearer_key(header: bytes | str | None) -> str | None:
    """The key of an `Authorization: Bearer KEY` header value (None if absent or another scheme)."""
    if header is None:
        return None
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    principal = await principal_for_key(request.app.state.service, credentials.credentials if credentials else None)
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Any]:
    """A dependency: the caller, who must hold one of `roles`."""
    allowed = frozenset(roles)

    async def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        principal = await authenticate(request, credentials)
        check_role(principal, allowed)
        return principal

    return dependency


def check_org(principal: Principal, org: str | None) -> None:
    if org is not None and org != principal.org:
        raise ApiError(403, "ORG_MISMATCH", f"this key acts for org {principal.org!r}, the body names {org[:128]!r}")
