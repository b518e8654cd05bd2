"""OpenAPI for msgspec bodies: JSON Schemas generated from the contract's structs.

Bodies are decoded from the raw bytes with msgspec (events.decode_event), not by FastAPI,
so the routes declare their bodies and answers here, as `$ref`s into components generated
by `msgspec.json.schema_components`.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from reachguard import model


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    details: Any = None


class Error(msgspec.Struct):
    """Every error: a stable code, a message for people, optional details."""

    error: ErrorDetail


class VerifyAnswer(msgspec.Struct):
    """Exactly this and nothing else: was the code issued by a registered sender for this number?"""

    genuine: bool
    org: str | None
    sent_at: str | None


StateEvent = model.Consent | model.ConsentWithdrawn | model.OptOut | model.Dnc | model.Account | model.InboundSms | model.Outcome | model.Complaint
Batch = Annotated[list[model.Attempt], msgspec.Meta(min_length=1, max_length=10_000)]

_TYPES = {
    "Attempt": model.Attempt,
    "Decision": model.Decision,
    "StateEvent": StateEvent,
    "Batch": Batch,
    "Decisions": list[model.Decision],
    "InboundSms": model.InboundSms,
    "Error": Error,
    "VerifyAnswer": VerifyAnswer,
}
_schemas, COMPONENTS = msgspec.json.schema_components(list(_TYPES.values()), ref_template="#/components/schemas/{name}")
SCHEMAS: dict[str, dict] = dict(zip(_TYPES, _schemas))
COMPONENTS = dict(COMPONENTS)


def ref(name: str) -> dict:
    return SCHEMAS[name]


def json_body(name: str, description: str, examples: dict | None = None) -> dict:
    content: dict[str, Any] = {"schema": ref(name)}
    if examples:
        content["examples"] = {k: {"value": v} for k, v in examples.items()}
    return {"requestBody": {"required": True, "description": description, "content": {"application/json": content}}}


def answer(name_or_schema: str | dict, description: str, status: int = 200) -> dict:
    schema = ref(name_or_schema) if isinstance(name_or_schema, str) else name_or_schema
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


def errors(*statuses: int) -> dict:
    descriptions = {
        400: "Malformed request (MALFORMED_JSON, INVALID_UTF8, NOT_AN_OBJECT, BAD_REQUEST)",
        401: "No, unknown or revoked API key (UNAUTHENTICATED)",
        403: "Role not allowed (FORBIDDEN) or another org named (ORG_MISMATCH, LIST_FORBIDDEN)",
        404: "Not found",
        413: "Body over the configured limit (TOO_LARGE)",
        415: "Unsupported media type",
        422: "Invalid event (UNKNOWN_FIELD, MISSING_FIELD, INVALID_FIELD, TIME_WITHOUT_OFFSET, …)",
        429: "Rate limited (RATE_LIMITED)",
        503: "Store unavailable (UNAVAILABLE)",
    }
    out = {}
    for status in statuses:
        out[status] = {"description": descriptions[status], "content": {"application/json": {"schema": ref("Error")}}}
    return out


AUTH_ERRORS = (401, 403, 429)
