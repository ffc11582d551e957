"""A third provider that lives in the tests only, to prove a provider is one module: the tool finds it through
LTI_TOOL_PROVIDERS (``tests.providers.echo_provider:EchoProvider``) and no other file of lti_tool changes.

The "test" is a page at the assessment's URL; its callback is a JSON body ``{"id": …, "score": …}`` posted to a
URL signed over the attempt, so the signature is the only authentication — and a forged one is refused."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from typing import ClassVar
from urllib.parse import urlencode

from sqlalchemy import orm

from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import ProviderAccount
from lti_tool.models import Result
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
from lti_tool.providers.interfaces import FormField
from lti_tool.providers.interfaces import Learner
from lti_tool.providers.interfaces import ProviderContext
from lti_tool.providers.interfaces import ProviderOutcome
from lti_tool.providers.interfaces import ReportDetails
from lti_tool.providers.interfaces import ReportedResult
from lti_tool.providers.signing import CallbackSigner

SCALE = 10.0


class EchoProvider:
    name: ClassVar[str] = "echo"
    label: ClassVar[str] = "Echo"
    summary: ClassVar[str] = "A test that repeats what it is told, for the provider contract."
    scale_maximum: ClassVar[float] = SCALE
    component_labels: ClassVar[Mapping[str, str]] = {"overall": "overall", "echo": "echo accuracy"}
    components: ClassVar[tuple[str, ...]] = ("overall", "echo")
    assessment_form: ClassVar[AssessmentForm] = AssessmentForm(fields=(
        FormField("page_url", "Echo page URL", placeholder="https://echo.example/test", help="The echo test page."),))
    account_form: ClassVar[AccountForm | None] = None
    assessment_actions: ClassVar[tuple[AssessmentAction, ...]] = ()

    def __init__(self, context: ProviderContext) -> None:
        self._signer = CallbackSigner(context.secret_key, self.name)
        self._callback_url = context.callback_url

    def create_assessment(self, session: orm.Session, title: str, values: Mapping[str, str],
                          account: ProviderAccount | None) -> Assessment:
        page_url = values.get("page_url", "").strip()
        if not page_url.startswith(("http://", "https://")):
            raise ValueError("the echo page URL must be an http(s) URL")
        assessment = Assessment(provider=self.name, title=title, settings={"page_url": page_url})
        session.add(assessment)
        session.flush()
        return assessment

    def describe_assessment(self, assessment: Assessment) -> AssessmentSummary:
        return AssessmentSummary(source="page", url=str(assessment.settings.get("page_url")))

    def offers_action(self, assessment: Assessment, action: str) -> bool:
        return False

    def change_assessment(self, session: orm.Session, assessment: Assessment, action: str,
                          values: Mapping[str, str]) -> None:
        raise ValueError("echo assessments do not change")

    def create_account(self, session: orm.Session, name: str, values: Mapping[str, str],
                       deployment_id: int | None) -> ProviderAccount:
        raise ValueError("echo has no accounts")

    def describe_account(self, account: ProviderAccount) -> AccountView:
        return AccountView(id=account.id, name=account.name, columns=())

    def account_instructions(self, account: ProviderAccount) -> str:
        return ""

    def begin_retake(self, attempt: Attempt) -> None:
        """Every launch embeds the echo page afresh."""

    def start_attempt(self, session: orm.Session, assessment: Assessment, attempt: Attempt,
                      learner: Learner) -> EmbeddedTest:
        values = {"attempt": str(attempt.id)}
        callback = f"{self._callback_url}?{urlencode({**values, 'sig': self._signer.sign(values)})}"
        src = f"{assessment.settings['page_url']}?{urlencode({'callback': callback})}"
        return EmbeddedTest(src=src, origin=src.split("/", 3)[0] + "//" + src.split("/", 3)[2])

    def find_attempt(self, session: orm.Session, request: CallbackRequest) -> CallbackTarget:
        attempt = request.query.get("attempt", "")
        if not attempt.isdigit() or not self._signer.verify({"attempt": attempt}, request.query.get("sig", "")):
            raise CallbackError(403, "The echo callback's signature does not match.")
        return CallbackTarget(attempt={"id": int(attempt)})

    def read_result(self, session: orm.Session, config: ActivityConfig, request: CallbackRequest) -> ReportedResult:
        try:
            body: Any = json.loads(request.body)
            score = float(body["score"])
            result_id = str(body["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackError(400, "The echo callback needs an id and a numeric score.") from exc
        if not 0 <= score <= SCALE:
            raise CallbackError(400, "The echo score is outside 0–10.")
        return ReportedResult(external_id=result_id, status="complete", scores={"overall": score, "echo": score},
                              scale_maximum=SCALE, payload={"id": result_id, "score": score})

    def report_details(self, result: Result) -> ReportDetails:
        return ReportDetails(scores=result.scores, rubric=f"echo said {result.payload.get('score')}")

    def outcome(self, result: Result) -> ProviderOutcome:
        return ProviderOutcome()

_conforms: type[AssessmentProvider] = EchoProvider  # mypy checks the module against the interface

PROVIDER = EchoProvider  # what LTI_TOOL_PROVIDERS=tests.providers.echo_provider (a module path alone) loads
