"""GET /v1/verify: a recipient checks that an SMS really came from a registered sender."""

from __future__ import annotations

from datetime import timezone

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.errors import ApiError
from reachguard.api.routes.common import iso, json_response, read
from reachguard.api.service import Service
from reachguard.numbers import try_normalize
from reachguard.verification import ALPHABET, CODE_LENGTH, canonical_code

router = APIRouter(tags=["public"])
_ALPHABET = set(ALPHABET)
_NOT_GENUINE = {"genuine": False, "org": None, "sent_at": None}


def client_address(request: Request, svc: Service) -> str:
    """The address rate limits count. Behind a trusted proxy: the last X-Forwarded-For entry,
    the one that proxy appended. The first is whatever the client wrote: taking it let a
    client name a new address on every request and pass every per-client limit."""
    if svc.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()[:64]
    return request.client.host if request.client else "unknown"


@router.get(
    "/v1/verify",
    summary="Is this SMS genuine? (public, no API key)",
    description="`code`: the verification code printed in the SMS (case, spaces, dashes, O/0 and I/L/1 forgiven); "
    "`to`: the recipient's own number. Answers exactly `{genuine, org, sent_at}` — the sending org and when, only "
    "if that code was issued for an allowed SMS to that number. Rate limited per client (`verify_rate_limit`).",
    responses={**schemas.answer("VerifyAnswer", "The answer"), **schemas.errors(400, 429, 503)},
    response_class=Response,
)
async def verify(
    request: Request,
    code: str = Query(..., min_length=1, max_length=32, description="the code from the SMS"),
    to: str = Query(..., min_length=1, max_length=64, description="your own number"),
) -> Response:
    svc: Service = request.app.state.service
    retry = await svc.verify_limiter.hit(client_address(request, svc))
    if retry is not None:
        svc.metrics.rate_limited.labels("verify").inc()
        raise ApiError(429, "RATE_LIMITED", "too many verification requests; try again later",
                       headers={"Retry-After": str(max(1, int(retry + 0.999)))})
    wanted = canonical_code(code)
    number = try_normalize(to)
    if number is None or len(wanted) != CODE_LENGTH or not set(wanted) <= _ALPHABET:
        svc.metrics.verifications.labels("false").inc()
        return json_response(_NOT_GENUINE)
    found = await read(svc.store.contact_by_code, wanted, number)
    if found is None:
        svc.metrics.verifications.labels("false").inc()
        return json_response(_NOT_GENUINE)
    org, at = found
    zones = svc.policies.for_org(org).zones_for(number)
    svc.metrics.verifications.labels("true").inc()
    return json_response({"genuine": True, "org": org, "sent_at": iso(at, zones[0] if zones else timezone.utc)})
