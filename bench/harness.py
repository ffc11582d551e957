"""Shared set-up for the benchmarks: a fresh database, the platform emulator wired to the tool, gunicorn, and CPU
accounting read from /proc.

Nothing here changes the tool: it is configured exactly as an admin would (``LTI_TOOL_*`` variables,
``lti-tool init``, a manual registration) and run with gunicorn as in production.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from importlib import metadata
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from typing import Self
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import sqlalchemy as sa

from lti_tool.cli import initialise
from lti_tool.db import Database
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform.id_token import build_id_token_claims
from lti_tool.serving import DEFAULT_THREADS
from lti_tool.serving import DEFAULT_WORKERS
from lti_tool.serving import PassbackSupervisor
from lti_tool.serving import ServeOptions
from lti_tool.serving import gunicorn_options

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
PG_SERVER_URL = os.environ.get("LTI_TOOL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = "lti_tool_bench"
LEARNER_PAGE_MARKER = 'data-testid="learner-landing"'
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What `lti-tool serve` runs when given no options (lti_tool.serving), read from there so a bench that means "the
# tool as in production" cannot drift from it.
SERVE_WORKERS = DEFAULT_WORKERS
SERVE_THREADS = DEFAULT_THREADS
SERVE_WORKER_CLASS = str(gunicorn_options(ServeOptions())["worker_class"])


# --- database ------------------------------------------------------------------------------------------------------
def fresh_database_url(backend: str, name: str = PG_DATABASE) -> str:
    """Drop and recreate the bench database ``name``; returns its SQLAlchemy URL (schema not created yet)."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="lti-tool-bench-"))
        return f"sqlite:///{folder / 'lti-tool.sqlite3'}"
    if backend != "postgresql":
        raise ValueError(f"unknown database backend {backend!r}")
    server = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return sa.make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)


def count_rows(database_url: str, tables: tuple[str, ...]) -> dict[str, int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {table: int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
                    for table in tables}
    finally:
        engine.dispose()


# --- the emulated LMS ------------------------------------------------------------------------------------------------
@dataclass
class LmsSetup:
    """The emulator (serving its JWKS over HTTP) and everything a load generator needs to launch like it does."""

    platform: PlatformEmulator
    server: LiveServer
    header: dict[str, Any]
    claims: dict[str, Any]
    login_params: dict[str, str]
    auth_url: str
    deployment_id: str
    client_id: str

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        return self.platform.sign_jwt(header, claims)


def create_lms(tool_url: str) -> LmsSetup:
    """A Moodle-flavoured emulator with the tool registered and one course; its HTTP server is not started yet.

    ``claims`` is the emulator's own id_token claim set (``build_id_token_claims``) for a learner launch of a graded
    activity; the load generator only swaps in the per-launch values (sub, names, nonce, iat, exp).
    """
    server = LiveServer()
    platform = PlatformEmulator(issuer=server.url, base_url=server.url)
    client = platform.register_tool("Speaking tests", oidc_initiation_url=f"{tool_url}/lti/login",
                                    target_link_uri=f"{tool_url}/lti/launch", jwks_uri=f"{tool_url}/lti/jwks")
    course = platform.add_default_course()
    login_url = platform.begin_launch(client.client_id, course.learner, course.context_id,
                                      resource_link_id="speaking-1", resource_link_title="Unit 3 speaking test",
                                      with_lineitem=True)
    login_params = dict(parse_qsl(urlsplit(login_url).query))
    with platform.lock:
        pending = platform.launches[login_params["lti_message_hint"]]
        claims = build_id_token_claims(platform, pending, nonce="")
        header = {"typ": "JWT", "alg": "RS256", "kid": platform.keys.current_kid}
    return LmsSetup(platform=platform, server=server, header=header, claims=claims, login_params=login_params,
                    auth_url=platform.url("/auth"), deployment_id=client.deployment_id, client_id=client.client_id)


def prepare_tool_database(database_url: str, lms: LmsSetup) -> None:
    """``lti-tool init`` and a manual registration of the emulator with its deployment approved."""
    database = Database(database_url)
    try:
        initialise(database)
        platform = lms.platform
        details = PlatformDetails(issuer=platform.issuer, client_id=lms.client_id, auth_login_url=lms.auth_url,
                                  auth_token_url=platform.url("/token"), key_set_url=platform.url("/jwks"),
                                  name="Emulated LMS")
        with database.session() as session:
            register_platform(session, details, "manual", [lms.deployment_id], approve=True)
    finally:
        database.dispose()


# --- gunicorn --------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class GunicornConfig:
    workers: int
    worker_class: str
    threads: int
    port: int

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--worker-class", self.worker_class,
                "--bind", f"127.0.0.1:{self.port}", "--backlog", "2048", "--worker-tmp-dir", "/dev/shm",
                "--log-level", "warning", "--graceful-timeout", "5"]
        if self.worker_class == "gthread":
            argv += ["--threads", str(self.threads)]
        return [*argv, "lti_tool.wsgi:app"]

    def describe(self) -> str:
        threads = f" --threads {self.threads}" if self.worker_class == "gthread" else ""
        return f"gunicorn -w {self.workers} -k {self.worker_class}{threads} lti_tool.wsgi:app"


def tool_environment(database_url: str, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LTI_TOOL_ENV": "production",
        # The emulated LMS is on loopback over plain http: what a school would never allow, the bench must.
        "LTI_TOOL_ALLOW_PRIVATE_URLS": "true",
        "LTI_TOOL_ALLOW_INSECURE_HTTP": "true",
        "LTI_TOOL_BASE_URL": base_url,
        "LTI_TOOL_SECRET_KEY": secrets.token_urlsafe(48),
        "LTI_TOOL_DATABASE_URL": database_url,
        "LTI_TOOL_DATA_DIR": tempfile.mkdtemp(prefix="lti-tool-bench-data-"),
        "LTI_TOOL_PROXY_COUNT": "0",
        "LTI_TOOL_LOG_LEVEL": "WARNING",
    }


@dataclass
class Gunicorn:
    """gunicorn running ``lti_tool.wsgi:app`` in its own session, so that only we stop it."""

    config: GunicornConfig
    environment: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def start(self, ready_timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.config.argv(), env=self.environment, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            if _answers(self.url + "/healthz") and len(self.worker_pids()) == self.config.workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready within {timeout} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def cpu_seconds(self) -> float:
        """utime+stime of the master and its workers, plus what their exited children used."""
        if self.process is None:
            return 0.0
        return sum(process_cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


@dataclass(frozen=True)
class ServeConfig(GunicornConfig):
    """``lti-tool serve --bind 127.0.0.1:<port>``: the console script with its own defaults (workers, threads, worker
    class), which also starts one passback worker beside gunicorn. Build it with ``ServeConfig.defaults``."""

    @classmethod
    def defaults(cls, port: int) -> ServeConfig:
        return cls(workers=SERVE_WORKERS, worker_class=SERVE_WORKER_CLASS, threads=SERVE_THREADS, port=port)

    def argv(self) -> list[str]:
        return [str(Path(sys.executable).with_name("lti-tool")), "serve", "--bind", f"127.0.0.1:{self.port}"]

    def describe(self) -> str:
        return (f"lti-tool serve --bind 127.0.0.1:{self.port} (gunicorn -w {self.workers} -k {self.worker_class} "
                f"--threads {self.threads} + 1 passback worker)")


def serve_environment(database_url: str, base_url: str) -> dict[str, str]:
    """``tool_environment`` without LTI_TOOL_SERVE_* variables, so that `lti-tool serve` runs its defaults."""
    return {name: value for name, value in tool_environment(database_url, base_url).items()
            if not name.startswith("LTI_TOOL_SERVE_")}


# The passback worker's command line after the interpreter: `python -m lti_tool.cli worker`.
PASSBACK_ARGV_TAIL = [part.encode() for part in PassbackSupervisor(environ={}).command[1:]]


class Serve(Gunicorn):
    """`lti-tool serve`: gunicorn's master forks the web workers and starts the passback worker as a child too.

    Ready when /healthz answers, the master has its web workers and the passback worker runs; the CPU is that of the
    whole process tree (master, web workers, passback worker, and whatever they started).
    """

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"lti-tool serve exited; see {self.log_path}")
            web, passback = self.children()
            if _answers(self.url + "/healthz") and len(web) == self.config.workers and len(passback) == 1:
                return
            time.sleep(0.1)
        raise RuntimeError(f"lti-tool serve did not become ready within {timeout} s; see {self.log_path}")

    def children(self) -> tuple[list[int], list[int]]:
        """(web workers, passback workers) among the master's children."""
        web, passback = [], []
        for pid in self.worker_pids():
            (passback if _is_passback_worker(pid) else web).append(pid)
        return web, passback

    def cpu_seconds(self) -> float:
        if self.process is None:
            return 0.0
        return sum(process_cpu_seconds(pid) for pid in [self.process.pid, *descendants_of(self.process.pid)])


def _is_passback_worker(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return argv[-len(PASSBACK_ARGV_TAIL):] == PASSBACK_ARGV_TAIL


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# --- CPU accounting from /proc ---------------------------------------------------------------------------------------
def _stat_fields(pid: int) -> tuple[str, list[str]]:
    """(comm, fields from field 3 on) of /proc/<pid>/stat; comm may contain spaces, hence the rindex."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime (fields 14-17) in seconds; 0 if the process is gone."""
    try:
        _, fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def children_of(parent: int) -> list[int]:
    children = []
    for pid in _all_pids():
        try:
            _, fields = _stat_fields(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == parent:
            children.append(pid)
    return children


def descendants_of(ancestor: int) -> list[int]:
    """Every process below ``ancestor`` (children, their children, ...), from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        try:
            _, fields = _stat_fields(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(fields[1]), []).append(pid)
    found, pending = [], list(children.get(ancestor, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def postgres_backends_cpu(database: str = PG_DATABASE) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database`` (found by its process title)."""
    marker = f" {database} ".encode()
    usage = {}
    for pid in _all_pids():
        try:
            comm, _ = _stat_fields(pid)
            if comm == "postgres" and marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                usage[pid] = process_cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return usage


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots by the processes alive at the second one."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --- shared by the benchmarks' orchestrators ----------------------------------------------------------------------

QUIET_PERCENT = 10.0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_for_quiet(max_seconds: float) -> float:
    """Wait (bounded) until the machine is nearly idle while we are; returns the last busy % seen."""
    deadline = time.monotonic() + max_seconds
    while True:
        before = machine_cpu_ticks()
        time.sleep(1.0)
        after = machine_cpu_ticks()
        busy_percent = (after[0] - before[0]) / max(1, after[1] - before[1]) * 100
        if busy_percent < QUIET_PERCENT or time.monotonic() >= deadline:
            return busy_percent


@dataclass
class ProcessPool:
    """Load-generator processes, each serving commands on its pipe (``None`` tells it to exit)."""

    processes: list[BaseProcess]
    pipes: list[Connection]

    @classmethod
    def start(cls, method: str, count: int, target: Callable[..., None],
              args_for: Callable[[Connection, int], tuple[Any, ...]]) -> Self:
        context = multiprocessing.get_context(method)
        processes, pipes = [], []
        for index in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=target, args=args_for(theirs, index), daemon=True,
                                      name=f"loadgen-{index}")
            process.start()
            theirs.close()
            processes.append(process)
            pipes.append(ours)
        return cls(processes, pipes)

    def collect(self, parts: int, deadline: float) -> list[Any]:
        """One answer from each of the first ``parts`` processes, or an error past ``deadline`` (monotonic)."""
        results = []
        for pipe in self.pipes[:parts]:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise RuntimeError("a load-generator process did not finish in time")
            results.append(pipe.recv())
        return results

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self.processes:
            process.join(timeout=2)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2)


def installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """The installed version of each distribution, printed with every result so a figure names what it measured."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
