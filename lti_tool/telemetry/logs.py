"""Log lines an operator can ship: text or one JSON object per line, each line of a request with its request id,
and paths written so that no launch handle or invitation token reaches the log.

The request id is the caller's ``X-Request-Id`` when it looks like one (a proxy's or load balancer's, so lines
can be matched across them), else a new one; it is returned in the response's ``X-Request-Id``.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import IO
from typing import Any

from flask import Flask
from flask import Response
from flask import g
from flask import has_request_context
from flask import request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{8,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
# Path arguments that may be logged as they are; any other (launch handles, invitation tokens, public ids)
# is written as its name, e.g. /lti/attempt/<launch_id>.
LOGGABLE_ARGUMENTS = frozenset({"provider_name", "action", "registration_uuid"})

access_log = logging.getLogger("lti_tool.access")
# Scraped every few seconds: their access lines are DEBUG, so they do not drown the others.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestIdFilter(logging.Filter):
    """Gives every record a ``request_id``: the current request's, or None outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


class TextFormatter(logging.Formatter):
    """The classic line, with ``[request <id>]`` at the end of the lines written while serving a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    return TextFormatter()


class ToolLogHandler(logging.StreamHandler[IO[str]]):
    """The tool's one handler on the root logger (standard error), in the format of ``LTI_TOOL_LOG_FORMAT``."""

    def __init__(self, log_format: str = "text", stream: IO[str] | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.addFilter(RequestIdFilter())
        self.setFormatter(make_formatter(log_format))


def install(log_format: str) -> None:
    """Log through :class:`ToolLogHandler` in ``log_format``: switch the one installed, or install it when nothing
    else configured logging (an application embedding the tool keeps its own handlers)."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if isinstance(handler, ToolLogHandler)]
    for handler in ours:
        handler.setFormatter(make_formatter(log_format))
    if not root.handlers:
        root.addHandler(ToolLogHandler(log_format))


def gunicorn_logconfig(log_format: str) -> dict[str, Any] | None:
    """gunicorn's own lines (the master's, its workers' start and exit) in JSON too; None: gunicorn's default."""
    if log_format != "json":
        return None
    return {
        "root": {"level": "INFO", "handlers": ["tool"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True, "qualname": "gunicorn.error"},
            # The tool writes its own access line (lti_tool.access), without query strings or launch handles.
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False,
                                "qualname": "gunicorn.access"},
        },
        "handlers": {"tool": {"()": ToolLogHandler, "log_format": "json"}},
    }


def loggable_path() -> str:
    """The request's path without secrets: the route with only harmless arguments filled in, no query string.

    A path no route matched is cut after two segments (it may be a launch handle URL with a typo).
    """
    rule = request.url_rule
    if rule is None:
        segments = request.path.split("/")
        return "/".join(segments[:3]) + ("/…" if len(segments) > 3 else "")
    arguments = request.view_args or {}

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        value = arguments.get(name)
        if name in LOGGABLE_ARGUMENTS or isinstance(value, int):
            return str(value)
        return f"<{name}>"

    return re.sub(r"<(?:[^:<>]+:)?(?P<name>[^<>]+)>", fill, rule.rule)


def init_app(app: Flask) -> None:
    """Request ids in and out, and one access line per request (``lti_tool.access``)."""
    app.before_request(_take_request_id)
    app.after_request(_finish_request)


def _take_request_id() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    path = loggable_path()
    access_log.log(logging.DEBUG if request.path in PROBE_PATHS else logging.INFO, "%s %s %s %.1f ms",
                   request.method, path, response.status_code, elapsed_ms,
                   extra={"method": request.method, "path": path, "status": response.status_code,
                          "duration_ms": round(elapsed_ms, 1), "remote_addr": request.remote_addr})
    return response
