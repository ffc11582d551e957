"""Login, launch and the tool's JWKS: the routes a platform and a launching browser meet."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from joserfc import jws
from joserfc.errors import JoseError
from werkzeug.wrappers import Response as WerkzeugResponse

from lti_tool.db import get_session
from lti_tool.keys import published_jwks
from lti_tool.launch.landing import render_landing
from lti_tool.launch.recording import record_launch
from lti_tool.lti.claims import Claim
from lti_tool.lti.endpoints import LAUNCH_PATH
from lti_tool.lti.endpoints import LOGIN_PATH
from lti_tool.lti.endpoints import LTI_PREFIX
from lti_tool.lti.errors import OPEN_AGAIN
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.launch import LaunchInput
from lti_tool.lti.launch import StateCookieMissing
from lti_tool.lti.launch import validate_launch
from lti_tool.lti.login import origin_of
from lti_tool.lti.login import start_login
from lti_tool.lti.login_state import STATE_COOKIE_PREFIX
from lti_tool.services import get_services
from lti_tool.telemetry.logs import loggable_path
from lti_tool.telemetry.metrics import count_launch
from lti_tool.translatable import N_

bp = Blueprint("lti", __name__, url_prefix=LTI_PREFIX)

log = logging.getLogger(__name__)


# Only our own scripts, on the pages that carry a login's state: nothing injected could read or post it.
SCRIPT_PAGE_CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/login/<registration_uuid>", methods=["GET", "POST"])
def login(registration_uuid: str | None = None) -> WerkzeugResponse:
    """Start the login. Top level (or a client that does not say): straight to the platform. Inside a frame, or
    when the platform offers storage: a page that stores the state in the platform and checks the cookie first, so
    that when neither can bind the launch the student opens a new window before the platform's single-use
    ``lti_message_hint`` is spent."""
    services = get_services()
    login_redirect = start_login(get_session(), services.directory, services.login_states, request.values.to_dict(),
                                 services.settings.url(LAUNCH_PATH), registration_uuid)
    framed = request.headers.get("Sec-Fetch-Dest") in ("iframe", "frame")
    if framed or login_redirect.state.storage_target:
        page = render_template("lti/login_frame.html", login=login_redirect,
                               cookie_check_url=services.settings.url(f"{LAUNCH_PATH}/cookie/"
                                                                      f"{login_redirect.state.login_id}"),
                               new_window_url=services.settings.url(request.path) + "?"
                               + login_redirect.restart_query)
        response: WerkzeugResponse = _script_page(page)
    else:
        response = redirect(login_redirect.url, code=302)
    https = services.settings.is_https
    # Inside an LMS iframe the tool is a third party: over HTTPS the cookie must be SameSite=None and
    # Partitioned (CHIPS) to survive Chrome's third-party-cookie rules.
    state = login_redirect.state
    response.set_cookie(state.cookie_name, state.login_id, max_age=login_redirect.ttl_seconds,
                        secure=https, httponly=True, samesite="None" if https else "Lax", partitioned=https,
                        path=urlsplit(services.settings.url(LAUNCH_PATH)).path)
    return response


@bp.get("/launch/cookie/<login_id>")
def cookie_check(login_id: str) -> Response:
    """Whether this browser sends the login's state cookie back from inside the frame (the login page asks)."""
    name = STATE_COOKIE_PREFIX + login_id
    response = jsonify({"cookie": request.cookies.get(name) == login_id})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/launch")
def launch() -> str | tuple[str, int] | Response:
    services = get_services()
    launch_input = LaunchInput(id_token=request.form.get("id_token", ""), state=request.form.get("state", ""),
                               cookies=request.cookies, platform_error=_platform_error())
    try:
        return _complete_launch(launch_input)
    except StateCookieMissing as missing:
        login_state = missing.login_state
        if login_state.storage_target is None:
            if _resubmit_may_bring_the_cookie():
                # Top level, but the platform's form posted cross-site: a SameSite=Lax cookie (plain http) is not
                # sent with that POST. Posted again from the tool's own page, it is; the cookie still decides.
                return _script_page(render_template("lti/launch_resubmit.html", launch=launch_input))
            raise
        # The login stored its state in the platform: this page reads it back and posts it to /launch/storage.
        registration = services.directory.registration_by_id(get_session(), login_state.registration_id)
        restart = urlencode(dict(login_state.login_params))
        page = render_template("lti/launch_storage.html", login_state=login_state, launch=launch_input,
                               platform_origin=origin_of(registration.auth_login_url),
                               new_window_url=(services.settings.url(LOGIN_PATH) + "?" + restart) if restart else None)
        return _script_page(page)


def _platform_error() -> str | None:
    """The LMS's OIDC error answer, in words for the student (bounded: it is the LMS's text, shown and logged)."""
    code = request.form.get("error", "").strip()
    if not code:
        return None
    description = request.form.get("error_description", "").strip()
    return (f"{description} ({code})" if description else code)[:300]


def _resubmit_may_bring_the_cookie() -> bool:
    return (request.headers.get("Sec-Fetch-Dest") == "document"
            and request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site")
            and not request.form.get("resubmitted"))


def _script_page(page: str) -> Response:
    """A page whose script carries a login's state: only our own scripts may run on it, and no cache keeps it."""
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = SCRIPT_PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/launch/storage")
def launch_from_storage() -> str | tuple[str, int]:
    """The launch page's second step: the state and nonce it read back from platform storage.

    Only a page of the tool's own origin may post here: what it read can only be trusted because the tool's script
    read it from the platform's frame (origin-checked), so a cross-site form posting invented values is refused.
    """
    if not _same_origin_request():
        raise LaunchError(403, N_("This launch step must come from the tool's own launch page. Open the activity "
                                  "again from the course page."), title=OPEN_AGAIN)
    launch_input = LaunchInput(id_token=request.form.get("id_token", ""), state=request.form.get("state", ""),
                               cookies=request.cookies, stored_state=request.form.get("stored_state", ""),
                               stored_nonce=request.form.get("stored_nonce", ""))
    return _complete_launch(launch_input)


def _same_origin_request() -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    return request.headers.get("Origin") == origin_of(get_services().settings.base_url)


def _complete_launch(launch_input: LaunchInput) -> str | tuple[str, int]:
    services = get_services()
    session = get_session()
    validated = validate_launch(session, services.directory, services.login_states, launch_input,
                                services.platform_keys, services.settings.jwt_leeway_seconds)
    recorded = record_launch(session, services.directory, validated, services.settings.auto_approve_deployments,
                             services.settings.launch_ttl_seconds)
    session.commit()
    page = render_landing(recorded)
    count_launch(True, page[1] if isinstance(page, tuple) else 200)
    return page


@bp.get("/jwks")
def jwks() -> Response:
    response = jsonify(published_jwks(get_session()))
    # Platforms cache our keys; a short max-age lets a rotation propagate within minutes.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.errorhandler(LaunchError)
def launch_error(error: LaunchError) -> tuple[str, int]:
    get_session().rollback()
    if request.endpoint in ("lti.launch", "lti.launch_from_storage"):
        count_launch(False, error.status)
    context = _unverified_context()
    log.warning("LTI %s refused (%s): %s [issuer=%s client_id=%s deployment_id=%s]", loggable_path(), error.status,
                error.reason, context.get("iss"), context.get("client_id"), context.get("deployment_id"))
    retry_url = get_services().settings.url(LOGIN_PATH) + "?" + error.retry_query if error.retry_query else None
    return render_template("lti/error.html", error=error, retry_url=retry_url), error.status


def _unverified_context() -> dict[str, Any]:
    """Who was launching, for the log line only: read from the request without trusting it."""
    context: dict[str, Any] = {"iss": request.values.get("iss"), "client_id": request.values.get("client_id"),
                               "deployment_id": request.values.get("lti_deployment_id")}
    token = request.form.get("id_token")
    if token:
        try:
            claims = json.loads(jws.extract_compact(token.encode()).payload)
        except (JoseError, ValueError):
            return context
        if not isinstance(claims, dict):
            return context
        aud = claims.get("aud")
        context.update(iss=claims.get("iss"), client_id=aud[0] if isinstance(aud, list) and aud else aud,
                       deployment_id=claims.get(Claim.DEPLOYMENT_ID))
    return context
