"""From a provider's result to the gradebook: store it once, decide the value by the activity's policy, and put
the score in the outbox — all in the caller's transaction, so a stored result always has its score queued."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import insert_if_absent
from lti_tool.db import utcnow
from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import AttemptsPolicy
from lti_tool.models import AttemptStatus
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.models.assessment import new_public_id
from lti_tool.providers.interfaces import ReportedResult

log = logging.getLogger(__name__)

COMPLETE = "complete"
COMPONENT_LABELS = {"overall": "overall", "pronunciation": "pronunciation", "fluency": "fluency",
                    "vocab": "vocabulary", "grammar": "grammar"}


@dataclass(frozen=True)
class RecordedResult:
    result_id: int | None
    is_new: bool
    submission_id: int | None


def record_result(session: orm.Session, attempt: Attempt, activity: Activity, report: ReportedResult,
                  provider_label: str, report_page_url: str) -> RecordedResult:
    """Store ``report`` unless this attempt already has it, and queue the resulting gradebook score.

    :param report_page_url: the tool's own (teacher-only) page for the result; the provider's report URL is a
        capability and never goes to the LMS.
    """
    result_id = insert_if_absent(session, Result, ["attempt_id", "external_id"], {
        "attempt_id": attempt.id, "external_id": report.external_id, "status": report.status,
        "scores": report.scores, "scale_maximum": report.scale_maximum, "report_url": report.report_url,
        "payload": report.payload, "public_id": new_public_id(), "datetime_received": utcnow(),
    })
    if result_id is None:
        log.info("duplicate %s result for attempt %s ignored", provider_label, attempt.id)
        return RecordedResult(result_id=None, is_new=False, submission_id=None)
    attempt.status = AttemptStatus.SUBMITTED.value
    attempt.status_detail = None
    value = gradebook_value(session, attempt, activity)
    if value is None:
        return RecordedResult(result_id=result_id, is_new=True, submission_id=None)
    supersede_pending(session, attempt.id)
    result_public_id = session.scalar(sa.select(Result.public_id).where(Result.id == result_id))
    submission = ScoreSubmission(
        attempt_id=attempt.id,
        result_id=result_id,
        score_given=round(value * activity.score_maximum, 4),
        score_maximum=activity.score_maximum,
        activity_progress="Completed",
        grading_progress="FullyGraded",
        comment=_comment(provider_label, activity, report, f"{report_page_url}/{result_public_id}"),
        status=SubmissionStatus.PENDING.value,
        next_attempt_at=utcnow(),
    )
    session.add(submission)
    session.flush()
    return RecordedResult(result_id=result_id, is_new=True, submission_id=submission.id)


def gradebook_value(session: orm.Session, attempt: Attempt, activity: Activity) -> float | None:
    """The attempt's grade as a fraction of the maximum (0–1) under the activity's policy; ``None`` if no
    complete result carries the graded component."""
    results = session.execute(
        sa.select(Result.scores, Result.scale_maximum)
        .where(Result.attempt_id == attempt.id, Result.status == COMPLETE)
        .order_by(Result.id)
    ).all()
    fractions = [float(row.scores[activity.score_component]) / float(row.scale_maximum)
                 for row in results if activity.score_component in row.scores and row.scale_maximum > 0]
    if not fractions:
        return None
    if activity.attempts_policy == AttemptsPolicy.BEST:
        return max(fractions)
    return fractions[-1]


def supersede_pending(session: orm.Session, attempt_id: int) -> None:
    """Older queued scores for the attempt are replaced by the new one, so the LMS gets one request, not a
    backlog. A row a worker is sending right now (lease held) is left alone; the newer timestamp wins."""
    session.execute(
        sa.update(ScoreSubmission)
        .where(ScoreSubmission.attempt_id == attempt_id,
               ScoreSubmission.status == SubmissionStatus.PENDING.value,
               sa.or_(ScoreSubmission.locked_until.is_(None), ScoreSubmission.locked_until < utcnow()))
        .values(status=SubmissionStatus.SUPERSEDED.value)
    )


def _comment(provider_label: str, activity: Activity, report: ReportedResult, report_link: str) -> str:
    component = activity.score_component
    parts = [f"{provider_label} {COMPONENT_LABELS.get(component, component)} "
             f"{report.scores[component]:g} / {report.scale_maximum:g}"]
    others = [f"{COMPONENT_LABELS.get(name, name)} {value:g}" for name, value in report.scores.items()
              if name != component]
    if others:
        parts.append(f"({', '.join(others)})")
    if report.level_label:
        parts.append(f"level {report.level_label}")
    return " ".join(parts) + f". Report (teachers): {report_link}"
