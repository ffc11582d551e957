"""iTEP: a test ID from the fulfillment API (HMAC-SHA256 over the exact body), results through iTEP's webhook.

What iTEP's documents leave open — the signature header's name and encoding, the webhook's authentication — is
the school's account configuration (:class:`ProviderAccount` settings), never a guess in code
(shared/docs/providers.md §3).

Exactly one test ID per learner and activity: the attempt row is claimed before the request (a conditional
UPDATE), so two tabs cannot both ask; a request whose outcome is unknown (a timeout after sending) is never
repeated automatically — iTEP may have assigned an ID — and waits for a teacher.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

import requests
import sqlalchemy as sa
from sqlalchemy import orm
from urllib3.exceptions import NewConnectionError

from lti_tool.db import utcnow
from lti_tool.inputs import InputError
from lti_tool.inputs import checked_text
from lti_tool.inputs import has_control
from lti_tool.inputs import parse_json
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import FulfillmentState
from lti_tool.models import ProviderAccount
from lti_tool.models import Result
from lti_tool.providers import itep_accounts
from lti_tool.providers.interfaces import AccountForm
from lti_tool.providers.interfaces import AccountView
from lti_tool.providers.interfaces import ActivityConfig
from lti_tool.providers.interfaces import AssessmentAction
from lti_tool.providers.interfaces import AssessmentForm
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import AssessmentSummary
from lti_tool.providers.interfaces import CallbackError
from lti_tool.providers.interfaces import CallbackRequest
from lti_tool.providers.interfaces import CallbackTarget
from lti_tool.providers.interfaces import Learner
from lti_tool.providers.interfaces import PendingStart
from lti_tool.providers.interfaces import ProviderContext
from lti_tool.providers.interfaces import ProviderError
from lti_tool.providers.interfaces import ProviderOutcome
from lti_tool.providers.interfaces import ReportDetails
from lti_tool.providers.interfaces import ReportedResult
from lti_tool.providers.interfaces import TestTicket
from lti_tool.providers.itep_registration import RegistrationInvalid
from lti_tool.providers.itep_registration import validate_registration
from lti_tool.translatable import N_

log = logging.getLogger(__name__)

SCALE_MAXIMUM = 6.0
SECTIONS = ("grammar", "listening", "reading", "writing", "speaking")
MAX_WEBHOOK_BYTES = 64 * 1024
DEFAULT_EXPIRY_DAYS = 60
LABEL_MAX_CHARS = 100  # a Status or CEFR label; it goes into the gradebook comment
# One answer for a TestID that does not exist and one of another account, so the webhook reveals neither.
UNKNOWN_TEST = "No test of this iTEP account matches the webhook's OID / TestID."
EARLIER_TEST = "This TestID belongs to an earlier try of the attempt; the learner has started a new test since."
EARLIER_TEST_IDS = "earlier_test_ids"  # in Attempt.provider_data: the test IDs of the attempt's earlier tries
MAX_EARLIER_TEST_IDS = 100
# What the learner reads when iTEP may or may not have assigned a test ID (a teacher decides).
UNCONFIRMED = N_("iTEP did not confirm your test ID. Your teacher can see this and will sort it out; please do not "
                 "start another test.")

# iTEP's two document versions name the states differently; compare case-insensitively.
FINISHED = {"finished"}
COMPLETE = {"complete", "completed"}
WITHDRAWN = {"invalidated"}
RESET = {"ready", "incomplete", "reset"}
ATTENTION = {"review", "problem", "technical difficulty", "technical_difficulty", "disabled"}


class ItepProvider:
    name: ClassVar[str] = itep_accounts.NAME
    label: ClassVar[str] = "iTEP"
    summary: ClassVar[str] = N_("An English test taken on iTEP's own site with the test ID below; it may have "
                              "grammar, listening, reading, writing and speaking sections.")
    scale_maximum: ClassVar[float] = SCALE_MAXIMUM
    component_labels: ClassVar[Mapping[str, str]] = {
        "overall": N_("overall"), "grammar": N_("grammar"), "listening": N_("listening"), "reading": N_("reading"),
        "writing": N_("writing"), "speaking": N_("speaking")}
    components: ClassVar[tuple[str, ...]] = ("overall", *SECTIONS)
    assessment_form: ClassVar[AssessmentForm] = itep_accounts.PRODUCT_FORM
    account_form: ClassVar[AccountForm | None] = itep_accounts.ACCOUNT_FORM
    assessment_actions: ClassVar[tuple[AssessmentAction, ...]] = ()

    def __init__(self, context: ProviderContext) -> None:
        self._http = context.http
        self._callback_url = context.callback_url

    # --- accounts and products (the admin pages and the command line) -----------------------------------------

    def create_assessment(self, session: orm.Session, title: str, values: Mapping[str, str],
                          account: ProviderAccount | None) -> Assessment:
        if account is None or account.provider != self.name:
            raise ValueError("an iTEP product belongs to an iTEP account: give the account")
        return itep_accounts.add_itep_assessment(session, account, title, values.get("product_code", "").strip())

    def describe_assessment(self, assessment: Assessment) -> AssessmentSummary:
        return AssessmentSummary(source="")

    def offers_action(self, assessment: Assessment, action: str) -> bool:
        return False

    def change_assessment(self, session: orm.Session, assessment: Assessment, action: str,
                          values: Mapping[str, str]) -> None:
        raise ValueError(f"iTEP products have no action {action!r}.")

    def create_account(self, session: orm.Session, name: str, values: Mapping[str, str],
                       deployment_id: int | None) -> ProviderAccount:
        return itep_accounts.account_from_form(session, name, values, deployment_id)

    def describe_account(self, account: ProviderAccount) -> AccountView:
        return itep_accounts.account_view(account, self._callback_url)

    def account_instructions(self, account: ProviderAccount) -> str:
        return itep_accounts.instructions(account, self._callback_url)

    def webhook_url(self, account: ProviderAccount) -> str:
        """The URL iTEP posts the account's results to (with its token, when the account authenticates so)."""
        return itep_accounts.itep_webhook_url(self._callback_url, account)

    # --- the test ID ------------------------------------------------------------------------------------------

    def begin_retake(self, attempt: Attempt) -> None:
        """A new try is a new iTEP test: the next start asks for a new test ID. The earlier IDs are kept, so a
        late webhook of an earlier test is recognised and refused instead of counting for the new try."""
        earlier = [*_earlier_test_ids(attempt), *([attempt.provider_reference] if attempt.provider_reference else [])]
        attempt.provider_reference = None
        attempt.provider_data = {EARLIER_TEST_IDS: earlier[-MAX_EARLIER_TEST_IDS:]}
        attempt.fulfillment_state = None
        attempt.fulfillment_started_at = None

    def start_attempt(self, session: orm.Session, assessment: Assessment, attempt: Attempt,
                      learner: Learner) -> TestTicket | PendingStart:
        if attempt.fulfillment_state == FulfillmentState.DONE:
            return _ticket(attempt.provider_data)
        if attempt.fulfillment_state == FulfillmentState.UNCERTAIN:
            raise ProviderError(UNCONFIRMED, "test ID request outcome unknown",
                                retryable=False)
        account = _account_for(session, assessment)
        body = self._request_body(assessment, attempt, learner, account)  # may refuse before anything is sent
        if not _claim(session, attempt):
            raise ProviderError(N_("Your test ID is being prepared. Reload this page in a moment."),
                                "another request for this attempt is in progress")
        # The caller commits the claim (so a second tab sees it) before the request goes out.
        return PendingStart(fetch=lambda: self._request_test_id(account, body),
                            finish=lambda finishing, outcome: _record(finishing, attempt, account, outcome))

    def _request_body(self, assessment: Assessment, attempt: Attempt, learner: Learner,
                      account: ProviderAccount) -> bytes:
        product_code = str(assessment.settings.get("product_code", ""))
        if product_code.upper().startswith("STX") and not learner.email:
            raise ProviderError(N_("iTEP e-mails this test to you, but the tool has no email address of yours it "
                                   "may give iTEP (your LMS did not share it, or your school does not send it to "
                                   "test providers). Ask your teacher."), "STX product without an email address "
                                "(not shared by the LMS, or withheld by the assessment's privacy setting)",
                                retryable=False)
        first = learner.given_name or (learner.name or "").split(" ")[0] or "Candidate"
        last = learner.family_name or " ".join((learner.name or "").split(" ")[1:]) or attempt.public_id[:8]
        registration = {"First_Name": first, "Last_Name": last, "Email": learner.email or "",
                        "trExternal_ID": attempt.public_id}
        try:
            validate_registration(registration)
        except RegistrationInvalid as exc:
            raise ProviderError(N_("iTEP would refuse these details: %(problem)s."), str(exc), retryable=False,
                                problem=str(exc)) from exc
        expiry = (utcnow() + dt.timedelta(days=int(account.settings.get("expiry_days", DEFAULT_EXPIRY_DAYS))))
        body: dict[str, Any] = {"product-code": product_code}
        if learner.email:
            body["email"] = learner.email
        if account.settings.get("bcc"):
            body["bcc"] = account.settings["bcc"]
        body["track"] = account.settings.get("tracking_code", "")
        body["assigned-to"] = {"student-name": f"{first} {last}".strip(), "email": learner.email or "",
                               "attempt-id": attempt.public_id, "expire": expiry.date().isoformat()}
        body["registration"] = registration
        # iTEP: "Do not send pretty JSON". The signature covers exactly these bytes.
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    def _request_test_id(self, account: ProviderAccount, body: bytes) -> _Outcome:
        """Ask iTEP for the test ID (HTTP only: what it means for the attempt is :func:`_record`'s)."""
        headers = {"Content-Type": "application/json",
                   str(account.settings.get("signature_header", "X-iTEP-Signature")): _signature(account, body)}
        try:
            response = self._http.post(str(account.settings["endpoint_url"]), data=body, headers=headers)
        except requests.RequestException as exc:
            if _never_sent(exc):
                return _Outcome(FulfillmentState.FAILED, N_("iTEP cannot be reached right now. Please try again "
                                                            "later."),
                                f"fulfillment request not delivered: {type(exc).__name__}")
            return _Outcome(FulfillmentState.UNCERTAIN,
                            detail=f"the fulfillment request got no answer ({type(exc).__name__})")
        answer = _json_or_none(response)
        if not response.ok:
            message = str(answer.get("message")) if answer and answer.get("message") else f"HTTP {response.status_code}"
            return _Outcome(FulfillmentState.FAILED, N_("iTEP could not give you a test ID: %(problem)s"),
                            f"iTEP refused the test ID request: {message}", values={"problem": message})
        if not answer or not answer.get("test_id"):
            return _Outcome(FulfillmentState.UNCERTAIN,
                            detail=f"iTEP answered HTTP {response.status_code} without a test ID")
        data = {name: answer.get(name) for name in ("test_id", "password", "test_url", "emailed", "product_code")}
        data["instructions"] = account.settings.get("instructions")
        return _Outcome(FulfillmentState.DONE, data=data)

    # --- the results webhook ----------------------------------------------------------------------------------

    def find_attempt(self, session: orm.Session, request: CallbackRequest) -> CallbackTarget:
        account = _webhook_account(session, request)
        _authenticate(account, request)
        payload = _webhook_payload(request)
        oid, test_id = _identifier(payload, "OID", Attempt.public_id), _identifier(payload, "TestID",
                                                                                  Attempt.provider_reference)
        if oid:
            where = Attempt.public_id == oid
        elif test_id:
            where = Attempt.provider_reference == test_id
        else:
            raise CallbackError(400, "The webhook data has neither OID nor TestID.")
        # Only this account's attempts: another school's TestID is as unknown here as one that never existed.
        rows = session.execute(
            sa.select(Attempt.id, Attempt.activity_id, Attempt.provider_reference, Attempt.provider_data,
                      Assessment.settings)
            .join(Activity, Activity.id == Attempt.activity_id)
            .join(Assessment, Assessment.id == Activity.assessment_id)
            .where(where, Assessment.provider == self.name)
        ).all()
        for attempt_id, activity_id, reference, data, settings in rows:
            if _account_id(settings) != account.id:
                continue
            if test_id and test_id in (data or {}).get(EARLIER_TEST_IDS, ()):
                log.info("iTEP webhook for an earlier try's test %r of attempt %s: not counted", test_id, attempt_id)
                raise CallbackError(409, EARLIER_TEST)
            if test_id and reference and reference != test_id:
                continue
            return CallbackTarget(attempt={"id": attempt_id}, activity_id=activity_id)
        log.warning("iTEP webhook for account %s names no attempt of that account (TestID %r, OID %r; %d "
                    "attempt(s) of other accounts)", account.id, test_id, oid, len(rows))
        raise CallbackError(404, UNKNOWN_TEST)

    def read_result(self, session: orm.Session, config: ActivityConfig, request: CallbackRequest) -> ReportedResult:
        payload = _webhook_payload(request)
        raw_status = str(payload.get("Status") or "").strip()
        status = raw_status.lower()
        test_id = _identifier(payload, "TestID", Attempt.provider_reference)
        external_id = _bounded(f"{test_id}|{status}|{payload.get('TestDate', '')}", "TestID/Status/TestDate",
                               Result.external_id)
        report_url = payload.get("score_report_url") if isinstance(payload.get("score_report_url"), str) else None
        if report_url is not None:
            report_url = _bounded(report_url, "score_report_url", Result.report_url)
        raw_status = _bounded(raw_status, "Status", max_length=LABEL_MAX_CHARS)
        stored = dict(payload)
        if status in COMPLETE:
            overall = _level(payload, "Overall_Level", required=True)
            assert overall is not None
            scores = {"overall": overall}
            for section in SECTIONS:
                value = _level(payload, f"{section.capitalize()}_Level", required=False)
                if value is not None:
                    scores[section] = value
            if config.score_component not in scores:
                raise CallbackError(400, f"The webhook has no {config.score_component} level.")
            return ReportedResult(external_id=external_id, status="complete", scores=scores,
                                  scale_maximum=SCALE_MAXIMUM, report_url=report_url, payload=stored,
                                  level_label=_bounded(str(payload.get("Overall_cefr") or ""), "Overall_cefr",
                                                       max_length=LABEL_MAX_CHARS) or None)
        if status in FINISHED:
            kind = "finished"
        elif status in WITHDRAWN | RESET:
            account = session.get(ProviderAccount, config.settings.get("account_id"))
            kind = "pending" if account and account.settings.get("on_invalidated") == "pending" else "withdrawn"
        elif status in ATTENTION:
            kind = "attention"
        else:
            raise CallbackError(400, f"The webhook's Status {raw_status!r} is not one iTEP documents.")
        return ReportedResult(external_id=external_id, status=kind, scores={}, scale_maximum=SCALE_MAXIMUM,
                              report_url=report_url, payload=stored, level_label=raw_status)

    def report_details(self, result: Result) -> ReportDetails:
        return ReportDetails(scores=result.scores, link=result.report_url,
                             rubric=f"CEFR level {result.payload['Overall_cefr']}"
                             if result.payload.get("Overall_cefr") else None)


    def outcome(self, result: Result) -> ProviderOutcome:
        words = str(result.payload.get("Status") or "").strip()[:LABEL_MAX_CHARS]
        return ProviderOutcome(words=words or None, reset=words.lower() in RESET)


def _account_for(session: orm.Session, assessment: Assessment) -> ProviderAccount:
    account = session.get(ProviderAccount, assessment.settings.get("account_id"))
    if account is None or not account.api_key or not account.settings.get("endpoint_url"):
        raise ProviderError(N_("This iTEP test is not fully configured. Tell your teacher."),
                            "iTEP account missing or without endpoint/API key", retryable=False)
    return account


@dataclass(frozen=True)
class _Outcome:
    """What the fulfillment request came to: ``DONE`` with the test's ``data``, ``FAILED`` (safe to ask again;
    ``message`` for the learner) or ``UNCERTAIN`` (iTEP may have assigned an ID; a teacher decides)."""

    state: FulfillmentState
    message: str = ""
    detail: str = ""
    values: dict[str, str] = field(default_factory=dict)  # the message's named values
    data: dict[str, Any] = field(default_factory=dict)


def _earlier_test_ids(attempt: Attempt) -> list[str]:
    earlier = (attempt.provider_data or {}).get(EARLIER_TEST_IDS, [])
    return [str(test_id) for test_id in earlier] if isinstance(earlier, list) else []


def _record(session: orm.Session, attempt: Attempt, account: ProviderAccount, outcome: _Outcome) -> TestTicket:
    """Write the request's outcome on the attempt (the caller commits). :raise ProviderError: no test ID."""
    if outcome.state == FulfillmentState.FAILED:
        raise _failed(attempt, outcome.message, outcome.detail, outcome.values)
    if outcome.state == FulfillmentState.UNCERTAIN:
        raise _uncertain(attempt, outcome.detail)
    attempt.provider_reference = str(outcome.data["test_id"])
    attempt.provider_data = {**outcome.data, EARLIER_TEST_IDS: _earlier_test_ids(attempt)}
    attempt.fulfillment_state = FulfillmentState.DONE.value
    attempt.status_detail = None
    return _ticket(outcome.data)


def _claim(session: orm.Session, attempt: Attempt) -> bool:
    """Mark the attempt as requesting, unless another request holds it or an ID exists. The caller commits the
    claim before the request goes out, so a second tab sees it."""
    claimed = session.execute(
        sa.update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.provider_reference.is_(None),
               sa.or_(Attempt.fulfillment_state.is_(None), Attempt.fulfillment_state == FulfillmentState.FAILED))
        .values(fulfillment_state=FulfillmentState.REQUESTING.value, fulfillment_started_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(attempt)
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _failed(attempt: Attempt, message: str, detail: str, values: Mapping[str, str]) -> ProviderError:
    attempt.fulfillment_state = FulfillmentState.FAILED.value
    attempt.status_detail = detail
    return ProviderError(message, detail, True, **values)


def _uncertain(attempt: Attempt, detail: str) -> ProviderError:
    attempt.fulfillment_state = FulfillmentState.UNCERTAIN.value
    attempt.status_detail = (f"{detail}; iTEP may have assigned a test ID. Check iTEP's admin site for "
                             f"OID {attempt.public_id}, then let the student ask again.")
    return ProviderError(UNCONFIRMED, detail, retryable=False)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached iTEP (no connection), so asking again is safe. A timeout
    or a connection cut after sending may hide an assigned test ID."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _signature(account: ProviderAccount, body: bytes) -> str:
    digest = hmac.new((account.api_key or "").encode(), body, hashlib.sha256).digest()
    if account.settings.get("signature_encoding", "hex") == "base64":
        return base64.b64encode(digest).decode()
    return digest.hex()


def _json_or_none(response: requests.Response) -> dict[str, Any] | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _ticket(data: dict[str, Any]) -> TestTicket:
    return TestTicket(test_id=data.get("test_id"), provider_label=ItepProvider.label, password=data.get("password"),
                      link=data.get("test_url"),
                      instructions=data.get("instructions"),
                      emailed_to="your email address" if data.get("emailed") else None)


def _webhook_account(session: orm.Session, request: CallbackRequest) -> ProviderAccount:
    try:
        account_pk = int(request.query.get("account", "")[:12])
        if not 0 < account_pk < 2**31:
            raise ValueError("out of range")
    except ValueError as exc:
        raise CallbackError(404, "The webhook URL names no iTEP account (…/callbacks/itep?account=N).") from exc
    account = session.get(ProviderAccount, account_pk)
    if account is None or account.provider != ItepProvider.name:
        raise CallbackError(404, f"No iTEP account {account_pk}.")
    return account


def _authenticate(account: ProviderAccount, request: CallbackRequest) -> None:
    method = account.settings.get("webhook_auth", "header")
    if method == "url_token":
        presented = request.query.get("token", "")
    else:
        header = str(account.settings.get("webhook_header", "X-iTEP-Token")).lower()
        presented = next((value for name, value in request.headers.items() if name.lower() == header), "")
    expected = account.webhook_secret or ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CallbackError(401, "The webhook's credentials are missing or wrong.")


def _webhook_payload(request: CallbackRequest) -> dict[str, Any]:
    if len(request.body) > MAX_WEBHOOK_BYTES:
        raise CallbackError(413, f"The webhook body is larger than {MAX_WEBHOOK_BYTES // 1024} KB.")
    raw = request.form.get("data")
    if raw is None:
        raise CallbackError(400, "The webhook has no form field named data.")
    try:
        payload = parse_json(raw, "The webhook's data field")
    except InputError as exc:
        raise CallbackError(400, exc.message) from exc
    if not isinstance(payload, dict):
        raise CallbackError(400, "The webhook's data field must hold a JSON object.")
    bad = next((name for name, value in payload.items() if _has_control_anywhere(name, value)), None)
    if bad is not None:
        raise CallbackError(400, f"The webhook's {str(bad)[:40]!r} holds control characters (such as NUL).")
    return payload


def _has_control_anywhere(name: str, value: Any) -> bool:
    """NUL and other control characters in a field name or any string inside its value (PostgreSQL refuses NUL)."""
    stack: list[Any] = [name, value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_control(item, allow_whitespace=True):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _identifier(payload: dict[str, Any], name: str, column: Any) -> str:
    value = payload.get(name)
    if value in (None, ""):
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CallbackError(400, f"The webhook's {name} must be a string or an integer.")
    try:
        return checked_text(value, f"The webhook's {name}", column)
    except InputError as exc:
        raise CallbackError(400, exc.message) from exc


def _bounded(value: str, name: str, column: Any = None, max_length: int | None = None) -> str:
    try:
        return checked_text(value, f"The webhook's {name}", column, max_length)
    except InputError as exc:
        raise CallbackError(400, exc.message) from exc


def _account_id(settings: Any) -> int | None:
    try:
        return int((settings or {})["account_id"])
    except (KeyError, TypeError, ValueError):
        return None


def _level(payload: dict[str, Any], name: str, required: bool) -> float | None:
    value = payload.get(name)
    if value in (None, ""):
        if required:
            raise CallbackError(400, f"The webhook has no {name}.")
        return None
    try:
        level = float(value)
    except (TypeError, ValueError) as exc:
        raise CallbackError(400, f"{name} {value!r} is not a number.") from exc
    if not math.isfinite(level) or not 0 <= level <= SCALE_MAXIMUM:
        raise CallbackError(400, f"{name} {value!r} is outside 0–6.")
    return level


_conforms: type[AssessmentProvider] = ItepProvider  # mypy checks the class against the interface
