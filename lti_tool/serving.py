"""``lti-tool serve``: the tool on gunicorn, with exactly one passback worker beside it.

gunicorn's master (the arbiter) forks the web workers; the passback worker is one ``lti-tool worker`` child process
that a thread in the master starts, restarts if it dies, and stops with the server. It is not a thread in each web
worker: with N web workers there would be N of them, and threads do not survive the fork anyway.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from lti_tool.telemetry import metrics
from lti_tool.telemetry.logs import gunicorn_logconfig

log = logging.getLogger(__name__)

DEFAULT_BIND = "127.0.0.1:5000"
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4
DEFAULT_TIMEOUT_SECONDS = 30
# How long the supervisor waits before starting a passback worker that exited (it keeps no state: restart is safe).
WORKER_RESTART_SECONDS = 5.0


@dataclass(frozen=True)
class ServeOptions:
    """What `lti-tool serve` was asked for (options, else LTI_TOOL_SERVE_* variables, else the defaults)."""

    bind: str = DEFAULT_BIND
    workers: int = DEFAULT_WORKERS
    threads: int = DEFAULT_THREADS
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    passback_worker: bool = True
    log_format: str = "text"  # LTI_TOOL_LOG_FORMAT: gunicorn's own lines follow it


def gunicorn_options(options: ServeOptions) -> dict[str, Any]:
    """gunicorn settings for ``options``: threaded workers (the tool waits on the LMS and providers over HTTP)."""
    return {
        "bind": [options.bind],
        "workers": options.workers,
        "threads": options.threads,
        "worker_class": "gthread",
        "timeout": options.timeout,
        # No gunicorn access log: its lines hold query strings and launch handles. The tool writes its own
        # (lti_tool.access: method, path without secrets, status, duration, request id).
        "accesslog": None,
        "errorlog": "-",
        "logconfig_dict": gunicorn_logconfig(options.log_format),
        # Each web worker builds its own app (engine, HTTP pools) after the fork: nothing shared across processes.
        "preload_app": False,
        "proc_name": "lti-tool",
        # gunicorn 27's control socket is one file per user ($HOME/.gunicorn): a second server would take it over.
        "control_socket_disable": True,
        **SERVER_HOOKS,
    }


# --- Server hooks -------------------------------------------------------------------------------------------------
# gunicorn calls these in the master. Add hooks here by adding them to SERVER_HOOKS; gunicorn_options passes them on.

def child_exit(server: Any, worker: Any) -> None:
    """A web worker exited: prometheus-client's multiprocess clean-up of its files."""
    metrics.mark_process_dead(worker.pid)


SERVER_HOOKS: dict[str, Callable[..., None]] = {"child_exit": child_exit}


class PassbackSupervisor:
    """Runs one ``lti-tool worker`` process beside the web server and restarts it if it exits."""

    def __init__(self, command: list[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "lti_tool.cli", "worker"]
        self.environ = dict(environ if environ is not None else os.environ)
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="passback-supervisor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._process = subprocess.Popen(self.command, env=self.environ)  # noqa: S603 (our own executable)
            log.info("passback worker started (pid %s)", self._process.pid)
            code = self._process.wait()
            if not self._stop.is_set():
                log.error("passback worker exited with %s; starting it again in %.0f s", code, WORKER_RESTART_SECONDS)
                self._stop.wait(WORKER_RESTART_SECONDS)

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the worker to finish its round (SIGTERM) and wait for it."""
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        if self._thread is not None:
            self._thread.join(timeout)


class ToolServer(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn run from Python (no config file, no command line of its own)."""

    def __init__(self, app_factory: Callable[[], Flask], options: Mapping[str, Any]) -> None:
        self._app_factory = app_factory
        self._options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            if value is not None and name in self.cfg.settings:  # older gunicorn releases lack some settings
                self.cfg.set(name, value)

    def load(self) -> Flask:
        return self._app_factory()


def serve(app_factory: Callable[[], Flask], options: ServeOptions, on_ready: Callable[[], None] | None = None) -> None:
    """Run gunicorn (and the passback worker) until SIGINT/SIGTERM."""
    config = gunicorn_options(options)
    # Before the web workers fork and the passback worker starts: they all inherit the metrics folder.
    metrics_folder, master_pid = metrics.prepare_multiprocess(), os.getpid()
    supervisor = PassbackSupervisor() if options.passback_worker else None

    def when_ready(_server: Any) -> None:
        if supervisor is not None:
            supervisor.start()
        if on_ready is not None:
            on_ready()

    def on_exit(_server: Any) -> None:
        if supervisor is not None:
            supervisor.stop()

    config.update(when_ready=when_ready, on_exit=on_exit)
    try:
        ToolServer(app_factory, config).run()
    finally:
        if os.getpid() == master_pid:  # a forked web worker leaves through here too: only the master cleans up
            metrics.remove_multiprocess_folder(metrics_folder)
