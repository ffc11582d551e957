"""Flask blueprint exposing the emulated Speechace over HTTP: oEmbed, the embedded test, reports."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import request

from lti_tool.sandbox.speechace import pages
from lti_tool.sandbox.speechace.emulator import SpeechaceEmulator
from lti_tool.sandbox.speechace.models import OembedRequest
from lti_tool.sandbox.speechace.models import SpeechaceError
from lti_tool.sandbox.speechace.reports import report_json

# A body cut off mid-way: what a proxy or a crashing upstream hands back as "JSON".
TRUNCATED_JSON = '{"version": "1.0", "type": "rich", "html": "<iframe src='


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def _json(body: Any, status: int = 200) -> Response:
    # json.dumps rather than jsonify: Flask sorts keys, Speechace does not.
    return Response(json.dumps(body), status=status, mimetype="application/json")


def create_speechace_blueprint(emulator: SpeechaceEmulator) -> Blueprint:
    blueprint = Blueprint("speechace", __name__)

    def refuse(error: SpeechaceError) -> Response:
        emulator.log(f"{request.method} {request.path} -> {error.status}: {error.description}")
        return _text(error.description, error.status)

    blueprint.register_error_handler(SpeechaceError, refuse)

    @blueprint.get("/")
    def index() -> Response:
        with emulator.lock:
            assessments = list(emulator.assessments.values())
        return _html(pages.index_page(assessments))

    @blueprint.get("/embed/oembed")
    def oembed() -> Response:
        record = emulator.record_oembed_request(request.args.to_dict(), request.headers.get("User-Agent", ""))
        try:
            response = _answer_oembed(emulator, record)
        except SpeechaceError as error:
            response = refuse(error)
        record.status = response.status_code
        return response

    @blueprint.get("/embed/session/<token>")
    def test_page(token: str) -> Response:
        session = emulator.session(token)
        complete_url = emulator.url(f"/embed/session/{token}/complete")
        return _html(pages.session_page(session, complete_url, emulator.post_message_on_load))

    @blueprint.post("/embed/session/<token>/complete")
    def complete(token: str) -> Response:
        emulator.session(token)  # 404 before looking at the body
        as_json = request.mimetype == "application/json"
        scores = request.get_json(silent=True) if as_json else request.form.to_dict()
        if not isinstance(scores, dict):
            raise SpeechaceError(400, "scores must be a JSON object")
        try:
            result = emulator.complete(token, scores)
        except ValueError as exc:
            raise SpeechaceError(400, str(exc)) from exc
        report_url = emulator.report_url(result.report_id or "")
        if not as_json:
            return _html(pages.done_page(report_url))
        return _json({"completed": True, "reportUrl": report_url, "callbackStatus": result.status})

    @blueprint.get("/placement/report/<report_id>/")
    def report_page(report_id: str) -> Response:
        _report_delay(emulator)
        completion = emulator.completion(report_id)
        return _html(pages.report_page(completion, emulator.session(completion.session_token)))

    @blueprint.get("/placement/api/report/<report_id>/")
    def report_api(report_id: str) -> Response:
        _report_delay(emulator)
        return _json(report_json(emulator.completion(report_id), emulator.report_padding_bytes))

    return blueprint


def _answer_oembed(emulator: SpeechaceEmulator, record: OembedRequest) -> Response:
    """500, 404 and invalid_json answer whatever was asked; timeout delays, no_html strips the normal answer."""
    fault = record.fault = emulator.take_oembed_fault()
    if fault in ("500", "404"):
        return _text(f"injected failure {fault}", int(fault))
    if fault == "invalid_json":
        return Response(TRUNCATED_JSON, status=200, mimetype="application/json")
    if fault == "timeout":
        time.sleep(emulator.timeout_sleep_seconds)
    session = emulator.open_session(request.args.to_dict())
    record.session_token = session.token
    body = emulator.oembed_json(session)
    if fault == "no_html":
        del body["html"]
    return _json(body)


def _report_delay(emulator: SpeechaceEmulator) -> None:
    if emulator.report_delay_seconds > 0:
        time.sleep(emulator.report_delay_seconds)


def create_speechace_app(emulator: SpeechaceEmulator) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(create_speechace_blueprint(emulator))
    return app
