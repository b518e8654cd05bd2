"""Structured logs: one JSON object per line on stderr, each with the request id if any."""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar

import msgspec

request_id: ContextVar[str | None] = ContextVar("reachguard_request_id", default=None)
_encode = msgspec.json.Encoder().encode
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "request_id":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        try:
            return _encode(entry).decode("utf-8")
        except (TypeError, msgspec.EncodeError):
            return _encode({k: str(v) for k, v in entry.items()}).decode("utf-8")


_handler: logging.Handler | None = None


def configure(level: str = "info", stream=None) -> None:
    """JSON lines for reachguard.* and uvicorn.* loggers (idempotent)."""
    global _handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("reachguard", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        if _handler is not None and _handler in logger.handlers:
            logger.removeHandler(_handler)
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our access log replaces it
    _handler = handler
