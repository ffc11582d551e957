"""Checking a fulfillment call: its signature, that the body is compact JSON, and the fields iTEP documents.

The docs say a special header carries an HMAC-SHA256 signature of the body, but not the header's name, the exact
signed bytes or the encoding. The emulator's assumptions, all configurable on ItepEmulator: the signature covers the
raw body bytes, keyed with the API key, in lowercase hex or standard (padded) base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lti_tool.sandbox.itep.models import FulfillmentRequest
from lti_tool.sandbox.itep.models import ItepError
from lti_tool.sandbox.itep.models import ItepProduct
from lti_tool.sandbox.itep.models import SignatureEncoding
from lti_tool.sandbox.itep.registration import parse_json_field
from lti_tool.sandbox.itep.registration import validate_registration

JSON_CONTENT_TYPE = "application/json"
JSON_WHITESPACE = frozenset(b" \t\n\r")
QUOTE, BACKSLASH = ord('"'), ord("\\")


@dataclass(frozen=True)
class Order:
    """A fulfillment call whose fields passed iTEP's checks."""

    product: ItepProduct
    email: str | None
    bcc: str | None
    track: str | None
    assigned_to: Any
    registration: dict[str, Any]
    unlisted_registration_fields: list[str]


def sign(api_key: str, body: bytes, encoding: SignatureEncoding) -> str:
    digest = hmac.new(api_key.encode("utf-8"), body, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def check_signature(request: FulfillmentRequest, api_key: str, header_name: str,
                    encoding: SignatureEncoding) -> None:
    presented = request.header(header_name)
    expected = sign(api_key, request.body, encoding)
    # Constant time: a byte-by-byte comparison would leak how much of a forged signature is right.
    if presented is None or not hmac.compare_digest(expected.encode(), presented.encode("utf-8")):
        raise ItepError(401, "Invalid signature")


def is_compact_json(body: bytes) -> bool:
    """No line feeds or carriage returns anywhere, and no whitespace outside strings ("do not send pretty JSON").

    A scan rather than comparing with a re-serialisation, so `\\u00e9` escapes or `1.50` are not mistaken for
    pretty printing.
    """
    if b"\n" in body or b"\r" in body:
        return False
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == BACKSLASH:
                escaped = True
            elif byte == QUOTE:
                in_string = False
        elif byte == QUOTE:
            in_string = True
        elif byte in JSON_WHITESPACE:
            return False
    return True


def parse_order(request: FulfillmentRequest, products: Mapping[str, ItepProduct]) -> Order:
    """The checks after the signature, in the order a caller meets them; ItepError on the first failure."""
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != JSON_CONTENT_TYPE:
        raise ItepError(415, "Content-Type must be application/json")
    if not is_compact_json(request.body):
        raise ItepError(400, "Request body must be compact JSON")
    try:
        body = request.parsed = json.loads(request.body)
    except ValueError as exc:
        raise ItepError(400, "Unable to parse request body") from exc
    if not isinstance(body, dict):
        raise ItepError(400, "Request body must be a JSON object")
    return _order_from(body, products)


def _order_from(body: dict[str, Any], products: Mapping[str, ItepProduct]) -> Order:
    product_code = body.get("product-code")
    if not isinstance(product_code, str) or not product_code:
        raise ItepError(400, "product-code is required")
    product = products.get(product_code)  # exact match: "assume everything is case-sensitive"
    if product is None:
        raise ItepError(400, f"Unknown product code [{product_code}]")
    email, bcc, track = (_optional_text(body, name) for name in ("email", "bcc", "track"))
    if product.sends_email and email is None:
        raise ItepError(400, "Email is required for STX product codes")
    assigned_to = parse_json_field(body, "assigned-to")
    registration = parse_json_field(body, "registration")
    registration = {} if registration is None else registration
    unlisted = validate_registration(registration)
    return Order(product=product, email=email, bcc=bcc, track=track, assigned_to=assigned_to,
                 registration=registration, unlisted_registration_fields=unlisted)


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ItepError(400, f"Invalid {name} [{json.dumps(value)}]")
    return value
