"""Score callbacks: the server-to-server POST Speechace makes to the integrator's app_score_submission_url."""

from __future__ import annotations

import json
from typing import Any

import requests

from lti_tool.sandbox.speechace.models import CallbackResult
from lti_tool.sandbox.verbatim import post_verbatim

USER_AGENT = "Speechace-Emulator"
JSON_CONTENT_TYPE = "application/json"


def callback_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent; kept so a resend can replay them byte-for-byte."""
    return json.dumps(payload).encode("utf-8")


def deliver(url: str, body: bytes, content_type: str, report_id: str | None = None) -> CallbackResult:
    """POST body to url unchanged (query string included). Network failures are recorded, not raised."""
    result = CallbackResult(url=url, body=body, content_type=content_type, report_id=report_id)
    try:
        response = post_verbatim(url, body, {"Content-Type": content_type, "User-Agent": USER_AGENT})
    except (requests.RequestException, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.status = response.status_code
    result.response_text = response.text
    return result
