"""The one interface every test provider implements; adding a provider is one new module in this package.

A provider does two things: start a learner's attempt (an embedded test, or a test ID to hand out), and turn the
provider's callback into a :class:`ReportedResult` after authenticating it. Everything else — attempts, results,
the gradebook outbox — is shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar
from typing import Protocol

from sqlalchemy import orm

from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import Result


class ProviderError(Exception):
    """The provider could not start the test. ``message`` is shown to the learner; ``detail`` to teachers/logs."""

    def __init__(self, message: str, detail: str | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message
        self.retryable = retryable


class CallbackError(Exception):
    """A provider callback is refused: ``status`` (4xx) and a message a human understands. Nothing is stored."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Learner:
    """What the LMS shared about the learner (names and email only when it did)."""

    user_id: str
    name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None


@dataclass(frozen=True)
class EmbeddedTest:
    """Show the test in an iframe; ``origin`` is the provider origin that gets the microphone and camera."""

    src: str
    origin: str
    height: int = 720


@dataclass(frozen=True)
class TestTicket:
    """A test taken elsewhere (iTEP): what the learner needs to start it."""

    test_id: str | None
    password: str | None = None
    link: str | None = None
    instructions: str | None = None
    emailed_to: str | None = None


@dataclass(frozen=True)
class CallbackRequest:
    """A provider's HTTP call, as received (the body unparsed, so signatures can cover its exact bytes)."""

    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackTarget:
    """The attempt a callback is for, as its authenticated request names it.

    ``attempt`` maps :class:`Attempt` columns to values that single out one attempt: its ``id``, or a unique key
    such as the resource link and user a signed URL carries. ``activity_id`` is the attempt's activity when the
    request vouches for it (a signed URL); the callback then needs no lookup before it writes, and the write
    checks that the attempt still belongs to that activity.
    """

    attempt: Mapping[str, int | str]
    activity_id: int | None = None


@dataclass(frozen=True)
class ActivityConfig:
    """What a callback needs of the attempt's activity and assessment (kept per process for a short time, see
    :mod:`lti_tool.activity_configs`). ``secret`` is the provider key; ``settings`` the assessment's settings."""

    activity_id: int
    assessment_id: int
    provider: str
    secret: str | None
    settings: Mapping[str, Any]
    score_component: str
    score_maximum: float
    attempts_policy: str

    def __repr__(self) -> str:  # never show the secret
        return f"<ActivityConfig {self.activity_id} {self.provider} assessment {self.assessment_id}>"


@dataclass(frozen=True)
class ReportedResult:
    """A provider outcome, validated. ``external_id`` identifies it at the provider (idempotency key);
    ``status`` is one of :data:`RESULT_STATUSES`."""

    external_id: str
    status: str
    scores: dict[str, float]
    scale_maximum: float
    report_url: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    level_label: str | None = None  # e.g. the CEFR level


@dataclass(frozen=True)
class ReportDetails:
    """The main parts of a provider's report, for the teacher's result page."""

    scores: dict[str, float]
    questions: list[dict[str, str]] = field(default_factory=list)
    rubric: str | None = None
    link: str | None = None
    problem: str | None = None  # why the full report could not be shown


RESULT_STATUSES = ("complete", "finished", "withdrawn", "pending", "attention")


class AssessmentProvider(Protocol):
    """A speaking-test provider. Implementations are built once per process with the shared HTTP session."""

    name: ClassVar[str]
    label: ClassVar[str]
    scale_maximum: ClassVar[float]
    components: ClassVar[tuple[str, ...]]

    def start_attempt(self, session: orm.Session, assessment: Assessment, attempt: Attempt,
                      learner: Learner) -> EmbeddedTest | TestTicket:
        """Start (or resume) the learner's test. :raise ProviderError: the provider failed; tell the learner."""
        ...

    def find_attempt(self, session: orm.Session, request: CallbackRequest) -> CallbackTarget:
        """Authenticate the callback and say which attempt it is for (without loading it when the request
        names it by a key). :raise CallbackError: refused."""
        ...

    def read_result(self, session: orm.Session, config: ActivityConfig, request: CallbackRequest) -> ReportedResult:
        """Check the provider key against ``config`` and validate the payload. :raise CallbackError: refused,
        malformed or out of range. Called before anything is stored, and again with a configuration read afresh
        when it refused with one a process kept.

        ``status`` is ``complete`` (graded), ``finished`` (waiting for grading), ``withdrawn`` or ``pending``
        (an earlier grade no longer stands), or ``attention`` (the teacher must look; no grade change)."""
        ...

    def report_details(self, result: Result) -> ReportDetails:
        """The report's main parts for a teacher; never raises (a fetch problem goes in ``problem``)."""
        ...
