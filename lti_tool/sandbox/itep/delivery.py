"""Results webhooks: the POST iTEP makes to the endpoint of a tracking code, with ONE form field named `data`.

The body is built here (not by requests) so it can be kept and resent byte-for-byte, multipart boundary included.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import quote
from urllib.parse import urlencode

import requests

from lti_tool.sandbox.itep.models import TrackingCode
from lti_tool.sandbox.itep.models import WebhookResult
from lti_tool.sandbox.verbatim import post_verbatim

USER_AGENT = "iTEP-Webhook-Emulator"
URLENCODED_CONTENT_TYPE = "application/x-www-form-urlencoded"
URL_TOKEN_PARAM = "token"  # noqa: S105 - a parameter name, not a secret


def encode_form(fields: Mapping[str, str], multipart: bool = True) -> tuple[bytes, str]:
    """(body, Content-Type). Multipart is what iTEP's "Headers sent" screenshot shows; urlencoded is the other
    reading of "form-encoded"."""
    if not multipart:
        return urlencode(fields).encode("ascii"), URLENCODED_CONTENT_TYPE
    boundary = "-----" + secrets.token_hex(8)  # like the screenshot's -----b27a39e6e6aef697
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()
             + b"\r\n" for name, value in fields.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def base_headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Accept": "*/*", "User-Agent": USER_AGENT}


def authenticate(tracking: TrackingCode, headers: dict[str, str]) -> str:
    """Add the tracking code's credentials to headers (in place); return the URL to post to."""
    secret = tracking.secret or ""
    if tracking.auth == "header":
        headers[tracking.header_name] = secret
    elif tracking.auth == "url_token":
        separator = "&" if "?" in tracking.webhook_url else "?"
        return f"{tracking.webhook_url}{separator}{URL_TOKEN_PARAM}={quote(secret, safe='')}"
    return tracking.webhook_url


def deliver(url: str, body: bytes, headers: Mapping[str, str], data: str,
            test_id: str | None = None) -> WebhookResult:
    """POST body to url unchanged (query string included). Network failures are recorded, not raised."""
    result = WebhookResult(url=url, headers=dict(headers), data=data, body=body, test_id=test_id)
    try:
        response = post_verbatim(url, body, headers)
    except (requests.RequestException, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.status = response.status_code
    result.response_text = response.text
    return result
