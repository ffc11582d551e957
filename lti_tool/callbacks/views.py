"""The provider-callback surface. Answers fast (2xx once stored); the gradebook work happens in the worker."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import abort
from flask import jsonify
from flask import request
from werkzeug.wrappers import Response

from lti_tool.callbacks.service import handle_callback
from lti_tool.db import get_session
from lti_tool.inputs import FORM_MIMETYPES
from lti_tool.providers.interfaces import CallbackError
from lti_tool.providers.interfaces import CallbackRequest
from lti_tool.services import get_services
from lti_tool.telemetry.metrics import count_callback

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

MAX_BODY_BYTES = 256 * 1024


@bp.post("/<provider_name>")
def provider_callback(provider_name: str) -> tuple[Response, int]:
    services = get_services()
    provider = services.providers.get(provider_name)
    if provider is None:
        abort(404)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _refused(provider_name, CallbackError(413, "The callback body is too large."))
    body = request.get_data(cache=True)  # read as bytes whatever the Content-Type says
    callback = CallbackRequest(query=request.args.to_dict(), headers=dict(request.headers), body=body,
                               form=request.form.to_dict() if request.mimetype in FORM_MIMETYPES else {})
    session = get_session()
    try:
        recorded = handle_callback(session, provider, services.callback_configs, callback,
                                   services.settings.url("/teacher/results"))
    except CallbackError as error:
        session.rollback()
        return _refused(provider_name, error)
    session.commit()
    if recorded.submission_id is not None:
        services.wake_passback()
    status = "accepted" if recorded.is_new else "duplicate"
    count_callback(provider_name, status, 200)
    log.info("%s callback %s (result %s)", provider_name, status, recorded.result_id)
    return jsonify({"status": status}), 200


def _refused(provider_name: str, error: CallbackError) -> tuple[Response, int]:
    count_callback(provider_name, "refused", error.status)
    # Log the reason, never the body: it carries the provider's key.
    log.warning("%s callback refused (%s): %s [from %s]", provider_name, error.status, error.message,
                request.remote_addr)
    return jsonify({"error": error.message}), error.status
