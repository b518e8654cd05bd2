"""Console sessions and CSRF tokens: signed cookies, never the API key itself.

The session cookie holds (key id, org, role) signed with a secret kept in the store (so
every worker process shares it) and expires after `console_session_hours`. Each request
re-checks that the key still exists and is not revoked: revoking a key ends its sessions.

CSRF: every visitor carries a signed random token in the `rg_csrf` cookie; every form
(and every htmx request, as the `X-CSRF-Token` header) sends it back, and POSTs whose
token is missing or different are refused (double-submit cookie, signed so that a
sibling host cannot plant one). Logging in rotates it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from reachguard.api.service import Service

SESSION_COOKIE = "rg_session"
CSRF_COOKIE = "rg_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_SECRET_META = "console_session_secret"
CONSOLE_ROLES = frozenset({"compliance", "auditor"})


@dataclass(frozen=True, slots=True)
class Officer:
    """Who is logged in to the console: an API key's org and role."""

    key_id: str
    org: str
    role: str
    label: str | None


def session_secret(svc: Service) -> str:
    """The signing secret, made once and kept in the store's meta table (shared by workers)."""
    store = svc.store
    found = store.get_meta(_SECRET_META)
    if found:
        return found
    with store.transaction():
        found = store.get_meta(_SECRET_META)
        if not found:
            found = secrets.token_hex(32)
            store.set_meta(_SECRET_META, found)
    return found


class Sessions:
    """Signs and reads the two cookies; checks keys against the store."""

    def __init__(self, svc: Service, max_age_seconds: float):
        secret = session_secret(svc)
        self.svc = svc
        self.max_age = max_age_seconds
        sha256 = {"digest_method": hashlib.sha256}
        self._session = URLSafeTimedSerializer(secret, salt="reachguard-console-session", signer_kwargs=sha256)
        self._csrf = URLSafeTimedSerializer(secret, salt="reachguard-csrf", signer_kwargs=sha256)
        self._keys: dict[str, tuple[Officer | None, float]] = {}

    # --- session ---

    def issue(self, response: Response, request: Request, officer: Officer) -> None:
        value = self._session.dumps([officer.key_id, officer.org, officer.role])
        response.set_cookie(SESSION_COOKIE, value, max_age=int(self.max_age), httponly=True, samesite="lax",
                            secure=is_https(request, self.svc), path="/")

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def officer(self, request: Request) -> Officer | None:
        """The logged-in officer (blocking: may read the store), or None."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw or len(raw) > 1024:
            return None
        try:
            key_id, org, role = self._session.loads(raw, max_age=self.max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        live = self._live_key(str(key_id))
        if live is None or live.org != org or live.role != role:
            return None
        return live

    def _live_key(self, key_id: str) -> Officer | None:
        cached = self._keys.get(key_id)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        officer = None
        for record in self.svc.store.api_keys():
            if record.key_id == key_id and record.revoked_at is None:
                officer = Officer(record.key_id, record.org, record.role, record.label)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[key_id] = (officer, now + self.svc.settings.key_cache_seconds)
        return officer

    # --- CSRF ---

    def csrf_token(self, request: Request) -> tuple[str, bool]:
        """(the visitor's token, whether the cookie must be (re)set)."""
        raw = request.cookies.get(CSRF_COOKIE)
        if raw and len(raw) <= 256:
            try:
                return str(self._csrf.loads(raw)), False
            except BadSignature:
                pass
        return secrets.token_urlsafe(24), True

    def set_csrf(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(CSRF_COOKIE, self._csrf.dumps(token), httponly=True, samesite="lax",
                            secure=is_https(request, self.svc), path="/")

    def csrf_ok(self, request: Request, sent: str | None) -> bool:
        raw = request.cookies.get(CSRF_COOKIE)
        if not sent or not raw or len(raw) > 256 or len(sent) > 128:
            return False
        try:
            expected = str(self._csrf.loads(raw))
        except BadSignature:
            return False
        return hmac.compare_digest(expected.encode(), sent.encode())


def is_https(request: Request, svc: Service) -> bool:
    """Mark cookies Secure when the browser talks HTTPS (directly, or through a trusted proxy)."""
    if request.url.scheme == "https":
        return True
    return svc.settings.trust_forwarded_for and request.headers.get("x-forwarded-proto", "").lower() == "https"
