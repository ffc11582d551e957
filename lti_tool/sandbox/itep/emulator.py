"""ItepEmulator: an in-memory iTEP (test-ID inventory, fulfillment API, results webhooks) for tests, bench and demo.

All state is process memory guarded by one re-entrant lock; nothing is persisted. The HTTP face is in views.py
(create_itep_app / create_itep_blueprint); this module is the domain facade.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from lti_tool.sandbox.itep.fulfillment import JSON_CONTENT_TYPE
from lti_tool.sandbox.itep.fulfillment import Order
from lti_tool.sandbox.itep.fulfillment import check_signature
from lti_tool.sandbox.itep.fulfillment import parse_order
from lti_tool.sandbox.itep.fulfillment import sign
from lti_tool.sandbox.itep.models import FORM_ENCODINGS
from lti_tool.sandbox.itep.models import FULFILLMENT_FAULTS
from lti_tool.sandbox.itep.models import SECTIONS
from lti_tool.sandbox.itep.models import SIGNATURE_ENCODINGS
from lti_tool.sandbox.itep.models import STX_PREFIX
from lti_tool.sandbox.itep.models import WEBHOOK_AUTHS
from lti_tool.sandbox.itep.models import FormEncoding
from lti_tool.sandbox.itep.models import FulfillmentFault
from lti_tool.sandbox.itep.models import FulfillmentRequest
from lti_tool.sandbox.itep.models import ItepError
from lti_tool.sandbox.itep.models import ItepProduct
from lti_tool.sandbox.itep.models import ItepTest
from lti_tool.sandbox.itep.models import SentEmail
from lti_tool.sandbox.itep.models import SignatureEncoding
from lti_tool.sandbox.itep.models import TrackingCode
from lti_tool.sandbox.itep.models import WebhookAuth
from lti_tool.sandbox.itep.models import WebhookResult
from lti_tool.sandbox.itep.models import check_product_code
from lti_tool.sandbox.itep.webhooks import ResultsReporting

FULFILLMENT_PATH = "/requests/ecommerce_webhook.php"
REPORT_PATH = "/reports/ScoreReport.php"


class ItepEmulator(ResultsReporting):
    """The emulated iTEP. Setup methods mirror what iTEP staff and the Local Administrator do; the rest answers."""

    def __init__(self, base_url: str, api_key: str | None = None, signature_header: str = "X-iTEP-Signature",
                 signature_encoding: SignatureEncoding = "hex") -> None:
        if signature_encoding not in SIGNATURE_ENCODINGS:
            raise ValueError(f"signature_encoding must be one of {SIGNATURE_ENCODINGS}, not {signature_encoding!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or secrets.token_hex(32)
        self.signature_header = signature_header
        self.signature_encoding: SignatureEncoding = signature_encoding
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = time.time
        self.products: dict[str, ItepProduct] = {}
        self.tests: dict[str, ItepTest] = {}  # the whole inventory, by test ID, in purchase order
        self.tracking_codes: dict[str, TrackingCode] = {}
        self.reports: dict[str, str] = {}  # score report token -> test ID
        # Observable by tests: what iTEP saw and did.
        self.events: list[str] = []
        self.fulfillment_requests: list[FulfillmentRequest] = []
        self.webhooks_sent: list[WebhookResult] = []
        self.emails_sent: list[SentEmail] = []
        # Knobs for tests.
        self.timeout_sleep_seconds = 3.0
        self.webhook_escape_slashes = True
        self._fulfillment_faults: list[FulfillmentFault] = []
        self._next_serial = 100000 + secrets.randbelow(800000)

    # --- helpers -------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL from base_url, never from the request host: tools store these URLs."""
        return self.base_url + path

    @property
    def fulfillment_url(self) -> str:
        return self.url(FULFILLMENT_PATH)

    def log(self, message: str) -> None:
        with self.lock:
            self.events.append(message)

    def sign(self, body: bytes) -> str:
        """The signature header value iTEP expects for body, in the configured encoding."""
        return sign(self.api_key, body, self.signature_encoding)

    def signed_headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Type": JSON_CONTENT_TYPE, self.signature_header: self.sign(body)}

    # --- setup ---------------------------------------------------------------------------------------
    def add_product(self, code: str, inventory: int = 5, sections: tuple[str, ...] = SECTIONS) -> ItepProduct:
        """A product code with `inventory` Ready test IDs. The code's GTX-/STX- prefix decides who sends the ID."""
        check_product_code(code)
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown or not sections:
            raise ValueError(f"sections must be some of {list(SECTIONS)}, got {list(sections)}")
        product = ItepProduct(code=code, sections=tuple(name for name in SECTIONS if name in sections))
        with self.lock:
            if code in self.products:
                raise ValueError(f"product code {code} already exists")
            self.products[code] = product
        self.log(f"product added: {code} sections={list(product.sections)}")
        self.add_inventory(code, inventory)
        return product

    def add_inventory(self, code: str, count: int) -> list[ItepTest]:
        """Buy `count` more Ready test IDs for a product code (iTEP has no API for this: it is manual)."""
        suffix = "".join(word[0] for word in self.products[code].version.split("-")).upper()
        with self.lock:
            bought = [self._new_test(code, suffix) for _ in range(count)]
        self.log(f"{count} test IDs added to {code}")
        return bought

    def _new_test(self, code: str, suffix: str) -> ItepTest:
        serial, self._next_serial = self._next_serial, self._next_serial + 1
        test = ItepTest(test_id=f"{serial}B{secrets.randbelow(10)}{suffix}",
                        password=str(10000 + secrets.randbelow(90000)), product_code=code)
        self.tests[test.test_id] = test
        return test

    def available_tests(self, code: str) -> list[ItepTest]:
        with self.lock:
            return [test for test in self.tests.values() if test.product_code == code and test.available]

    def configure_tracking(self, track: str, webhook_url: str, auth: WebhookAuth = "header", secret: str | None = None,
                           header_name: str = "X-iTEP-Token", send_finished: bool = True,
                           form_encoding: FormEncoding = "multipart") -> TrackingCode:
        """What iTEP staff set up for a tracking code: where results go, how they authenticate, whether on Finished."""
        if auth not in WEBHOOK_AUTHS or form_encoding not in FORM_ENCODINGS:
            raise ValueError(f"auth must be one of {WEBHOOK_AUTHS} and form_encoding one of {FORM_ENCODINGS}")
        if auth != "none" and not secret:
            raise ValueError(f"auth {auth!r} needs a secret")
        tracking = TrackingCode(track=track, webhook_url=webhook_url, auth=auth, secret=secret,
                                header_name=header_name, send_finished=send_finished, form_encoding=form_encoding)
        with self.lock:
            self.tracking_codes[track] = tracking
        self.log(f"tracking code {track} -> {webhook_url} (auth {auth})")
        return tracking

    # --- fulfillment ---------------------------------------------------------------------------------
    def fail_next_fulfillment(self, kind: FulfillmentFault, times: int = 1) -> None:
        if kind not in FULFILLMENT_FAULTS:
            raise ValueError(f"unknown fulfillment fault {kind!r}; expected one of {FULFILLMENT_FAULTS}")
        with self.lock:
            self._fulfillment_faults.extend([kind] * times)

    def take_fulfillment_fault(self) -> FulfillmentFault | None:
        with self.lock:
            return self._fulfillment_faults.pop(0) if self._fulfillment_faults else None

    def record_fulfillment_request(self, headers: Mapping[str, str], body: bytes) -> FulfillmentRequest:
        record = FulfillmentRequest(headers=dict(headers), body=body)
        with self.lock:
            self.fulfillment_requests.append(record)
        return record

    def fulfil(self, request: FulfillmentRequest) -> dict[str, Any]:
        """Check the call like iTEP would, then assign one available test ID. Not idempotent: each call buys one."""
        check_signature(request, self.api_key, self.signature_header, self.signature_encoding)
        with self.lock:
            order = parse_order(request, self.products)
            test = self._assign(order)
            request.test_id = test.test_id
        for name in order.unlisted_registration_fields:
            self.log(f"registration field {name!r} is not in iTEP's list of valid fields")
        if order.product.sends_email:
            self._send_test_email(test)
        return self.fulfillment_answer(test)

    def _assign(self, order: Order) -> ItepTest:
        test = next(iter(self.available_tests(order.product.code)), None)
        if test is None:
            raise ItepError(409, f"No available test IDs for product code [{order.product.code}]")
        # An API call always populates assigned-to, so the ID never counts as available again.
        test.assigned_to = {} if order.assigned_to is None else order.assigned_to
        test.registration, test.track, test.email, test.bcc = order.registration, order.track, order.email, order.bcc
        self.log(f"{test.test_id} assigned ({order.product.code}, track {order.track!r})")
        return test

    def _send_test_email(self, test: ItepTest) -> None:
        body = (f"Dear {test.candidate_name},\n\nYour iTEP test ID is {test.test_id} and your password is "
                f"{test.password}.\nStart your test at {self.test_url(test.test_id)}\n")
        email = SentEmail(to=test.email or "", bcc=test.bcc, subject="Your iTEP test ID", body=body,
                          test_id=test.test_id)
        with self.lock:
            self.emails_sent.append(email)
        self.log(f"test ID {test.test_id} e-mailed to {email.to}")

    def fulfillment_answer(self, test: ItepTest) -> dict[str, Any]:
        """The success body (an assumption: the docs do not show it). STX answers leave the password to the e-mail."""
        emailed = test.product_code.startswith(STX_PREFIX)
        answer: dict[str, Any] = {"status": "ok", "test_id": test.test_id}
        if not emailed:
            answer["password"] = test.password
        answer.update(product_code=test.product_code, test_url=self.test_url(test.test_id), emailed=emailed)
        return answer

    # --- tests and reports ---------------------------------------------------------------------------
    def test(self, test_id: str) -> ItepTest:
        with self.lock:
            test = self.tests.get(test_id)
        if test is None:
            raise ItepError(404, f"Unknown test ID [{test_id}]")
        return test

    def test_url(self, test_id: str) -> str:
        return self.url(f"/test/{test_id}")

    def report_url(self, token: str) -> str:
        return self.url(f"{REPORT_PATH}?p={token}")

    def report(self, token: str) -> ItepTest:
        with self.lock:
            test_id = self.reports.get(token)
        if test_id is None:
            raise ItepError(404, "Unknown score report")
        return self.test(test_id)
