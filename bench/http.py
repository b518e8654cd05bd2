"""HTTP load on loopback: single and batch decisions beside a trivial endpoint, same server, same run.

Starts `reachguard serve` on 127.0.0.1 (a free port, a fresh SQLite file), creates a sender
key, then drives it with HTTP/1.1 keep-alive connections in a closed loop (each connection
sends its next request when the answer to the previous one arrives). The load generator is
`wrk` (C, one thread) when it is on PATH — `apt-get install -y wrk` on Debian; only this bench
uses it — else a small asyncio client in this process; the first line says which (`--client`).
The python client costs the server about one of the two cores; wrk a fraction of one.

  1. GET /healthz                  — the floor: what the server and client cost with no work
  2. POST /v1/decisions            — one attempt per request
  3. POST /v1/decisions:batch      — BATCH attempts per request

Each phase also prints the server's CPU time per decision (every process of its session, from
/proc): on a shared machine it moves much less than the rates, so compare code by it first.

Every phase is bounded in requests and in seconds and stops by itself; only 127.0.0.1 is
contacted. Attempts: service, marketing and collection SMS/calls to POOL distinct numbers
during working hours (most allowed, some deferred/denied), each phase on fresh numbers.

Run: `.venv/bin/python bench/http.py [--seconds 8] [--connections 16] [--batch 1000] [--workers 1] [--client wrk|python]`
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import math
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is named http.py: keep its folder off sys.path so `import http` finds the standard library.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_spec = importlib.util.spec_from_file_location("_common", _HERE / "_common.py")
_common = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_common)  # type: ignore[union-attr]
machine, median, percentile = _common.machine, _common.median, _common.percentile

HOST = "127.0.0.1"  # loopback only, never anything else
ROOT = Path(__file__).resolve().parent.parent
EXE = ROOT / ".venv" / "bin" / "reachguard"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def attempts(start: int, count: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(start, start + count):
        purpose = rng.choice(("service", "service", "marketing", "collection"))
        channel = "sms" if purpose != "collection" else rng.choice(("sms", "call"))
        hour = rng.randint(9, 19)
        out.append({"type": "attempt", "org": "bench", "channel": channel, "purpose": purpose,
                    "to": f"+86139{i % 100_000_000:08d}", "at": f"2026-11-23T{hour:02d}:{rng.randint(0, 59):02d}:00+08:00",
                    "id": f"b{i}"})
    return out


class Client(asyncio.Protocol):
    """One keep-alive connection: sends a request, waits for the full answer, repeats."""

    def __init__(self, requests: list[bytes], deadline: float, latencies: list[float], statuses: dict, done: asyncio.Future):
        self.requests = requests
        self.deadline = deadline
        self.latencies = latencies
        self.statuses = statuses
        self.done = done
        self.buffer = b""
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.next()

    def next(self) -> None:
        if not self.requests or time.perf_counter() > self.deadline:
            self.transport.close()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.requests.pop())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            match = re.search(rb"(?i)content-length: *(\d+)", head)
            length = int(match.group(1)) if match else 0
            if len(self.buffer) < head_end + 4 + length:
                return
            status = int(head[9:12])
            self.buffer = self.buffer[head_end + 4 + length:]
            self.latencies.append(time.perf_counter() - self.sent_at)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def drive(port: int, requests: list[bytes], connections: int, seconds: float) -> tuple[float, list[float], dict]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    shares = [requests[i::connections] for i in range(connections)]
    started = time.perf_counter()
    deadline = started + seconds
    waits = []
    for share in shares:
        done = loop.create_future()
        await loop.create_connection(lambda s=share, d=done: Client(s, deadline, latencies, statuses, d), HOST, port)
        waits.append(done)
    await asyncio.wait_for(asyncio.gather(*waits), seconds + 60)
    return time.perf_counter() - started, latencies, statuses


_WRK_LUA = r"""
-- Replays prebuilt raw requests (one file: "<length>\n<bytes>" each), round and round until -d ends.
-- (wrk's thread:stop() does not shorten its measured duration: the bound in time is -d.)
local requests, n, i = {}, 0, 0
statuses = {}
function init(args)
  local f = assert(io.open(%(path)s, "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    n = n + 1
    requests[n] = string.sub(data, nl + 1, nl + len)
    pos = nl + 1 + len
  end
end
function request()
  i = i %% n + 1
  return requests[i]
end
function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local parts = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do table.insert(parts, string.format("%%q:%%d", k, v)) end
  end
  io.write(string.format('WRK {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"errors":%%d,"statuses":{%%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
"""


def drive_wrk(port: int, requests: list[bytes], connections: int, seconds: float, tmp: str) -> tuple[float, list[float], dict]:
    """The same closed loop with wrk (one thread): its own latency percentiles, bounded by -d seconds.

    The requests are replayed in order; past the end of the list they start again (printed:
    repeated attempts meet the caps of the first round, so keep --requests above rate × seconds).
    """
    data = os.path.join(tmp, "requests.bin")
    with open(data, "wb") as out:
        for raw in requests:
            out.write(b"%d\n" % len(raw) + raw)
    script = os.path.join(tmp, "replay.lua")
    with open(script, "w", encoding="utf-8") as out:
        out.write(_WRK_LUA % {"path": json.dumps(data)})
    done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, math.ceil(seconds))}s", "--timeout", "60s",
                           "-s", script, f"http://{HOST}:{port}/"], capture_output=True, text=True, timeout=seconds + 120)
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    out = json.loads(line[4:])
    statuses = {int(k): v for k, v in out["statuses"].items()}
    if out["requests"] > len(requests) and requests[0] != requests[-1]:
        print(f"  (wrk went past the {len(requests):,} distinct requests: {out['requests']:,} sent)")
    if out["errors"]:
        statuses[0] = out["errors"]  # socket errors and timeouts, under status 0
    # wrk gives percentiles, not samples: hand report() two-point "samples" that reproduce them
    return out["duration_us"] / 1e6, _Percentiles(out["requests"], out["p50_us"] / 1e6, out["p99_us"] / 1e6), statuses


class _Percentiles(list):
    """Stands in for the list of latencies when the client (wrk) reports only percentiles."""

    def __init__(self, count: int, p50: float, p99: float):
        super().__init__()
        self.count, self.p50, self.p99 = count, p50, p99

    def __len__(self) -> int:
        return self.count


_TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(session: int) -> float:
    """CPU seconds (user + system) of every process of the server's session (the server and
    its workers), from /proc: steadier than wall-clock rates on a shared machine."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # field 6 of stat: the session id
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def request(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def report(name: str, elapsed: float, latencies: list[float], statuses: dict, per_request: int = 1, cpu: float = 0.0) -> dict:
    n = len(latencies)
    rps = n / elapsed
    if isinstance(latencies, _Percentiles):
        p50, p99 = latencies.p50, latencies.p99
    else:
        p50, p99 = median(latencies), percentile(latencies, 99)
    row = {"phase": name, "requests": n, "req_per_s": round(rps), "decisions_per_s": round(rps * per_request) if per_request else None,
           "p50_ms": round(p50 * 1000, 2), "p99_ms": round(p99 * 1000, 2), "statuses": statuses,
           "server_cpu_us": round(cpu / (n * max(per_request, 1)) * 1e6, 1) if n else None}
    dps = f"{rps * per_request:>10,.0f} decisions/s" if per_request else " " * 23
    print(f"{name:<28} {n:>7} req {rps:>9,.0f} req/s {dps}  p50 {row['p50_ms']:>7.2f} ms  p99 {row['p99_ms']:>7.2f} ms  "
          f"server CPU {row['server_cpu_us']} us/{'decision' if per_request else 'request'}  {statuses}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="time bound of each phase")
    parser.add_argument("--requests", type=int, default=80_000, help="distinct requests of the single phases (the python client's bound)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1000, help="attempts per batch request")
    parser.add_argument("--batch-requests", type=int, default=200)
    parser.add_argument("--batch-connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk (if on PATH, with auto) or the asyncio client in this process")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    elif client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk: wrk is not on PATH (Debian: apt-get install -y wrk)")
    rng = random.Random(7)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="reachguard-bench-") as tmp:
        db = os.path.join(tmp, "bench.db")
        key = subprocess.run([str(EXE), "keys", "create", "--org", "bench", "--role", "sender", "--db", db],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        port = free_port()
        env = dict(os.environ, REACHGUARD_LOG_LEVEL="warning")
        server = subprocess.Popen([str(EXE), "serve", "--db", db, "--host", HOST, "--port", str(port), "--workers", str(args.workers)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    socket.create_connection((HOST, port), timeout=0.2).close()
                    break
                except OSError:
                    if time.time() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start")
                    time.sleep(0.1)
            try:
                from reachguard.api.server import protocol_and_loop

                stack = protocol_and_loop()[2]
            except ImportError:  # an older checkout on PYTHONPATH (A/B runs): uvicorn's h11
                stack = "h11+asyncio"
            print(f"server: reachguard serve --workers {args.workers} ({stack}) on {HOST}:{port}, SQLite file, "
                  f"log level warning (no access lines); {args.connections} connections (single), {args.batch_connections} (batch)")
            print(f"client: {client}" + (" (one thread)" if client == "wrk" else " (asyncio, in this process)"))

            def run(requests: list[bytes], connections: int, seconds: float) -> tuple:
                """The phase's (elapsed, latencies, statuses), and the server's CPU seconds meanwhile."""
                before = server_cpu(server.pid)
                if client == "wrk":
                    out = drive_wrk(port, requests, connections, seconds, tmp)
                else:
                    out = asyncio.run(drive(port, requests, connections, seconds))
                return (*out, server_cpu(server.pid) - before)

            rows = []
            warm = [request("POST", "/v1/decisions", key, json.dumps(a).encode()) for a in attempts(90_000_000, 500, rng)]
            asyncio.run(drive(port, warm, 8, 10))
            health = [request("GET", "/healthz", key)] * args.requests
            elapsed, latencies, statuses, cpu = run(health, args.connections, args.seconds)
            rows.append(report("GET /healthz (floor)", elapsed, latencies, statuses, per_request=0, cpu=cpu))
            singles = [request("POST", "/v1/decisions", key, json.dumps(a).encode()) for a in attempts(0, args.requests, rng)]
            elapsed, latencies, statuses, cpu = run(singles, args.connections, args.seconds)
            rows.append(report("POST /v1/decisions", elapsed, latencies, statuses, cpu=cpu))
            batches = []
            for b in range(min(args.batch_requests, max(10, 400_000 // args.batch))):  # bounded memory for big batches
                body = json.dumps(attempts(1_000_000 + b * args.batch, args.batch, rng)).encode()
                batches.append(request("POST", "/v1/decisions:batch", key, body))
            elapsed, latencies, statuses, cpu = run(batches, args.batch_connections, args.seconds)
            rows.append(report(f"POST /v1/decisions:batch x{args.batch}", elapsed, latencies, statuses, per_request=args.batch, cpu=cpu))
            if args.json:
                print(json.dumps({"machine": machine(), "client": client, "rows": rows}))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
