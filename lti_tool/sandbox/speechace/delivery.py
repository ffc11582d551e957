"""Score callbacks: the server-to-server POST Speechace makes to the integrator's app_score_submission_url."""

from __future__ import annotations

import json
from typing import Any

import requests

from lti_tool.sandbox.speechace.models import CallbackResult

CALLBACK_TIMEOUT_SECONDS = 10.0
USER_AGENT = "Speechace-Emulator"
JSON_CONTENT_TYPE = "application/json"


def callback_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent; kept so a resend can replay them byte-for-byte."""
    return json.dumps(payload).encode("utf-8")


def deliver(url: str, body: bytes, content_type: str, report_id: str | None = None) -> CallbackResult:
    """POST body to url unchanged (query string included). Network failures are recorded, not raised."""
    result = CallbackResult(url=url, body=body, content_type=content_type, report_id=report_id)
    try:
        response = _post_verbatim(url, body, content_type)
    except (requests.RequestException, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.status = response.status_code
    result.response_text = response.text
    return result


def _post_verbatim(url: str, body: bytes, content_type: str) -> requests.Response:
    prepared = requests.Request("POST", url, data=body,
                                headers={"Content-Type": content_type, "User-Agent": USER_AGENT}).prepare()
    # requests re-quotes URLs (e.g. %41 becomes A); the tool may sign its query string, so send it as given.
    prepared.url = url
    with requests.Session() as session:
        # Redirects are not followed: a 30x is reported to the test as the tool's answer.
        return session.send(prepared, timeout=CALLBACK_TIMEOUT_SECONDS, allow_redirects=False)
