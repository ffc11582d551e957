"""Speechace speaking test: oEmbed (or a configured test URL) server-side, results through the score callback.

Facts (shared/docs/providers.md §1): the share link carries a secret ``key`` that bills the school, so it is only
ever used server-side; the callback's only authentication is that key, so our callback URL also carries an HMAC
over (course, quiz, user, activity) that binds it to one learner's attempt; scores are on 0–9.
"""

from __future__ import annotations

import functools
import hmac
import json
import math
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any
from typing import ClassVar
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import requests
import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.inputs import InputError
from lti_tool.inputs import column_length
from lti_tool.inputs import has_control
from lti_tool.inputs import parse_json
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import LtiUser
from lti_tool.models import ProviderAccount
from lti_tool.models import Result
from lti_tool.providers import speechace_assessments
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
from lti_tool.providers.interfaces import EmbeddedTest
from lti_tool.providers.interfaces import Learner
from lti_tool.providers.interfaces import PendingStart
from lti_tool.providers.interfaces import ProviderContext
from lti_tool.providers.interfaces import ProviderError
from lti_tool.providers.interfaces import ProviderOutcome
from lti_tool.providers.interfaces import ReportDetails
from lti_tool.providers.interfaces import ReportedResult
from lti_tool.providers.signing import CallbackSigner
from lti_tool.providers.speechace_assessments import split_share_link
from lti_tool.translatable import N_

__all__ = ["SpeechaceProvider", "split_share_link"]

MAX_CALLBACK_BYTES = 64 * 1024
SCALE_MAXIMUM = 9.0
SCORE_FIELDS = ("overall", "pronunciation", "fluency", "vocab", "grammar")
# Speechace's scoring rubrics (its report's "default_rubric") in words.
RUBRIC_NAMES = {"speechace": "the Speechace scale", "ielts": "the IELTS band scale", "pte": "the PTE scale",
                "toefl": "the TOEFL scale", "cefr": "CEFR levels"}
COMPONENT_LABELS = {"overall": N_("overall"), "pronunciation": N_("pronunciation"), "fluency": N_("fluency"),
                    "vocab": N_("vocabulary"), "grammar": N_("grammar")}
# What Speechace's page posts to its parent when the learner finishes.
COMPLETION_MESSAGE = "speechaceActivityComplete"
_REPORT_PATH = re.compile(r"/placement/report/([a-f0-9]+)/?$")
MAX_REPORT_BYTES = 1024 * 1024
_SIGNED_VALUES = ("course", "quiz", "user", "activity")
_LEARNER = "learner"  # signed, never shown in the URL: the app_user_id given to Speechace
_COURSE_PATH = re.compile(r"/courses?/(\d+)(?:/|$)")


class SpeechaceProvider:
    name: ClassVar[str] = speechace_assessments.NAME
    label: ClassVar[str] = "Speechace"
    summary: ClassVar[str] = N_("A speaking test: you answer each question aloud into your microphone, and your "
                              "answers are scored for pronunciation, fluency, vocabulary and grammar.")
    scale_maximum: ClassVar[float] = SCALE_MAXIMUM
    component_labels: ClassVar[Mapping[str, str]] = COMPONENT_LABELS
    components: ClassVar[tuple[str, ...]] = SCORE_FIELDS
    assessment_form: ClassVar[AssessmentForm] = speechace_assessments.ASSESSMENT_FORM
    account_form: ClassVar[AccountForm | None] = None
    assessment_actions: ClassVar[tuple[AssessmentAction, ...]] = (speechace_assessments.REPLACE_KEY,)

    def __init__(self, context: ProviderContext) -> None:
        self._http = context.http
        self._signer = CallbackSigner(context.secret_key, self.name)
        self._callback_base_url = context.callback_url

    # --- assessments (the admin pages and the command line) ---------------------------------------------------

    def create_assessment(self, session: orm.Session, title: str, values: Mapping[str, str],
                          account: ProviderAccount | None) -> Assessment:
        return speechace_assessments.from_form(session, title, values)

    def describe_assessment(self, assessment: Assessment) -> AssessmentSummary:
        settings = assessment.settings or {}
        url = settings.get("oembed_url") or settings.get("test_url")
        return AssessmentSummary(source=str(settings.get("mode", "")), url=str(url) if url else None)

    def offers_action(self, assessment: Assessment, action: str) -> bool:
        return action == speechace_assessments.REPLACE_KEY.name and assessment.settings.get("mode") == "oembed"

    def change_assessment(self, session: orm.Session, assessment: Assessment, action: str,
                          values: Mapping[str, str]) -> None:
        if action != speechace_assessments.REPLACE_KEY.name:
            raise ValueError(f"Speechace assessments have no action {action!r}.")
        speechace_assessments.replace_key(assessment, values.get("share_link", ""))

    def create_account(self, session: orm.Session, name: str, values: Mapping[str, str],
                       deployment_id: int | None) -> ProviderAccount:
        raise ValueError("Speechace needs no account: add its share links as assessments.")

    def describe_account(self, account: ProviderAccount) -> AccountView:
        return AccountView(id=account.id, name=account.name, columns=())

    def account_instructions(self, account: ProviderAccount) -> str:
        return ""

    # --- starting a test --------------------------------------------------------------------------------------

    def begin_retake(self, attempt: Attempt) -> None:
        """Nothing to forget: every launch asks Speechace for the test afresh."""

    def start_attempt(self, session: orm.Session, assessment: Assessment, attempt: Attempt,
                      learner: Learner) -> EmbeddedTest | PendingStart:
        params = {"app_user_id": learner.user_id,
                  "app_score_submission_url": self.callback_url(attempt, learner.user_id)}
        name = learner.name or " ".join(p for p in (learner.given_name, learner.family_name) if p)
        if name:
            params["app_user_fullname"] = name
        if learner.email:
            params["app_user_email"] = learner.email
        if assessment.settings.get("mode") == "iframe":
            return _embedded(_with_params(str(assessment.settings["test_url"]), params))
        url = _with_params(str(assessment.settings["oembed_url"]), {**params, "key": assessment.secret or ""})
        # Fetched by the caller once nothing is pending (an attempt write would otherwise hold its lock).
        return PendingStart(fetch=lambda: self._oembed(url), finish=_shown)

    def _oembed(self, url: str) -> EmbeddedTest:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except requests.Timeout as exc:
            raise ProviderError(N_("Speechace did not answer in time."), "oEmbed request timed out") from exc
        except requests.RequestException as exc:
            raise ProviderError(N_("Speechace cannot be reached right now."),
                                f"oEmbed request failed: {type(exc).__name__}") from exc
        if not response.ok:
            raise ProviderError(N_("Speechace could not open the test."),
                                f"oEmbed answered HTTP {response.status_code}", retryable=response.status_code >= 500)
        try:
            html = response.json()["html"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(N_("Speechace sent an answer the tool cannot read."),
                                "oEmbed answer has no html") from exc
        src = _iframe_src(str(html))
        if src is None:
            raise ProviderError(N_("Speechace sent an answer the tool cannot read."),
                                "oEmbed html has no iframe src")
        return _embedded(src)

    # --- the score callback -----------------------------------------------------------------------------------

    def callback_url(self, attempt: Attempt, learner_id: str) -> str:
        """Our callback URL for this attempt: course, quiz (the activity's placement), user and activity,
        HMAC-bound, and the signature also covers the learner ID given to Speechace (``app_user_id``) without
        showing it, so a body for another learner (``userId``) does not verify. The activity lets the callback
        find its grading settings without reading the attempt."""
        values = {"course": str(attempt.context_id), "quiz": str(attempt.resource_link_id),
                  "user": str(attempt.user_id), "activity": str(attempt.activity_id)}
        signature = self._signer.sign({**values, _LEARNER: learner_id})
        return f"{self._callback_base_url}?{urlencode({**values, 'sig': signature})}"

    def find_attempt(self, session: orm.Session, request: CallbackRequest) -> CallbackTarget:
        payload = _callback_payload(request)
        # URLs handed out before the activity was added to them are signed over the other three values.
        names = _SIGNED_VALUES if "activity" in request.query else _SIGNED_VALUES[:3]
        values = {name: request.query.get(name, "") for name in names}
        signature = request.query.get("sig", "")
        learner_id = _body_id(payload, "userId")
        if not self._signer.verify({**values, _LEARNER: learner_id}, signature):
            # URLs issued before the learner was signed into them: compare userId with the stored learner.
            if not self._signer.verify(values, signature):
                raise CallbackError(403, "The callback URL's signature does not match its userId: it was "
                                         "altered, used for another learner, or not issued by this tool.")
            if learner_id != session.scalar(sa.select(LtiUser.sub).where(LtiUser.id == _number(values["user"]))):
                raise CallbackError(403, "The callback's userId is not the learner this URL was issued for.")
        numbers = {name: _number(value) for name, value in values.items()}
        return CallbackTarget(attempt={"context_id": numbers["course"], "resource_link_id": numbers["quiz"],
                                       "user_id": numbers["user"]}, activity_id=numbers.get("activity"))

    def read_result(self, session: orm.Session, config: ActivityConfig, request: CallbackRequest) -> ReportedResult:
        payload = _callback_payload(request)
        if not config.secret or not hmac.compare_digest(str(payload.get("key", "")).encode(),
                                                        config.secret.encode()):
            raise CallbackError(403, "The callback's key does not match this assessment's Speechace key.")
        _check_course_and_quiz(payload, config)
        scores = _scores(payload.get("score"), required={"overall", config.score_component})
        report_url = payload.get("reportUrl")
        if not isinstance(report_url, str) or urlsplit(report_url).scheme not in {"http", "https"} \
                or len(report_url) > (column_length(Result.report_url) or 2000) or has_control(report_url):
            raise CallbackError(400, "The callback has no valid reportUrl.")
        stored = {name: value for name, value in payload.items() if name != "key"}  # never keep the secret twice
        return ReportedResult(external_id=report_url, status="complete", scores=scores,
                              scale_maximum=SCALE_MAXIMUM, report_url=report_url, payload=stored)

    # --- the report -------------------------------------------------------------------------------------------

    def outcome(self, result: Result) -> ProviderOutcome:
        return ProviderOutcome()  # Speechace reports one thing: a completed, scored test

    def report_details(self, result: Result) -> ReportDetails:
        api_url = _report_api_url(result.report_url or "")
        if api_url is None:
            return ReportDetails(scores=result.scores, link=result.report_url,
                                 problem="The report address is not one the tool can read.")
        try:
            with self._http.get(api_url, headers={"Accept": "application/json"}, stream=True) as response:
                response.raise_for_status()
                return _report_from_json(json.loads(_read_limited(response, MAX_REPORT_BYTES)), result)
        except (requests.RequestException, ValueError) as exc:
            return ReportDetails(scores=result.scores, link=result.report_url,
                                 problem=f"The full report could not be loaded from Speechace ({type(exc).__name__}).")


def _report_api_url(report_url: str) -> str | None:
    """``…/placement/report/<id>`` (the page) → ``…/placement/api/report/<id>/`` (its JSON, as public code reads it)."""
    match = _REPORT_PATH.search(urlsplit(report_url).path)
    if match is None:
        return None
    parts = urlsplit(report_url)
    return f"{parts.scheme}://{parts.netloc}/placement/api/report/{match.group(1)}/"


def _read_limited(response: requests.Response, limit: int) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=16 * 1024):
        size += len(chunk)
        if size > limit:
            raise ValueError(f"the report is larger than {limit // 1024} KB")
        chunks.append(chunk)
    return b"".join(chunks)


def _report_from_json(document: Any, result: Result) -> ReportDetails:
    if not isinstance(document, dict):
        raise ValueError("the report is not a JSON object")
    scoring = document.get("scoring")
    if not isinstance(scoring, dict):
        scoring = {}
    scores = {name: float(part["score"]) for name, part in scoring.items()
              if isinstance(part, dict) and isinstance(part.get("score"), int | float)}
    questions = [
        {"order": str(q.get("order", "")), "answer": str(q.get("answer", "")), "dialect": str(q.get("dialect", ""))}
        for q in document.get("questions", []) if isinstance(q, dict)
    ]
    rubric = document.get("default_rubric")
    return ReportDetails(scores=scores or result.scores, questions=questions,
                         rubric=f"Scored on {RUBRIC_NAMES.get(str(rubric).lower(), rubric)}" if rubric else None,
                         link=result.report_url)


def _callback_payload(request: CallbackRequest) -> dict[str, Any]:
    """The body as Speechace sends it: a JSON object, declared as JSON, of bounded size, depth and numbers."""
    content_type = next((value for name, value in request.headers.items() if name.lower() == "content-type"), "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise CallbackError(415, "The callback body must be JSON (Content-Type: application/json).")
    if len(request.body) > MAX_CALLBACK_BYTES:
        raise CallbackError(413, f"The callback body is larger than {MAX_CALLBACK_BYTES // 1024} KB.")
    try:
        payload = parse_json(request.body, "The callback body")
    except InputError as exc:
        raise CallbackError(400, exc.message) from exc
    if not isinstance(payload, dict):
        raise CallbackError(400, "The callback body must be a JSON object.")
    return payload


def _body_id(payload: Mapping[str, Any], name: str) -> str:
    """An id field of the body as text: Speechace's docs print ``userId`` unquoted, so a number is accepted too."""
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise CallbackError(403, f"The callback's {name} is missing or not an id.")
    return str(value)


def _number(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise CallbackError(400, "The callback URL's ids are not numbers.")
    return int(value)


def _check_course_and_quiz(payload: Mapping[str, Any], config: ActivityConfig) -> None:
    """courseId must be the Speechace course the assessment's share link (or test URL) names; quizId must be an
    id. Speechace's docs show body ids that are its own, not the callback URL's (providers.md §1.7), and the
    tool is never told a quiz id, so the quiz cannot be compared; the learner is (signed with the URL)."""
    course_id = _body_id(payload, "courseId")
    _body_id(payload, "quizId")
    expected = _speechace_course(config.settings)
    if expected is not None and course_id != expected:
        raise CallbackError(403, "The callback's courseId is not the Speechace course of this assessment.")


def _speechace_course(settings: Mapping[str, Any]) -> str | None:
    return _course_in(str(settings.get("oembed_url") or settings.get("test_url") or ""))


@functools.lru_cache(maxsize=256)
def _course_in(url: str) -> str | None:
    """The Speechace course an assessment's URL names; cached, since every callback of the assessment asks."""
    for candidate in (url, *(value for _, value in parse_qsl(urlsplit(url).query))):
        match = _COURSE_PATH.search(urlsplit(candidate).path)
        if match is not None:
            return match.group(1)
    return None


def _scores(raw: Any, required: set[str]) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise CallbackError(400, "The callback has no score object.")
    missing = sorted(name for name in required if raw.get(name) is None)
    if missing:
        raise CallbackError(400, f"The callback is missing the score(s) {', '.join(missing)}.")
    scores: dict[str, float] = {}
    for name in SCORE_FIELDS:
        if raw.get(name) is not None:
            scores[name] = _score_value(name, raw[name])
    return scores


def _score_value(name: str, value: Any) -> float:
    # JSON numbers only: the docs' example prints them as numbers; a string or a boolean is a forgery or a bug.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CallbackError(400, f"The score {name!r} is not a number.")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= SCALE_MAXIMUM:
        raise CallbackError(400, f"The score {name!r} = {value!r} is outside 0–{SCALE_MAXIMUM:g}.")
    return number


class _IframeFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.src: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe" and self.src is None:
            self.src = dict(attrs).get("src")


def _iframe_src(html: str) -> str | None:
    """The provider's iframe URL. We render our own iframe rather than the provider's HTML, so its markup never
    runs in our page and the allow= list is ours."""
    finder = _IframeFinder()
    finder.feed(html)
    src = finder.src
    if not src or urlsplit(src).scheme not in {"http", "https"}:
        return None
    return src


def _embedded(src: str) -> EmbeddedTest:
    parts = urlsplit(src)
    return EmbeddedTest(src=src, origin=f"{parts.scheme}://{parts.netloc}", completion_message=COMPLETION_MESSAGE)


def _shown(session: orm.Session, test: EmbeddedTest) -> EmbeddedTest:
    return test  # nothing to record: the attempt is written before the oEmbed request


def _with_params(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


_conforms: type[AssessmentProvider] = SpeechaceProvider  # mypy checks the class against the interface
