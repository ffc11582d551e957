"""Flask blueprint exposing the emulated LMS over HTTP (browser-facing pages and, via service_views, APIs)."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import redirect
from flask import request

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform import pages
from lti_tool.sandbox.platform.emulator import PlatformEmulator
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import TokenRequest
from lti_tool.sandbox.platform.service_views import json_response
from lti_tool.sandbox.platform.service_views import register_service_routes

SERVICE_PATH_MARKERS = ("/token", "/contexts/")


def error_response(error: PlatformError) -> Response:
    if error.kind == "canvas":  # Canvas's render_error: {"errors": {"type": …, "message": …}}
        errors = {"errors": {"type": error.error or "bad_request", "message": error.description}}
        return Response(json.dumps(errors), status=error.status, mimetype="application/json")
    if error.kind == "empty":
        return Response(status=error.status)
    if error.kind == "json":
        body = {"error": error.error or "invalid_request", "error_description": error.description}
        return Response(json.dumps(body), status=error.status, mimetype="application/json")
    return Response(error.description, status=error.status, mimetype="text/plain")


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def create_platform_blueprint(emulator: PlatformEmulator) -> Blueprint:
    blueprint = Blueprint("lti_platform", __name__)
    def refuse(error: PlatformError) -> Response:
        emulator.log(f"{request.method} {request.path} -> {error.status}: {error.description}")
        return error_response(error)

    blueprint.register_error_handler(PlatformError, refuse)
    blueprint.before_request(lambda: _injected_fault(emulator))

    @blueprint.get("/")
    def index() -> Response:
        with emulator.lock:
            tools = [(tool.client_id, tool.name) for tool in emulator.tools.values()]
            contexts = [(context.id, context.title) for context in emulator.contexts.values()]
        return _html(pages.index_page(tools, contexts))

    @blueprint.get("/.well-known/openid-configuration")
    def openid_configuration() -> Response:
        if emulator.flavor == "canvas" and not request.args.get("registration_token"):
            # Canvas's security_controller.rb reads the token from the query string, whatever the headers say.
            raise PlatformError(401, "Access token missing (You must include the registration_token parameter).",
                                "unauthorized", kind="json")
        return json_response(emulator.openid_configuration())

    def jwks() -> Response:
        response = json_response(emulator.public_jwks())
        response.headers["Cache-Control"] = "max-age=300"
        return response

    blueprint.add_url_rule(urlsplit(emulator.jwks_url).path, "jwks", jwks, methods=["GET"])

    @blueprint.get("/launch")
    def launch() -> Response:
        args = request.args
        url = emulator.begin_launch(
            client_id=args.get("client_id", ""), sub=args.get("user", ""), context_id=args.get("context", ""),
            resource_link_id=args.get("resource_link") or None,
            message_type=args.get("message_type", c.MSG_RESOURCE_LINK),
            deployment_id=args.get("deployment_id") or None,
            with_lineitem=args.get("with_lineitem", "").lower() in ("1", "true", "yes"))
        return redirect(url, code=302)  # type: ignore[return-value]

    def auth() -> Response:
        params = request.form if request.method == "POST" else request.args
        return _html(pages.autosubmit_form(emulator.launch_service.authorize(params)))

    blueprint.add_url_rule(urlsplit(emulator.auth_url).path, "auth", auth, methods=["GET", "POST"])

    @blueprint.get("/post_message_forwarding")
    def post_message_forwarding() -> Response:
        if not emulator.platform_storage:
            raise PlatformError(404, "this LMS offers no platform storage")
        return _html(pages.storage_frame(emulator.tool_origins()))

    @blueprint.get("/return")
    def launch_return() -> Response:
        return _html(pages.return_page(request.args.get("context", "")))

    @blueprint.post("/deep_link_return")
    def deep_link_return() -> Response:
        result = emulator.deep_linking.handle_return(request.form.get("JWT"), request.args.get("launch"))
        return _html(pages.deep_link_summary(result))

    @blueprint.post("/register")
    def register() -> Response:
        answer = emulator.registration.register(request.headers.get("Authorization"), request.mimetype,
                                                request.get_data(as_text=True))
        return json_response(answer)

    register_service_routes(blueprint, emulator)
    return blueprint


def _injected_fault(emulator: PlatformEmulator) -> Response | None:
    """Failure injection and slowness, applied before any handler runs."""
    path = request.path
    is_service = any(marker in path for marker in SERVICE_PATH_MARKERS)
    if emulator.flavor == "canvas" and is_service and not request.headers.get("User-Agent"):
        # Canvas refuses API requests without a User-Agent (enforced in production since January 2026).
        emulator.log(f"{request.method} {path} -> 403: no User-Agent")
        return Response("403 Forbidden (User-Agent header is required)\n", status=403, mimetype="text/plain")
    failure = emulator.take_injected_failure(path)
    status, body = (failure.status, failure.body) if failure else (503, "service unavailable")
    if failure is None and not (emulator.down and is_service):
        if is_service and emulator.delay_seconds > 0:
            time.sleep(emulator.delay_seconds)
        return None
    if path.endswith("/token"):
        emulator.record_token_request(TokenRequest(None, request.form.get("scope", "").split(), [], status))
    response = Response(body, status=status, mimetype="text/plain")
    if failure is None:  # the outage switch: as a load balancer in front of a down LMS answers
        with emulator.lock:
            emulator.requests_while_down += 1
        if emulator.down_retry_after is not None:
            response.headers["Retry-After"] = str(emulator.down_retry_after)
        response.headers["Connection"] = "close"
    return response


def create_platform_app(emulator: PlatformEmulator) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(create_platform_blueprint(emulator))
    return app
