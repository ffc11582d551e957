"""Plain records held by the iTEP emulator, and the vocabulary (sections, statuses, knob values) its modules share."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal

FulfillmentFault = Literal["500", "timeout", "invalid_json"]
FULFILLMENT_FAULTS: tuple[str, ...] = ("500", "timeout", "invalid_json")
SignatureEncoding = Literal["hex", "base64"]
SIGNATURE_ENCODINGS: tuple[str, ...] = ("hex", "base64")
WebhookAuth = Literal["header", "url_token", "none"]
WEBHOOK_AUTHS: tuple[str, ...] = ("header", "url_token", "none")
FormEncoding = Literal["multipart", "urlencoded"]
FORM_ENCODINGS: tuple[str, ...] = ("multipart", "urlencoded")

# The two groups of product codes the API knows: GetTestID returns the id, SendTestID also e-mails it.
GTX_PREFIX = "GTX-"
STX_PREFIX = "STX-"
# Order of the webhook output sample; a product has some of them.
SECTIONS: tuple[str, ...] = ("Grammar", "Listening", "Reading", "Writing", "Speaking")
# Both versions of iTEP's state list (the docs disagree); the webhook may carry any of them.
STATUSES: tuple[str, ...] = ("Ready", "Started", "Incomplete", "Finished", "Review", "Problem", "Technical Difficulty",
                             "Invalidated", "Complete", "Completed", "Disabled")
READY = "Ready"
FINISHED = "Finished"
COMPLETE = "Complete"
INVALIDATED = "Invalidated"
# 123982B8AP in the inventory screenshot, 3279B035APR in the webhook sample: digits, B, digits, letters.
TEST_ID_PATTERN = re.compile(r"[0-9]+B[0-9]+[A-Z]+")
PASSWORD_PATTERN = re.compile(r"[0-9]{5}")


class ItepError(Exception):
    """A request the emulated iTEP refuses; views answer {"status": "error", "message": ...} with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def check_product_code(code: str) -> None:
    """The API serves the GTX- and STX- groups only (custom codes must keep one of those prefixes here)."""
    if not code.startswith((GTX_PREFIX, STX_PREFIX)) or code in (GTX_PREFIX, STX_PREFIX):
        raise ValueError(f"product codes start with {GTX_PREFIX} or {STX_PREFIX}, got {code!r}")


def mask(secret: str | None) -> str:
    """What pages show instead of a secret: at most its last four characters, and only when it is long."""
    if not secret:
        return "(none)"
    return "********" + (secret[-4:] if len(secret) >= 12 else "")


@dataclass(frozen=True)
class ItepProduct:
    """A product code of the Local Administrator; its prefix says whether iTEP e-mails the test ID."""

    code: str
    sections: tuple[str, ...]

    @property
    def sends_email(self) -> bool:
        return self.code.startswith(STX_PREFIX)

    @property
    def version(self) -> str:
        """The test version after the prefix, e.g. Academic-Plus."""
        return self.code.split("-", 1)[1]


@dataclass
class ItepTest:
    """One test ID of the inventory; `assigned_to` stays None while it is available."""

    __test__ = False  # not a pytest test class despite the name

    test_id: str
    password: str
    product_code: str
    status: str = READY
    assigned_to: Any = None
    registration: dict[str, Any] = field(default_factory=dict)
    track: str | None = None
    email: str | None = None
    bcc: str | None = None
    duration: str = "67.5"
    finished_at: float | None = None
    report_token: str | None = None
    last_results: dict[str, Any] | None = None  # the latest webhook payload, shown by the score report page

    @property
    def available(self) -> bool:
        return self.status == READY and self.assigned_to is None

    @property
    def oid(self) -> str:
        """The registration's trExternal_ID, which iTEP returns as OID ("" when none was given, as in the sample)."""
        value = self.registration.get("trExternal_ID")
        return "" if value is None else str(value)

    @property
    def candidate_name(self) -> str:
        parts = (self.registration.get("First_Name"), self.registration.get("Last_Name"))
        return " ".join(str(part) for part in parts if part) or "Candidate"


@dataclass(frozen=True)
class TrackingCode:
    """What iTEP staff set up for a tracking code: the endpoint, its authentication, whether Finished is sent."""

    track: str
    webhook_url: str
    auth: WebhookAuth = "header"
    secret: str | None = None
    header_name: str = "X-iTEP-Token"
    send_finished: bool = True
    form_encoding: FormEncoding = "multipart"


@dataclass
class FulfillmentRequest:
    """A call to the fulfillment endpoint as received (nothing masked: tests check exactly what the tool sent)."""

    headers: dict[str, str]
    body: bytes
    parsed: Any = None
    status: int = 0
    response: Any = None
    fault: str | None = None
    test_id: str | None = None

    def header(self, name: str) -> str | None:
        """Header lookup ignoring case, as HTTP does (the server may re-case names)."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


@dataclass(frozen=True)
class SentEmail:
    """The e-mail an STX product code makes iTEP send to the candidate (never really sent)."""

    to: str
    bcc: str | None
    subject: str
    body: str
    test_id: str


@dataclass
class WebhookResult:
    """One results POST to a tool (or a skipped one, when the test has no configured tracking code)."""

    url: str | None
    headers: dict[str, str]
    data: str
    body: bytes
    test_id: str | None = None
    status: int | None = None
    response_text: str = ""
    error: str | None = None
    skipped: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def payload(self) -> Any:
        """The JSON inside the `data` field."""
        return json.loads(self.data)
