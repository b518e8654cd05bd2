"""GET /v1/numbers/{number}: what the caller's org has recorded about a number, and its history."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.deps import AUDITOR, COMPLIANCE, require
from reachguard.api.routes.common import iso, json_response, number_or_422, read
from reachguard.api.service import Principal, Service
from reachguard.ledger.chain import GLOBAL_ORG
from reachguard.state import CHANNEL_BITS

router = APIRouter(tags=["reads"])
_json = msgspec.json.Decoder(dict[str, Any])


class HistoryItem(msgspec.Struct):
    chain: str  # the org's own chain, or "*" (events for every org)
    seq: int
    kind: str
    at: str
    verdict: str | None
    entry_hash: str
    body: dict[str, Any]


class Summary(msgspec.Struct):
    opted_out: bool  # an opt-out (this org's or every org's) is on record
    complaints: int
    lists: list[str]
    consents: int
    allowed_contacts: int


class NumberView(msgspec.Struct):
    number: str
    org: str
    summary: Summary
    state: dict[str, list[dict[str, Any]]]
    history: list[HistoryItem]


_SCHEMA, _COMPONENTS = msgspec.json.schema_components([NumberView], ref_template="#/components/schemas/{name}")
schemas.COMPONENTS.update(_COMPONENTS)


def _channels(mask: int) -> list[str]:
    return [name for name, bit in CHANNEL_BITS.items() if mask & bit]


def visible_list(name: str, org: str, other_orgs: set[str]) -> bool:
    """An org sees its own list and the shared ones, never another org's own list."""
    if name in (org, f"org:{org}"):
        return True
    if name.startswith("org:"):
        return False
    return name not in other_orgs


def number_view(svc: Service, org: str, number: str, limit: int) -> NumberView:
    store = svc.store
    records = store.number_records(org, number)
    history = store.number_history(org, number, limit)
    other_orgs = {k.org for k in store.api_keys()} - {org}
    zone = svc.policies.for_org(org).zones_for(number)[0]
    for rows in records.values():
        for row in rows:
            for key in ("at", "expires_at"):
                if key in row:
                    row[key] = iso(row[key], zone)
            if "channels" in row:
                row["channels"] = _channels(row["channels"])
            if "withdrawn" in row:
                row["withdrawn"] = bool(row["withdrawn"])
    records["lists"] = [row for row in records["lists"] if visible_list(row["list"], org, other_orgs)]
    items = []
    for e in history:
        body = _json.decode(e.body)
        if e.org == GLOBAL_ORG:
            if e.kind == "dnc" and not visible_list(str(body.get("list", "")), org, other_orgs):
                continue
            if body.get("org") not in (None, org):
                continue
        items.append(HistoryItem("*" if e.org == GLOBAL_ORG else e.org, e.seq, e.kind, iso(e.at, zone), e.tag, e.entry_hash, body))
    summary = Summary(
        opted_out=any(row["kind"] == "opt_out" for row in records["opt_outs"]),
        complaints=sum(row["kind"] == "complaint" for row in records["opt_outs"]),
        lists=[row["list"] for row in records["lists"]],
        consents=sum(not row["withdrawn"] for row in records["consents"]),
        allowed_contacts=len(records["contacts"]),
    )
    return NumberView(number, org, summary, records, items)


@router.get(
    "/v1/numbers/{number}",
    summary="A number's state and history for the caller's org",
    description="Consents, opt-outs and complaints, lists, accounts, outcomes, recent allowed contacts and replies "
    "as recorded for the caller's org (plus what applies to every org), and the ledger history about the number "
    "(decisions and events, newest `limit`, oldest first). Never another org's data.",
    responses={**schemas.answer(_SCHEMA[0], "The number's state and history"), **schemas.errors(400, 401, 403, 422, 429, 503)},
    response_class=Response,
)
async def get_number(
    request: Request,
    number: str = Path(..., max_length=64, description="any common written form; normalised to E.164"),
    limit: int = Query(200, ge=1, le=5000, description="most history entries"),
    principal: Principal = Depends(require(COMPLIANCE, AUDITOR)),
) -> Response:
    e164 = number_or_422(number)
    view = await read(number_view, request.app.state.service, principal.org, e164, limit)
    return json_response(view)
