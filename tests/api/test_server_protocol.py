"""The corked protocols write each small answer (head and body) with one transport write."""

from __future__ import annotations

import asyncio

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from reachguard.api.server import CorkedH11Protocol, CorkedHttpToolsProtocol, protocol_and_loop


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: dict, receive, send) -> None:
    await receive()
    body = b'{"status":"ok"}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def test_the_service_uses_httptools_and_uvloop() -> None:
    protocol, loop, label = protocol_and_loop()
    assert protocol is CorkedHttpToolsProtocol and loop == "uvloop" and label == "httptools+uvloop"


@pytest.mark.parametrize("protocol_class", [CorkedHttpToolsProtocol, CorkedH11Protocol])
def test_one_write_per_answer_and_keep_alive(protocol_class: type) -> None:
    async def run() -> list[bytes]:
        config = Config(app=_app, lifespan="off", log_config=None, access_log=False, server_header=False, date_header=False)
        config.load()
        protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
        transport = _Transport()
        protocol.connection_made(transport)
        for n in range(2):  # two requests on one connection
            protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            for _ in range(20):
                await asyncio.sleep(0)
                if len(transport.writes) > n:
                    break
        protocol.connection_lost(None)
        return transport.writes

    writes = asyncio.run(run())
    assert len(writes) == 2
    for raw in writes:
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == b'{"status":"ok"}'


def test_large_answers_are_written_as_they_come() -> None:
    """Past 64 KiB the collected bytes go to the socket at once (flow control sees them)."""
    from reachguard.api.server import CorkedTransport

    async def run() -> list[bytes]:
        transport = _Transport()
        cork = CorkedTransport(transport, asyncio.get_running_loop())
        cork.write(b"a" * 40_000)
        assert transport.writes == []
        cork.write(b"b" * 40_000)
        assert transport.writes == [b"a" * 40_000 + b"b" * 40_000]
        cork.write(b"c")
        cork.close()
        return transport.writes

    assert asyncio.run(run())[-1] == b"c"


def test_tune_gc_freezes_start_up_and_raises_the_threshold() -> None:
    """In a child process: it changes the interpreter's collector for good."""
    import subprocess
    import sys

    code = ("import gc; from reachguard.api.server import tune_gc; tune_gc(); "
            "print(gc.get_threshold()[0], gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split() == ["50000", "True"]
