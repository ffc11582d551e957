"""The application factory."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import Response
from flask import render_template
from flask import request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_tool import locales
from lti_tool.activities import LaunchExpired
from lti_tool.activities import NotAllowed
from lti_tool.config import Settings
from lti_tool.config import load_settings
from lti_tool.config import startup_warnings
from lti_tool.http import quiet_url_logging
from lti_tool.inputs import FORM_MIMETYPES
from lti_tool.inputs import BoundedIntConverter
from lti_tool.inputs import InputError
from lti_tool.inputs import request_problem
from lti_tool.operations import probes
from lti_tool.paths import resource_dir
from lti_tool.services import Services
from lti_tool.telemetry import logs
from lti_tool.telemetry.logs import loggable_path
from lti_tool.translatable import N_
from lti_tool.translatable import gettext

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024


def create_app(config: Settings | Mapping[str, Any] | None = None, services: Services | None = None) -> Flask:
    """Build the tool. ``config`` is a :class:`Settings`, a mapping of setting overrides (tests), or ``None``
    to read ``LTI_TOOL_*`` variables.

    :raise lti_tool.config.ConfigError: the configuration is unsafe or invalid.
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    services = services or Services.from_settings(settings)
    app = Flask("lti_tool", template_folder=resource_dir("templates"), static_folder=resource_dir("static"))
    # TESTING stays off even under tests: they must see the error pages users see, not propagated exceptions.
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    app.session_interface = _SessionCookies()
    if settings.proxy_count > 0:
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    _configure_logging(settings)
    app.extensions["lti_tool.services"] = services
    services.database.init_app(app)
    locales.init_app(app)  # the page's language: the launch's locale, else the browser's

    from lti_tool.admin import privacy_views  # noqa: F401  (adds the privacy routes to the admin blueprint)
    from lti_tool.admin import views as admin_views
    from lti_tool.callbacks import views as callback_views
    from lti_tool.launch import registration_views
    from lti_tool.launch import views as launch_views
    from lti_tool.learner import views as learner_views
    from lti_tool.teacher import picker_views
    from lti_tool.teacher import reset_views  # noqa: F401  (adds the attempt reset to the teacher blueprint)
    from lti_tool.teacher import views as teacher_views

    for blueprint in (launch_views.bp, registration_views.bp, learner_views.bp, picker_views.bp, callback_views.bp,
                      teacher_views.bp, admin_views.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(NotAllowed, _not_allowed)
    app.register_error_handler(LaunchExpired, _launch_expired)
    app.register_error_handler(InputError, _input_refused)
    app.register_error_handler(UnicodeError, _undecodable_input)
    app.register_error_handler(ValueError, _value_error)
    logs.init_app(app)  # first: every later line of the request carries its id
    app.before_request(_refuse_unsafe_input)
    app.after_request(_security_headers)

    @app.get("/")
    def index() -> str:
        return render_template("index.html", settings=settings)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    probes.init_app(app, services, settings)
    return app


class _SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie (the admin pages' login), with its serializer built once: Flask builds it
    again on every request, launches and callbacks included, though the app's secret key never changes."""

    def __init__(self) -> None:
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer


def _configure_logging(settings: Settings) -> None:
    logging.getLogger("lti_tool").setLevel(settings.log_level.upper())
    quiet_url_logging()
    logs.install(settings.log_format)
    for warning in startup_warnings(settings):
        log.warning("%s", warning)


# The error page's heading (Werkzeug's name of the status) and sentence for the statuses the tool answers, in the
# reader's language; an error raised with its own description keeps it. The JSON answer stays English.
_HTTP_WORDS = {
    400: (N_("Bad Request"), N_("The tool could not understand this request.")),
    401: (N_("Unauthorized"), N_("This page needs you to sign in or to open the activity from your course.")),
    403: (N_("Forbidden"), N_("You may not open this page.")),
    404: (N_("Not Found"), N_("There is no such page here. Check the address, or open the activity again from your "
                              "course.")),
    405: (N_("Method Not Allowed"), N_("This page cannot be used that way.")),
    413: (N_("Request Entity Too Large"), N_("The request is larger than the tool accepts.")),
    429: (N_("Too Many Requests"), N_("Too many requests in a short time: wait a moment and try again.")),
    500: (N_("Internal Server Error"), N_("The tool failed on this request. The administrator can find why in the "
                                          "log.")),
    502: (N_("Bad Gateway"), N_("A service the tool relies on did not answer properly. Please try again later.")),
    503: (N_("Service Unavailable"), N_("The tool is busy or under maintenance. Please try again later.")),
}
UNDECODABLE = N_("The request holds text that cannot be decoded.")
UNPARSEABLE = N_("The request holds a value that cannot be parsed (such as a malformed URL).")
# Descriptions given in English where the error is raised and translated on the page.
_MARKED_DESCRIPTIONS = frozenset({UNDECODABLE, UNPARSEABLE})


def _error_page_words(error: HTTPException, status: int) -> tuple[str, str]:
    """The heading and the sentence of the error page."""
    title, sentence = _HTTP_WORDS.get(status, (None, None))
    description = error.description or ""
    if description in _MARKED_DESCRIPTIONS:
        description = gettext(description)
    elif sentence is not None and description == type(error).description:
        description = gettext(sentence)
    return (gettext(title) if title is not None else error.name), description or error.name


def _http_error(error: HTTPException) -> tuple[Response | str | dict[str, str], int]:
    status = error.code or 500
    if status >= 500:
        log.error("%s %s failed: %s", request.method, loggable_path(), error,
                  exc_info=getattr(error, "original_exception", None))
    else:
        log.info("%s %s: %s %s", request.method, loggable_path(), status, error.description)
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return {"error": error.name, "message": error.description or error.name}, status
    title, message = _error_page_words(error, status)
    return render_template("error.html", status=status, title=title, message=message), status


def _not_allowed(error: NotAllowed) -> tuple[str, int]:
    log.warning("%s %s refused (403): %s", request.method, loggable_path(), error.reason)
    return render_template("error.html", status=403, title=gettext("Not allowed"), message=error.shown()), 403


def _launch_expired(_error: LaunchExpired) -> tuple[str, int]:
    log.info("%s %s: expired or unknown launch handle", request.method, loggable_path())
    return render_template("error.html", status=401, title=gettext("Please open the activity again"),
                           message=gettext("This page's session has expired. Open the activity again from your "
                                           "course.")), 401


def _refuse_unsafe_input() -> None:
    """Refuse control characters in the path, query, form and headers before any view sees them."""
    request.get_data(cache=True)  # keep the raw body: callbacks read its exact bytes after the form is parsed
    # request.values on any other body would only run werkzeug's form parser to find nothing (a JSON callback).
    values = request.values if request.mimetype in FORM_MIMETYPES else request.args
    problem = request_problem(request.path, values, request.headers)
    if problem is not None:
        raise InputError(problem)


def _input_refused(error: InputError) -> tuple[Response | str | dict[str, str], int]:
    return _http_error(BadRequest(error.message))


def _undecodable_input(error: UnicodeError) -> tuple[Response | str | dict[str, str], int]:
    # A safety net, not the check: values are validated explicitly first; the trace goes to the log for a fix.
    log.warning("%s %s: undecodable input", request.method, loggable_path(), exc_info=error)
    return _http_error(BadRequest(UNDECODABLE))


# Parsers whose ValueError means "this input cannot be parsed" (a malformed URL, JSON, form or header).
_PARSER_FILES = ("/urllib/parse.py", "/json/decoder.py", "/json/__init__.py", "/ipaddress.py", "/email/utils.py")


def _value_error(error: ValueError) -> tuple[Response | str | dict[str, str], int]:
    """A ValueError raised inside a parser fed with request input is a 400; any other is a bug: a 500 with
    its trace in the log, never hidden."""
    frames = traceback.extract_tb(error.__traceback__)
    innermost = frames[-1].filename.replace("\\", "/") if frames else ""
    if innermost.endswith(_PARSER_FILES) or "/werkzeug/" in innermost:
        log.warning("%s %s: unparseable input (%s)", request.method, loggable_path(), error, exc_info=error)
        return _http_error(BadRequest(UNPARSEABLE))
    log.error("%s %s failed", request.method, loggable_path(), exc_info=error)
    title, message = _HTTP_WORDS[500]
    return render_template("error.html", status=500, title=gettext(title), message=gettext(message)), 500


def _security_headers(response: Response) -> Response:
    # No X-Frame-Options and no Permissions-Policy: the tool lives in LMS iframes and must be able to delegate
    # the microphone and camera to the speaking-test provider.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response
