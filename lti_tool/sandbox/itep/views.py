"""Flask blueprint exposing the emulated iTEP over HTTP: the fulfillment API, the test, score reports, admin."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import request

from lti_tool.sandbox.itep import pages
from lti_tool.sandbox.itep.emulator import FULFILLMENT_PATH
from lti_tool.sandbox.itep.emulator import REPORT_PATH
from lti_tool.sandbox.itep.emulator import ItepEmulator
from lti_tool.sandbox.itep.models import COMPLETE
from lti_tool.sandbox.itep.models import FINISHED
from lti_tool.sandbox.itep.models import FulfillmentRequest
from lti_tool.sandbox.itep.models import ItepError
from lti_tool.sandbox.itep.webhooks import UNFINISHED_STATUSES

# A body cut off mid-way: what a proxy or a crashing upstream hands back as "JSON".
TRUNCATED_JSON = '{"status":"ok","test_id":"'


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def _json(body: Any, status: int = 200) -> Response:
    # Compact, in the order built: what a PHP json_encode would answer.
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def _error_body(error: ItepError) -> dict[str, str]:
    return {"status": "error", "message": error.message}


def create_itep_blueprint(emulator: ItepEmulator) -> Blueprint:
    blueprint = Blueprint("itep", __name__)

    def refuse(error: ItepError) -> Response:
        emulator.log(f"{request.method} {request.path} -> {error.status}: {error.message}")
        return Response(error.message, status=error.status, mimetype="text/plain")

    blueprint.register_error_handler(ItepError, refuse)

    @blueprint.get("/")
    def index() -> Response:
        return _html(pages.index_page(_index_view(emulator)))

    @blueprint.post(FULFILLMENT_PATH)
    def fulfillment() -> Response:
        record = emulator.record_fulfillment_request(dict(request.headers), request.get_data())
        response = _answer_fulfillment(emulator, record)
        record.status = response.status_code
        return response

    @blueprint.get("/test/<test_id>")
    def test_page(test_id: str) -> Response:
        test = emulator.test(test_id)
        finish_url = emulator.url(f"/test/{test_id}/finish")
        finished = test.status not in UNFINISHED_STATUSES
        return _html(pages.test_page(test, emulator.products[test.product_code], finish_url, finished))

    @blueprint.post("/test/<test_id>/finish")
    def finish(test_id: str) -> Response:
        result = emulator.finish_test(test_id)
        return _html(pages.finished_page(emulator.test(test_id), result))

    @blueprint.get(REPORT_PATH)
    def score_report() -> Response:
        return _html(pages.report_page(emulator.report(request.args.get("p", ""))))

    @blueprint.get("/admin")
    def admin() -> Response:
        with emulator.lock:
            assigned = [test for test in emulator.tests.values() if test.assigned_to is not None]
        fire_urls = {test.test_id: emulator.url(f"/admin/{test.test_id}/fire") for test in assigned}
        return _html(pages.admin_page(assigned, fire_urls, emulator.url("/")))

    @blueprint.post("/admin/<test_id>/fire")
    def fire(test_id: str) -> Response:
        status = request.form.get("status") or COMPLETE
        if status == FINISHED:  # as when the candidate finishes: sent only if the tracking code asks for it
            result = emulator.finish_test(test_id)
        else:
            result = emulator.fire_webhook(test_id, status=status, overall_level=request.form.get("level", "4.5"),
                                           overall_cefr=request.form.get("cefr", "B2"))
        return _html(pages.fire_result_page(test_id, status, result, emulator.url("/admin")))

    return blueprint


def _answer_fulfillment(emulator: ItepEmulator, record: FulfillmentRequest) -> Response:
    """500 and invalid_json answer without processing; timeout processes (an ID is assigned), then answers late."""
    fault = record.fault = emulator.take_fulfillment_fault()
    if fault == "500":
        return Response("injected failure 500", status=500, mimetype="text/plain")
    if fault == "invalid_json":
        return Response(TRUNCATED_JSON, status=200, mimetype="application/json")
    try:
        record.response = emulator.fulfil(record)
        response = _json(record.response)
    except ItepError as error:
        emulator.log(f"fulfillment refused: {error.status} {error.message}")
        record.response = _error_body(error)
        response = _json(record.response, error.status)
    if fault == "timeout":
        time.sleep(emulator.timeout_sleep_seconds)
    return response


def _index_view(emulator: ItepEmulator) -> pages.IndexView:
    with emulator.lock:
        products = [(product, len(emulator.available_tests(code)),
                     sum(1 for test in emulator.tests.values() if test.product_code == code))
                    for code, product in emulator.products.items()]
        tracking_codes = list(emulator.tracking_codes.values())
    return pages.IndexView(fulfillment_url=emulator.fulfillment_url, signature_header=emulator.signature_header,
                           signature_encoding=emulator.signature_encoding, api_key=emulator.api_key,
                           products=products, tracking_codes=tracking_codes, admin_url=emulator.url("/admin"))


def create_itep_app(emulator: ItepEmulator) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(create_itep_blueprint(emulator))
    return app
