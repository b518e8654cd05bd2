"""uvicorn's h11 protocol with one socket write per small response instead of two.

uvicorn writes the status line and headers, then the body, each with its own
`transport.write` — two `send` system calls and two TCP segments per answer. Here the head is
held back until the first body chunk and written together with it. Everything else is
uvicorn's own h11 implementation, unchanged (used by `reachguard serve`).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class _Cork:
    """Stands in for the transport while uvicorn writes one message; collects the bytes."""

    __slots__ = ("transport", "parts")

    def __init__(self, transport: Any, parts: list[bytes]):
        self.transport = transport
        self.parts = parts

    def write(self, data: bytes) -> None:
        if data:
            self.parts.append(data)

    def flush(self) -> None:
        if self.parts:
            self.transport.write(b"".join(self.parts))
            self.parts.clear()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CorkedH11Protocol(H11Protocol):
    _held: list[bytes] | None = None

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.response_started:
            real = self.transport
            cork = _Cork(real, [])
            self.transport = cork
            try:
                await super().send(message)
            finally:
                self.transport = real
            self._held = cork.parts
            return
        held = self._held
        if held is None:
            await super().send(message)
            return
        self._held = None
        real = self.transport
        cork = _Cork(real, held)
        self.transport = cork
        try:
            await super().send(message)
        finally:
            self.transport = real
            cork.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._held = None
        super().connection_lost(exc)
