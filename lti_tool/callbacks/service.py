"""Handle a provider callback: authenticate, validate, store once, queue the gradebook score."""

from __future__ import annotations

from sqlalchemy import orm

from lti_tool.grading.policy import RecordedResult
from lti_tool.grading.policy import record_result
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import CallbackError
from lti_tool.providers.interfaces import CallbackRequest


def handle_callback(session: orm.Session, provider: AssessmentProvider, request: CallbackRequest,
                    report_page_url: str) -> RecordedResult:
    """:raise CallbackError: refused; the caller rolls back, so nothing is stored."""
    attempt = provider.find_attempt(session, request)
    activity = session.get(Activity, attempt.activity_id)
    assessment = session.get(Assessment, activity.assessment_id) if activity else None
    if activity is None or assessment is None or assessment.provider != provider.name:
        raise CallbackError(404, f"This attempt does not belong to a {provider.label} activity.")
    report = provider.read_result(session, assessment, activity, request)
    return record_result(session, attempt, activity, report, provider.label, report_page_url)
