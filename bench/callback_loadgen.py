"""Load generator for provider callbacks: processes that replay pre-built HTTP requests from an asyncio loop.

Every request (signed URL, JSON body, headers) is built once by the orchestrator, so a callback costs the load
generator only a socket write, a read and a status check: about 0.1 ms of CPU, against about 1 ms with
``requests`` in threads, which would starve the tool on a 2-core machine. Each of the ``concurrency`` simulated
senders keeps an HTTP/1.1 connection and reopens it when the server closes it (gunicorn's sync workers close after
every response; gthread workers keep it alive). The processes are started with ``spawn`` (no inherited threads or
locks) and take one phase at a time from a pipe; all processes start a phase at the same ``time.monotonic()``.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import time
from collections import Counter
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from multiprocessing.connection import Connection

MAX_ERROR_SAMPLES = 5


def build_request(host: str, port: int, target: str, body: bytes) -> bytes:
    """A complete POST as a provider sends it: JSON body, Content-Length, keep-alive (HTTP/1.1 default)."""
    head = (f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench-speechace/1.0\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


@dataclass(frozen=True)
class Phase:
    label: str
    host: str
    port: int
    requests: list[bytes]
    expected_status: str  # the JSON "status" every answer must carry: "accepted" or "duplicate"
    concurrency: int
    start_at: float  # time.monotonic(), the same clock in every process on the machine
    max_seconds: float
    request_timeout: float


@dataclass
class PhaseResult:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # "200 accepted", "403", "TimeoutError" …
    error_samples: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    connections_opened: int = 0
    resent_after_close: int = 0
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0
    hit_deadline: bool = False


class ExchangeError(Exception):
    """An answer that is not the expected 200."""


class Sender:
    """One simulated provider connection."""

    def __init__(self, phase: Phase, result: PhaseResult) -> None:
        self.phase = phase
        self.result = result
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> tuple[int, bytes]:
        reused = self._writer is not None
        try:
            return await self._exchange(request)
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as exc:
            self.close()
            if not reused or getattr(exc, "partial", b""):
                raise
        # A keep-alive connection the server had closed before reading our request: send it once more.
        self.result.resent_after_close += 1
        return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.phase.host, self.phase.port)
            self.result.connections_opened += 1
        assert self._reader is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self._reader.readexactly(int(headers["content-length"]))
        else:
            body = await self._reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _send_all(phase: Phase, queue: deque[bytes], result: PhaseResult, deadline: float) -> None:
    sender = Sender(phase, result)
    try:
        while queue:
            if time.monotonic() > deadline:
                result.hit_deadline = True
                return
            request = queue.popleft()
            result.sent += 1
            started = time.perf_counter()
            try:
                async with asyncio.timeout(phase.request_timeout):
                    status, body = await sender.post(request)
                answer = _check(status, body, phase.expected_status)
            except (ExchangeError, OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                sender.close()
                result.errors += 1
                result.answers[str(exc).split(":", 1)[0] if isinstance(exc, ExchangeError)
                               else type(exc).__name__] += 1
                if len(result.error_samples) < MAX_ERROR_SAMPLES:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            result.latency_ms.append((time.perf_counter() - started) * 1000)
            result.ok += 1
            result.answers[answer] += 1
    finally:
        sender.close()


def _check(status: int, body: bytes, expected: str) -> str:
    try:
        answer = json.loads(body).get("status") if status == 200 else None
    except ValueError:
        answer = None
    if status != 200 or answer != expected:
        raise ExchangeError(f"{status} {answer or ''}".strip() + f": {body[:200]!r}")
    return f"200 {answer}"


async def run_phase(phase: Phase) -> PhaseResult:
    result = PhaseResult()
    queue = deque(phase.requests)
    await asyncio.sleep(max(0.0, phase.start_at - time.monotonic()))
    cpu = _process_cpu_seconds()
    result.started = time.monotonic()
    deadline = phase.start_at + phase.max_seconds
    await asyncio.gather(*(_send_all(phase, queue, result, deadline) for _ in range(phase.concurrency)))
    result.finished = time.monotonic()
    result.cpu_seconds = _process_cpu_seconds() - cpu
    return result


def _process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_main(pipe: Connection) -> None:
    """Body of a load-generator process: run each Phase received and send back its PhaseResult; None ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator handles Ctrl+C and stops us
    while True:
        phase = pipe.recv()
        if phase is None:
            return
        pipe.send(asyncio.run(run_phase(phase)))
