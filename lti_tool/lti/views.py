"""The LTI surface: OIDC login, launch, and the tool's JWKS. Routes parse, call one service, render."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import jwt
from flask import Response
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from werkzeug.wrappers import Response as WerkzeugResponse

from lti_tool.db import get_session
from lti_tool.keys import published_jwks
from lti_tool.lti.blueprint import LAUNCH_PATH
from lti_tool.lti.blueprint import LOGIN_PATH
from lti_tool.lti.blueprint import bp
from lti_tool.lti.claims import Claim
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.landing import render_landing
from lti_tool.lti.launch import LaunchInput
from lti_tool.lti.launch import validate_launch
from lti_tool.lti.login import start_login
from lti_tool.lti.sync import record_launch
from lti_tool.operations.metrics import count_launch
from lti_tool.services import get_services

log = logging.getLogger(__name__)


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/login/<registration_uuid>", methods=["GET", "POST"])
def login(registration_uuid: str | None = None) -> WerkzeugResponse:
    services = get_services()
    login_redirect = start_login(get_session(), services.directory, services.login_states, request.values.to_dict(),
                                 services.settings.url(LAUNCH_PATH), registration_uuid)
    response = redirect(login_redirect.url, code=302)
    https = services.settings.is_https
    # Inside an LMS iframe the tool is a third party: over HTTPS the cookie must be SameSite=None and
    # Partitioned (CHIPS) to survive Chrome's third-party-cookie rules.
    state = login_redirect.state
    response.set_cookie(state.cookie_name, state.login_id, max_age=login_redirect.ttl_seconds,
                        secure=https, httponly=True, samesite="None" if https else "Lax", partitioned=https,
                        path=urlsplit(services.settings.url(LAUNCH_PATH)).path)
    return response


@bp.post("/launch")
def launch() -> str | tuple[str, int]:
    services = get_services()
    launch_input = LaunchInput(id_token=request.form.get("id_token", ""), state=request.form.get("state", ""),
                               cookies=request.cookies)
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
    if request.endpoint == "lti.launch":
        count_launch(False, error.status)
    context = _unverified_context()
    log.warning("LTI %s refused (%s): %s [issuer=%s client_id=%s deployment_id=%s]", request.path, error.status,
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
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return context
        aud = claims.get("aud")
        context.update(iss=claims.get("iss"), client_id=aud[0] if isinstance(aud, list) and aud else aud,
                       deployment_id=claims.get(Claim.DEPLOYMENT_ID))
    return context
