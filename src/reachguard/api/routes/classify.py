"""POST /v1/classify: label incoming SMS (normal, marketing, collection, fraud), in batches.

Wraps protect.classifier like `reachguard classify --json`: each item is a string or
`{"id", "text"}`; an item that cannot be classified (unknown field, missing or non-string
text, over 10,000 characters) gets `{"id", "error": {"code", "message", "index"}}` in its
place and the rest are still classified — the CLI's error lines, as array items.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.deps import ADMIN, AUDITOR, COMPLIANCE, SENDER, require
from reachguard.api.errors import ApiError
from reachguard.api.routes.common import json_response
from reachguard.api.service import Principal
from reachguard.events import decode_json, json_error_message
from reachguard.model import MAX_TEXT_CHARS

router = APIRouter(tags=["classify"])
MAX_ITEMS = 1_000
_json = msgspec.json.Decoder()
_lock = threading.Lock()
_model: Any = None


class Item(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    id: str | int | None = None


def classifier() -> Any:
    """The shipped model, loaded once per process (lazily: numpy/scikit-learn only when used)."""
    global _model
    with _lock:
        if _model is None:
            from reachguard.protect.classifier import Classifier

            _model = Classifier.load()
        return _model


def _item(raw: Any, index: int) -> tuple[Any, str | None, dict | None]:
    """(id, text, None) or (id, None, error)."""
    if isinstance(raw, str):
        item_id, text = index, raw
    else:
        try:
            item = msgspec.convert(raw, Item)
        except msgspec.ValidationError as exc:
            message = str(exc)
            code = ("UNKNOWN_FIELD" if "unknown field" in message else
                    "MISSING_FIELD" if "missing required field" in message else "INVALID_FIELD")
            item_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), (str, int)) else index
            return item_id, None, {"code": code, "message": message, "index": index}
        item_id, text = (item.id if item.id is not None else index), item.text
    if len(text) > MAX_TEXT_CHARS:
        return item_id, None, {"code": "TEXT_TOO_LONG", "index": index,
                               "message": f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}"}
    return item_id, text, None


def classify_items(items: list[Any]) -> list[dict]:
    parsed = [_item(raw, index) for index, raw in enumerate(items)]
    texts = [text for _, text, error in parsed if error is None]
    results = iter(classifier().classify_many(texts) if texts else [])
    return [{"id": item_id, "error": error} if error is not None else {"id": item_id, **next(results).to_dict(digits=4)}
            for item_id, _, error in parsed]


@router.post(
    "/v1/classify",
    summary="Label incoming SMS: normal, marketing, collection or fraud",
    description=f"Body: a JSON array (1 to {MAX_ITEMS}) of messages, each a string or `{{\"id\", \"text\"}}`. Answer: "
    "the array of `{id, label, scores, signals}` in order (the contract's classification output; a string's id is "
    "its index). An item that cannot be classified gets `{id, error: {code, message, index}}` in its place "
    "(UNKNOWN_FIELD, MISSING_FIELD, INVALID_FIELD, TEXT_TOO_LONG). Any role's key.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                   "items": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {
                       "id": {"type": ["string", "integer"]}, "text": {"type": "string"}}, "required": ["text"]}]}},
        "example": ["【星河金融】您的借款已逾期3天，应还1200元，请通过App还款。回T退订", {"id": "m2", "text": "无视征信，黑户可贷，加微信秒下款"}]}}}},
    responses={200: {"description": "One answer per message, in order"}, **schemas.errors(400, 401, 403, 413, 422, 429)},
    response_class=Response,
)
async def classify(request: Request, principal: Principal = Depends(require(SENDER, COMPLIANCE, AUDITOR, ADMIN))) -> Response:
    body = await request.body()
    try:
        items = decode_json(_json, body)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "INVALID_UTF8", f"input is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "MALFORMED_JSON", json_error_message(exc, body)) from None
    if not isinstance(items, list):
        raise ApiError(400, "NOT_AN_OBJECT", "the body must be a JSON array of messages")
    if not items:
        raise ApiError(422, "INVALID_FIELD", "the array is empty: send 1 to 1000 messages")
    if len(items) > MAX_ITEMS:
        raise ApiError(422, "TOO_MANY", f"{len(items)} messages; at most {MAX_ITEMS} per request")
    return json_response(await run_in_threadpool(classify_items, items))
