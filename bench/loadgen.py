"""The load generator: worker processes that each drive full LTI launches from an asyncio loop over raw sockets.

One launch is what a browser does between the LMS and the tool:

1. GET  /lti/login?iss=..&login_hint=..  -> 302 to the LMS's /auth with state and nonce, and the state cookie;
2. the LMS signs an id_token for that nonce: here the emulator's ``sign_jwt`` with its current key, over the
   emulator's own claim set (see ``harness.create_lms``), called in the load generator instead of over HTTP;
3. POST /lti/launch (id_token, state, cookie) -> 200 and the learner's landing page.

Each simulated browser keeps one HTTP/1.1 connection (re-opened when the server closes it, as gunicorn's sync
workers do after every response). The processes are forked before any thread exists and then take commands
from a pipe, so a benchmark level starts all of them at the same instant.
"""

from __future__ import annotations

import asyncio
import resource
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

from lti_tool.lti.login_state import STATE_COOKIE_PREFIX
from lti_tool.sandbox.platform.constants import CLAIM_CONTEXT
from lti_tool.sandbox.platform.constants import CLAIM_LIS
from lti_tool.sandbox.platform.constants import CLAIM_RESOURCE_LINK
from lti_tool.sandbox.platform.id_token import ID_TOKEN_LIFETIME_SECONDS

MAX_ERROR_SAMPLES = 5


class LaunchFailed(Exception):
    """A launch that did not end on the landing page."""


# --- a minimal HTTP/1.1 client -----------------------------------------------------------------------------------
@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class HttpConnection:
    """One keep-alive connection; just enough HTTP/1.1 for the tool's responses (Content-Length bodies)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: bytes = b"") -> HttpResponse:
        reused = self._writer is not None
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(head + body)
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            self.close()
            if not reused or getattr(exc, "partial", b""):
                raise
        # The server closed an idle keep-alive connection before reading the request: send it again, once.
        async with asyncio.timeout(self.timeout):
            return await self._exchange(head + body)

    async def _exchange(self, data: bytes) -> HttpResponse:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(data)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, headers = _parse_head(head)
        body = await self._read_body(headers)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return HttpResponse(status, headers, body)

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        assert self._reader is not None
        if "content-length" in headers:
            return await self._reader.readexactly(int(headers["content-length"]))
        if "chunked" in headers.get("transfer-encoding", ""):
            raise LaunchFailed("chunked responses are not expected from the tool")
        body = await self._reader.read()
        self.close()
        return body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            key = name.strip().lower()
            if key == "set-cookie" and key in headers:  # several cookies: one per line
                headers[key] += "\n" + value.strip()
            else:
                headers[key] = value.strip()
    return status, headers


# --- what every worker process knows -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchTemplate:
    host: str
    port: int
    header: dict[str, Any]
    claims: dict[str, Any]
    login_params: dict[str, str]
    auth_url: str
    landing_marker: str
    sign: Callable[[dict[str, Any], dict[str, Any]], str]
    courses: int = 1
    # The login's state cookie is named this prefix + its value (pylti1p3: "lti1p3-" + "state-<uuid>").
    state_cookie_prefix: str = STATE_COOKIE_PREFIX

    def login_head(self, sub: str) -> bytes:
        params = {**self.login_params, "login_hint": sub, "lti_message_hint": secrets.token_urlsafe(16)}
        return (f"GET /lti/login?{urlencode(params)} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Accept: text/html\r\n\r\n").encode()

    def launch_request(self, id_token: str, state: str, cookie: str) -> tuple[bytes, bytes]:
        """The launch POST; ``cookie`` is the ``name=value`` pair the login set."""
        body = urlencode({"id_token": id_token, "state": state}).encode()
        head = (f"POST /lti/launch HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\nCookie: {cookie}\r\n\r\n").encode()
        return head, body

    def learner_claims(self, sub: str, nonce: str, course: int = 0) -> dict[str, Any]:
        """The emulator's claim set for a new learner ``sub`` answering this login's nonce.

        Course 0 is the emulator's course and activity; course ``n`` a copy of them with ids suffixed ``-n``.
        """
        now = int(time.time())
        claims = dict(self.claims)
        claims.update(sub=sub, nonce=nonce, iat=now, exp=now + ID_TOKEN_LIFETIME_SECONDS, given_name="Learner",
                      family_name=sub, name=f"Learner {sub}", email=f"{sub}@example.edu")
        claims[CLAIM_LIS] = {**claims[CLAIM_LIS], "person_sourcedid": sub}
        if course:
            for name in (CLAIM_CONTEXT, CLAIM_RESOURCE_LINK):
                claims[name] = {**claims[name], "id": f"{claims[name]['id']}-{course}"}
        return claims


@dataclass(frozen=True)
class LevelCommand:
    label: str
    concurrency: int
    launches: int
    max_seconds: float
    start_at: float  # time.monotonic(), shared by all processes on the machine
    request_timeout: float


@dataclass
class LevelResult:
    attempted: int = 0
    ok: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    login_ms: list[float] = field(default_factory=list)
    launch_ms: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0
    sign_cpu_seconds: float = 0.0
    hit_deadline: bool = False


# --- one level in one process ------------------------------------------------------------------------------------
class LevelRun:
    def __init__(self, template: LaunchTemplate, command: LevelCommand, worker: int) -> None:
        self.template = template
        self.command = command
        self.worker = worker
        self.result = LevelResult()
        self.deadline = command.start_at + command.max_seconds

    def take(self) -> str | None:
        """The next learner's sub, or None once the quota is reached or time is up."""
        if self.result.attempted >= self.command.launches:
            return None
        if time.monotonic() > self.deadline:
            self.result.hit_deadline = True
            return None
        self.result.attempted += 1
        return f"bench-{self.command.label}-{self.worker}-{self.result.attempted}"

    async def browser(self) -> None:
        connection = HttpConnection(self.template.host, self.template.port, self.command.request_timeout)
        try:
            while (sub := self.take()) is not None:
                await self.launch_once(connection, sub)
        finally:
            connection.close()

    async def launch_once(self, connection: HttpConnection, sub: str) -> None:
        started = time.perf_counter()
        try:
            state, nonce, cookie = _check_login(await connection.request(self.template.login_head(sub)),
                                                self.template)
            logged_in = time.perf_counter()
            id_token = self._sign(sub, nonce, self.result.attempted % self.template.courses)
            response = await connection.request(*self.template.launch_request(id_token, state, cookie))
            _check_landing(response, self.template)
        except (TimeoutError, LaunchFailed, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            connection.close()
            self._failed(sub, exc)
            return
        finished = time.perf_counter()
        self.result.ok += 1
        self.result.total_ms.append((finished - started) * 1000)
        self.result.login_ms.append((logged_in - started) * 1000)
        self.result.launch_ms.append((finished - logged_in) * 1000)

    def _sign(self, sub: str, nonce: str, course: int) -> str:
        cpu = time.thread_time()
        id_token = self.template.sign(self.template.header, self.template.learner_claims(sub, nonce, course))
        self.result.sign_cpu_seconds += time.thread_time() - cpu
        return id_token

    def _failed(self, sub: str, exc: BaseException) -> None:
        self.result.errors += 1
        if len(self.result.error_samples) < MAX_ERROR_SAMPLES:
            self.result.error_samples.append(f"{sub}: {type(exc).__name__}: {exc}"[:300])


def _check_login(response: HttpResponse, template: LaunchTemplate) -> tuple[str, str, str]:
    """The login's state, nonce and the state cookie (``lti-tool-state-<login id>=<login id>``) it set."""
    location = response.headers.get("location", "")
    if response.status != 302 or not location.startswith(template.auth_url):
        raise LaunchFailed(f"login answered {response.status} {location[:80]!r}: {response.body[:200]!r}")
    query = dict(parse_qsl(urlsplit(location).query))
    state, nonce = query.get("state", ""), query.get("nonce", "")
    if not state or not nonce:
        raise LaunchFailed(f"the authorization request lacks state or nonce: {location[:200]}")
    pairs = [line.split(";", 1)[0].strip() for line in response.headers.get("set-cookie", "").split("\n")]
    pairs = [pair for pair in pairs if "=" in pair]
    if not any(name == template.state_cookie_prefix + value and value
               for name, _, value in (pair.partition("=") for pair in pairs)):
        raise LaunchFailed(f"login set no state cookie: {response.headers.get('set-cookie')!r}")
    return state, nonce, "; ".join(pairs)  # every cookie the login set goes back with the launch


def _check_landing(response: HttpResponse, template: LaunchTemplate) -> None:
    if response.status != 200 or template.landing_marker.encode() not in response.body:
        raise LaunchFailed(f"launch answered {response.status}: {response.body[:300]!r}")


async def run_level(template: LaunchTemplate, command: LevelCommand, worker: int) -> LevelResult:
    run = LevelRun(template, command, worker)
    await asyncio.sleep(max(0.0, command.start_at - time.monotonic()))
    cpu = _process_cpu_seconds()
    run.result.started = time.monotonic()
    await asyncio.gather(*(run.browser() for _ in range(command.concurrency)))
    run.result.finished = time.monotonic()
    run.result.cpu_seconds = _process_cpu_seconds() - cpu
    return run.result


def _process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_main(pipe: Connection, template: LaunchTemplate, worker: int) -> None:
    """Body of a load-generator process: run each LevelCommand received, send back its LevelResult."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl+C and stops us
    while True:
        command = pipe.recv()
        if command is None:
            return
        pipe.send(asyncio.run(run_level(template, command, worker)))
