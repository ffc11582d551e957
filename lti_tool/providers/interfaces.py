"""The one interface every test provider implements; adding a provider is one new module, registered as an entry
point of the group ``lti_tool.providers`` (see :mod:`lti_tool.providers.registry`).

A provider declares what the rest of the tool needs of it: its name, label and score components (with their
labels and scale); the forms the admin pages and the command line show to add its assessments (and, if it has
them, its accounts); how an assessment is created and changed; how a learner's attempt starts (an embedded test,
or a test ID to hand out); how its callback is authenticated and read into a :class:`ReportedResult`; and how a
report is shown. Everything else — attempts, results, the gradebook outbox — is shared.

Transactions belong to the caller (the request): a provider never commits. A start that needs an HTTP request
returns a :class:`PendingStart`; the caller commits what is written so far, runs its ``fetch`` with no write
pending, then lets ``finish`` record the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any
from typing import ClassVar
from typing import Protocol

import requests
from sqlalchemy import orm

from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import ProviderAccount
from lti_tool.models import Result
from lti_tool.translatable import N_
from lti_tool.translatable import MarkedError
from lti_tool.translatable import gettext


class ProviderError(MarkedError):
    """The provider could not start the test. ``message`` is shown to the learner; ``detail`` to teachers/logs
    (English).

    ``message`` is marked with ``N_`` where it is raised and has named placeholders filled from ``values`` (the
    provider's own words, never translated): :meth:`shown` is the learner's language, ``str()`` the English."""

    def __init__(self, message: str, detail: str | None = None, retryable: bool = True, **values: object) -> None:
        super().__init__(message, **values)
        self.detail = detail or self.reason
        self.retryable = retryable


class RefusedValue(MarkedError, ValueError):
    """A value an admin entered cannot work: ``str()`` is the English (the command line, the log), :meth:`shown`
    the reader's language (the admin page)."""


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
    # The message (postMessage data) the provider's page sends when the learner is done: the page then asks
    # the tool whether the result has arrived.
    completion_message: str | None = None


@dataclass(frozen=True)
class TestTicket:
    """A test taken elsewhere: what the learner needs to start it, and who hands it out (``provider_label``)."""

    test_id: str | None
    provider_label: str = ""
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


@dataclass(frozen=True)
class ProviderOutcome:
    """What a stored result meant in the provider's own words ("Invalidated", "Review"…), for the status people
    see; ``reset`` says the provider put the test back to the start rather than withdrawing its grade."""

    words: str | None = None
    reset: bool = False


RESULT_STATUSES = ("complete", "finished", "withdrawn", "pending", "attention")


@dataclass(frozen=True)
class ProviderContext:
    """What the installation gives a provider when it builds it: the shared HTTP session (timeouts, quiet URL
    logging), the secret that callback URL signatures derive from, and the public URL of the provider's callback
    route (``/callbacks/<name>``)."""

    http: requests.Session
    secret_key: str
    callback_url: str


def _shown(text: str) -> str:
    """``text`` in the reader's language when it is marked (``N_``) where a provider declares it; empty stays empty
    (the catalogue's empty id is its header)."""
    return gettext(text) if text else text


@dataclass(frozen=True)
class FormField:
    """One input of a provider's form: a field on the admin page and an option of ``lti-tool`` (``--name`` with
    dashes). ``kind`` is ``text``, ``secret`` (a password field; the command line prompts for it, hidden, never
    an argument) or ``choice`` (``choices`` are value, label pairs; the first is the default).

    What the admin page shows (``label``, the choices' labels, a worded ``placeholder``) is marked with ``N_``;
    ``help`` is the command line's, in English."""

    name: str
    label: str
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""
    placeholder: str = ""
    required: bool = False
    help: str = ""
    cli_name: str = ""  # the command line's option name, when it is not ``name`` with dashes

    @property
    def option(self) -> str:
        return "--" + (self.cli_name or self.name.replace("_", "-"))

    @property
    def initial(self) -> str:
        return self.default or (self.choices[0][0] if self.choices else "")

    def shown(self) -> FormField:
        """The field as the admin page shows it, in the reader's language (names and values unchanged)."""
        return replace(self, label=_shown(self.label), placeholder=_shown(self.placeholder),
                       choices=tuple((value, _shown(text)) for value, text in self.choices))


@dataclass(frozen=True)
class AssessmentForm:
    """How admins add the provider's assessments. ``shared``: every school is offered them, so only tool admins
    add them (on the assessments page). ``per_account``: each belongs to one of the provider's accounts and is
    added on the accounts page (``noun`` names it there, e.g. "product")."""

    fields: tuple[FormField, ...]
    shared: bool = True
    per_account: bool = False
    # Marked (N_) but also the URL's word: only a sentence that names it translates it.
    noun: str = N_("assessment")
    added_notice: str = N_("Assessment added. Its key is stored on the server and shown masked.")

    def shown(self) -> AssessmentForm:
        """The form's fields as the admin page shows them (the noun stays: it is in the form's URL)."""
        return replace(self, fields=tuple(field.shown() for field in self.fields))


@dataclass(frozen=True)
class AccountForm:
    """A school's account with the provider (endpoint, credentials), for providers that need one: its page
    explains ``intro``; ``added_notice`` is shown once one is added."""

    fields: tuple[FormField, ...]
    intro: str
    added_notice: str

    def shown(self) -> AccountForm:
        return replace(self, fields=tuple(field.shown() for field in self.fields), intro=_shown(self.intro),
                       added_notice=_shown(self.added_notice))


@dataclass(frozen=True)
class AssessmentAction:
    """A change the provider offers on one of its assessments (e.g. replacing its key): a small form beside it on
    the assessments page, posted to ``/admin/assessments/<id>/<name>``."""

    name: str
    button: str
    fields: tuple[FormField, ...]
    notice: str
    description: str  # for the audit log and the log: never a field's value (it may hold a secret)
    event: str  # the audit log's name of the change, e.g. ``assessment-key``

    def shown(self) -> AssessmentAction:
        """The button, notice and fields in the reader's language (the name, event and description stay)."""
        return replace(self, button=_shown(self.button), notice=_shown(self.notice),
                       fields=tuple(field.shown() for field in self.fields))


@dataclass(frozen=True)
class AssessmentSummary:
    """What the assessments page shows of where a test comes from (never a secret)."""

    source: str
    url: str | None = None


@dataclass(frozen=True)
class AccountLine:
    """One line of an account's cell on the accounts page: a label, and a value shown as code.

    ``text`` is shown as it is (an account's name); a line made with :meth:`worded` has a sentence marked with
    ``N_`` and named values (the account's settings, never translated) that :meth:`shown` translates."""

    text: str = ""
    code: str = ""
    muted: bool = False
    message: str = ""
    values: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def worded(cls, message: str, *, code: str = "", muted: bool = False, **values: object) -> AccountLine:
        """A line in the provider's words; ``text`` is the English (a label before ``code`` ends with a space)."""
        return cls(text=cls._spaced(message % values if values else message, code), code=code, muted=muted,
                   message=message, values=values)

    @staticmethod
    def _spaced(text: str, code: str) -> str:
        return f"{text} " if text and code else text

    def shown(self) -> AccountLine:
        if not self.message:
            return self
        return replace(self, text=self._spaced(gettext(self.message, **self.values), self.code))


@dataclass(frozen=True)
class AccountView:
    """An account as its page shows it: ``columns`` are (heading, lines); secrets only masked."""

    id: int
    name: str
    # Headings are marked with N_ where the provider declares them.
    columns: tuple[tuple[str, tuple[AccountLine, ...]], ...]

    def shown(self) -> AccountView:
        return replace(self, columns=tuple((_shown(heading), tuple(line.shown() for line in lines))
                                           for heading, lines in self.columns))


@dataclass(frozen=True)
class PendingStart:
    """A start that needs the provider over HTTP. The caller commits first, then runs ``fetch`` (HTTP only, no
    database) and hands what it returns to ``finish`` (database only), which returns the test or raises
    :class:`ProviderError` after recording why."""

    fetch: Callable[[], Any]
    finish: Callable[[orm.Session, Any], EmbeddedTest | TestTicket]


class AssessmentProvider(Protocol):
    """A speaking-test provider. Implementations are built once per process with a :class:`ProviderContext`;
    their declarations are class attributes, so the command line reads them without building one."""

    name: ClassVar[str]  # its callback route is /callbacks/<name>; stored on its assessments
    label: ClassVar[str]
    # What the test is, for the learner before they start (one or two plain sentences).
    summary: ClassVar[str]
    scale_maximum: ClassVar[float]
    # Score components, in the order reports list them, each with the label teachers and gradebooks read.
    component_labels: ClassVar[Mapping[str, str]]
    components: ClassVar[tuple[str, ...]]  # the names of component_labels, ``overall`` first
    assessment_form: ClassVar[AssessmentForm]
    account_form: ClassVar[AccountForm | None]
    assessment_actions: ClassVar[tuple[AssessmentAction, ...]]

    def __init__(self, context: ProviderContext) -> None:
        ...

    # --- assessments and accounts -----------------------------------------------------------------------------

    def create_assessment(self, session: orm.Session, title: str, values: Mapping[str, str],
                          account: ProviderAccount | None) -> Assessment:
        """Validate the form's ``values`` and add the assessment (flushed, not committed); ``account`` is given
        when the form is ``per_account``. :raise ValueError: a value cannot work (the message says why)."""
        ...

    def describe_assessment(self, assessment: Assessment) -> AssessmentSummary:
        ...

    def offers_action(self, assessment: Assessment, action: str) -> bool:
        """Whether the assessments page shows ``action``'s form beside ``assessment``."""
        ...

    def change_assessment(self, session: orm.Session, assessment: Assessment, action: str,
                          values: Mapping[str, str]) -> None:
        """Carry out one of :attr:`assessment_actions`. :raise ValueError: refused (the message says why)."""
        ...

    def create_account(self, session: orm.Session, name: str, values: Mapping[str, str],
                       deployment_id: int | None) -> ProviderAccount:
        """Add an account from :attr:`account_form`'s values. :raise ValueError: a value cannot work."""
        ...

    def describe_account(self, account: ProviderAccount) -> AccountView:
        ...

    def account_instructions(self, account: ProviderAccount) -> str:
        """What the admin does next with a new account (e.g. the callback URL to give the provider), secrets
        masked."""
        ...

    # --- the learner's test -----------------------------------------------------------------------------------

    def start_attempt(self, session: orm.Session, assessment: Assessment, attempt: Attempt,
                      learner: Learner) -> EmbeddedTest | TestTicket | PendingStart:
        """Start (or resume) the learner's test, or say what to fetch to start it. Never commits and never calls
        out itself. :raise ProviderError: the provider failed; tell the learner."""
        ...

    def begin_retake(self, attempt: Attempt) -> None:
        """The learner (or a teacher's reset) begins another try of ``attempt``: forget what tied it to the last
        try's test, so that :meth:`start_attempt` starts a new one. Never commits."""
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

    def outcome(self, result: Result) -> ProviderOutcome:
        """The provider's own word for a stored result (see :mod:`lti_tool.attempt_state`); never raises."""
        ...


class ShownProvider:
    """A provider as the admin pages show it: its forms' words in the reader's language, everything else (its
    name, label, forms' names and noun, methods) its own."""

    def __init__(self, provider: AssessmentProvider) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    @property
    def assessment_form(self) -> AssessmentForm:
        return self._provider.assessment_form.shown()

    @property
    def account_form(self) -> AccountForm | None:
        form = self._provider.account_form
        return form.shown() if form is not None else None
