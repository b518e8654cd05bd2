"""Console sessions and CSRF tokens: signed cookies, never the API key itself.

The session cookie holds (key id, org, role, session id) signed with a secret kept in the store
(so every worker process shares it) and expires after `console_session_hours`. The session id
is random per login. Each request re-checks that the key still exists and is not revoked
(revoking a key ends its sessions) and that the session was not ended: logout records the
session id in the store (`end_console_session`), so a copy of the cookie is refused by every
worker, not only forgotten by the browser that logged out.

CSRF: with a session, the token forms must send is HMAC(secret, session id): a token taken
from, or planted by, another session (or another visitor) does not match. Before login (the
login form, the public report form) every visitor carries a signed random token in the
`rg_csrf` cookie and sends it back (double-submit cookie, signed so that a sibling host cannot
forge one). Every form sends the token as a field, every htmx request as `X-CSRF-Token`; POSTs
whose token is missing or different are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from reachguard.api.service import Service

SESSION_COOKIE = "rg_session"
CSRF_COOKIE = "rg_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_SECRET_META = "console_session_secret"
CONSOLE_ROLES = frozenset({"compliance", "auditor"})
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24)
# Ended-session records are kept this long past the age at which their cookie is refused:
# the worker that deletes them and the one that checks a cookie's age may disagree on the time.
CLOCK_MARGIN_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Officer:
    """Who is logged in to the console: an API key's org and role."""

    key_id: str
    org: str
    role: str
    label: str | None


@dataclass(frozen=True, slots=True)
class SessionCookie:
    """What a valid (signed, unexpired, well-formed) session cookie says; not yet checked
    against the store (the key may be revoked, the session ended)."""

    key_id: str
    org: str
    role: str
    session_id: str
    issued_at: float  # POSIX seconds, as signed


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
    """Signs and reads the two cookies; checks keys and ended sessions against the store."""

    def __init__(self, svc: Service, max_age_seconds: float):
        secret = session_secret(svc)
        self.svc = svc
        self.max_age = max_age_seconds
        sha256 = {"digest_method": hashlib.sha256}
        self._session = URLSafeTimedSerializer(secret, salt="reachguard-console-session", signer_kwargs=sha256)
        self._csrf = URLSafeTimedSerializer(secret, salt="reachguard-csrf", signer_kwargs=sha256)
        self._csrf_key = hmac.new(secret.encode(), b"reachguard-csrf-session", hashlib.sha256).digest()
        self._keys: dict[str, tuple[Officer | None, float]] = {}

    # --- session ---

    def issue(self, response: Response, request: Request, officer: Officer) -> None:
        """Set a new session cookie, with a new random session id (so a new CSRF token too)."""
        value = self._session.dumps([officer.key_id, officer.org, officer.role, secrets.token_urlsafe(24)])
        response.set_cookie(SESSION_COOKIE, value, max_age=int(self.max_age), httponly=True, samesite="lax",
                            secure=is_https(request, self.svc), path="/")

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def cookie(self, request: Request) -> SessionCookie | None:
        """The request's session cookie if signed by us, unexpired and well-formed; else None
        (tampered, truncated, of an older format, or garbage: a refusal, never an error)."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw or len(raw) > 1024:
            return None
        try:
            fields, signed = self._session.loads(raw, max_age=self.max_age, return_timestamp=True)
        except (BadData, ValueError, TypeError, UnicodeError):
            return None
        if not isinstance(fields, list) or len(fields) != 4 or not all(isinstance(f, str) for f in fields):
            return None
        if not _SESSION_ID.fullmatch(fields[3]):
            return None
        return SessionCookie(*fields, issued_at=signed.timestamp())

    def officer(self, request: Request) -> Officer | None:
        """The logged-in officer (blocking: reads the store), or None."""
        found = self.cookie(request)
        if found is None or self.svc.store.console_session_ended(found.session_id):
            return None
        live = self._live_key(found.key_id)
        if live is None or live.org != found.org or live.role != found.role:
            return None
        return live

    def end(self, request: Request) -> None:
        """Log out server-side (blocking: writes the store): the session id is recorded as ended,
        so every worker refuses a copy of the cookie. Records of cookies issued longer ago than
        the session lifetime (and CLOCK_MARGIN_SECONDS) are dropped: those cookies are refused
        for their age. Judged with the lifetime set now, so raising `console_session_hours`
        keeps the records as long as the cookies they refuse."""
        found = self.cookie(request)
        if found is not None:
            keep_after = time.time() - self.max_age - CLOCK_MARGIN_SECONDS
            self.svc.store.end_console_session(found.session_id, found.issued_at, keep_after)

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

    def _session_token(self, session_id: str) -> str:
        """The CSRF token of a session: HMAC-SHA256 of its id under a key derived from the secret."""
        digest = hmac.new(self._csrf_key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def csrf_token(self, request: Request) -> tuple[str, bool]:
        """(the token this request's forms must send, whether the `rg_csrf` cookie must be set).

        With a session cookie: the session's token (the cookie's signature is enough here; the
        session itself is checked by the route). Without: the visitor's double-submit token."""
        found = self.cookie(request)
        if found is not None:
            return self._session_token(found.session_id), False
        raw = request.cookies.get(CSRF_COOKIE)
        if raw and len(raw) <= 256:
            try:
                return str(self._csrf.loads(raw)), False
            except BadData:
                pass
        return secrets.token_urlsafe(24), True

    def set_csrf(self, response: Response, request: Request, token: str) -> None:
        response.set_cookie(CSRF_COOKIE, self._csrf.dumps(token), httponly=True, samesite="lax",
                            secure=is_https(request, self.svc), path="/")

    def csrf_ok(self, request: Request, sent: str | None) -> bool:
        """Whether `sent` is the token csrf_token gives this request (never the rg_csrf cookie's
        token when a session cookie is present: that one could have been planted)."""
        if not sent or len(sent) > 128:
            return False
        token, fresh = self.csrf_token(request)
        return not fresh and hmac.compare_digest(token.encode(), sent.encode())


def is_https(request: Request, svc: Service) -> bool:
    """Mark cookies Secure when the browser talks HTTPS (directly, or through a trusted proxy)."""
    if request.url.scheme == "https":
        return True
    return svc.settings.trust_forwarded_for and request.headers.get("x-forwarded-proto", "").lower() == "https"
