"""Run any WSGI app on 127.0.0.1 in a background thread, for tests, the benchmark and the demo.

The port is bound in the constructor, so ``.url`` is known before the app exists. That solves the
chicken-and-egg of a tool and a platform that must each know the other's URL:

    platform_server, tool_server = LiveServer(), LiveServer()
    platform = PlatformEmulator(issuer=platform_server.url, base_url=platform_server.url)
    tool_app = make_tool_app(platform_url=platform_server.url, base_url=tool_server.url)
    with platform_server.start(create_platform_app(platform)), tool_server.start(tool_app):
        ...

Requests that arrive before an app is mounted get 503.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any

from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment


POLL_INTERVAL_SECONDS = 0.05


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Per-request access logs would drown test output."""


class _SwappableApp:
    """WSGI indirection so the socket can be bound (and its URL known) before the app is built."""

    def __init__(self, app: WSGIApplication | None) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no application mounted yet"]
        return self.app(environ, start_response)


class LiveServer:
    """A threaded werkzeug server on 127.0.0.1; port 0 picks a free port. Use as a context manager."""

    def __init__(self, app: WSGIApplication | None = None, port: int = 0, host: str = "127.0.0.1",
                 quiet: bool = True) -> None:
        self._dispatch = _SwappableApp(app)
        handler = _QuietRequestHandler if quiet else WSGIRequestHandler
        self._server: BaseWSGIServer = make_server(host, port, self._dispatch, threaded=True,
                                                   request_handler=handler)
        self.host = host
        self.port: int = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self, app: WSGIApplication | None = None) -> LiveServer:
        """Mount app (if given) and start serving; returns self so `with server.start(app):` works."""
        if app is not None:
            self._dispatch.app = app
        if self._thread is None:
            # A short poll interval keeps shutdown() (and so every test teardown) fast.
            self._thread = threading.Thread(target=self._server.serve_forever, args=(POLL_INTERVAL_SECONDS,),
                                            name=f"live-server-{self.port}", daemon=True)
            self._thread.start()
        return self

    def set_app(self, app: WSGIApplication) -> None:
        self._dispatch.app = app

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
