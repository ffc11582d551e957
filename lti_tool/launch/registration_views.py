"""Registration surface: LTI Dynamic Registration, Canvas developer-key JSON, Moodle manual values."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request

from lti_tool.db import get_session
from lti_tool.lti.registration import RegistrationError
from lti_tool.lti.registration import ToolUrls
from lti_tool.lti.registration import canvas_developer_key
from lti_tool.lti.registration import dynamic_registration
from lti_tool.lti.registration import moodle_manual_values
from lti_tool.services import get_services

log = logging.getLogger(__name__)
bp = Blueprint("lti_registration", __name__, url_prefix="/lti")


@bp.get("/register")
def register() -> str | tuple[str, int]:
    """Dynamic registration without an invitation: the platform is recorded, pending the tool admin's approval."""
    return _register(invitation_token=None)


@bp.get("/register/invitation/<token>")
def register_by_invitation(token: str) -> str | tuple[str, int]:
    """Dynamic registration through a tool admin's invitation: active at once."""
    return _register(invitation_token=token)


def _register(invitation_token: str | None) -> str | tuple[str, int]:
    services = get_services()
    urls = ToolUrls.from_settings(services.settings)
    openid_configuration = request.args.get("openid_configuration")
    if not openid_configuration:
        return render_template("lti/register_info.html", urls=urls, invited=invitation_token is not None)
    session = get_session()
    try:
        registration, deployments = dynamic_registration(
            session, services.http, services.fence, urls, openid_configuration,
            request.args.get("registration_token"), auto_approve=services.settings.auto_approve_deployments,
            invitation_token=invitation_token)
    except RegistrationError as error:
        session.rollback()
        log.warning("dynamic registration failed (HTTP %s): %s", error.status, error.reason)
        return render_template("lti/register_failed.html", reason=error.shown()), error.status
    session.commit()
    services.configuration_changed()
    return render_template("lti/registered.html", registration=registration, deployments=deployments,
                           approved=registration.is_active)


@bp.get("/config/canvas.json")
def canvas_config() -> Response:
    return jsonify(canvas_developer_key(ToolUrls.from_settings(get_services().settings)))


@bp.get("/config/moodle")
def moodle_config() -> str:
    urls = ToolUrls.from_settings(get_services().settings)
    return render_template("lti/moodle_config.html", values=moodle_manual_values(urls), urls=urls)
