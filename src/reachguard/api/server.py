"""uvicorn's HTTP protocols with one socket write per small answer instead of two or three.

uvicorn writes the status line and headers, then the body (h11: then an empty end-of-message
chunk), each with its own `transport.write` — one `send` system call and one TCP segment each.
Here the protocol gets a transport that collects the writes made in one turn of the event loop
and hands them to the socket as one (at the end of the turn, or at once past 64 KiB so that
uvicorn's flow control still sees large streamed answers). Everything else is uvicorn's own
implementation, unchanged. `reachguard serve` uses the httptools parser and the uvloop event
loop (C, both pinned dependencies) and falls back to h11 / asyncio when either cannot be
imported (`protocol_and_loop`).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

_FLUSH_AT = 64 * 1024


class CorkedTransport:
    """Stands in for the connection's transport; joins the writes of one loop turn."""

    __slots__ = ("transport", "parts", "size", "loop")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop):
        self.transport = transport
        self.loop = loop
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self.parts:
            self.loop.call_soon(self.flush)
        self.parts.append(data)
        self.size += len(data)
        if self.size >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        parts = self.parts
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self.parts = []
        self.size = 0
        if not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _CorkMixin:
    def connection_made(self, transport: Any) -> None:
        super().connection_made(CorkedTransport(transport, asyncio.get_running_loop()))  # type: ignore[misc]


class CorkedH11Protocol(_CorkMixin, H11Protocol):
    """h11 (pure Python): the fallback parser."""


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


if _have("httptools"):
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class CorkedHttpToolsProtocol(_CorkMixin, HttpToolsProtocol):
        """httptools (llhttp, C): the default parser."""

else:  # pragma: no cover - httptools is a pinned dependency
    CorkedHttpToolsProtocol = None  # type: ignore[assignment,misc]


def protocol_and_loop() -> tuple[type, str, str]:
    """(protocol class, uvicorn loop name, a short label): httptools + uvloop when installed."""
    protocol: type = CorkedHttpToolsProtocol or CorkedH11Protocol
    parser = "httptools" if CorkedHttpToolsProtocol is not None else "h11"
    loop = "uvloop" if _have("uvloop") else "asyncio"
    return protocol, loop, f"{parser}+{loop}"


def tune_gc() -> None:
    """For the server process only, once the app is built: fewer, cheaper garbage collections.

    Nearly every object a request leaves behind is long-lived (number and key caches), not
    cyclic garbage, so CPython's default thresholds (a collection every 700 allocations, a
    full one every ~70,000) only rescan the same survivors: under load that was 0.5 s of
    every 8 and single pauses of 150 ms (the p99). Freezing what start-up built takes it out of
    every collection; young collections every 50,000 allocations stay well under a
    millisecond of work each; cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
