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
INVALIDATED = "invalidated"
COMPONENT_LABELS = {"overall": "overall", "pronunciation": "pronunciation", "fluency": "fluency",
                    "vocab": "vocabulary", "grammar": "grammar"}
# What each non-graded outcome tells the gradebook (AGS activityProgress, gradingProgress), and the teacher.
UNGRADED_OUTCOMES = {
    "finished": ("Submitted", "Pending", "{label}: the test is finished and waits for the provider's grading."),
    "withdrawn": ("Initialized", "NotReady", "{label} invalidated or reset the test: the grade was withdrawn."),
    "pending": ("Submitted", "Pending", "{label} invalidated or reset the test: the grade is pending."),
}


@dataclass(frozen=True)
class RecordedResult:
    result_id: int | None
    is_new: bool
    submission_id: int | None


def record_result(session: orm.Session, attempt: Attempt, activity: Activity, report: ReportedResult,
                  provider_label: str, report_page_url: str) -> RecordedResult:
    """Store ``report`` unless this attempt already has it, and queue what the gradebook must now show.

    :param report_page_url: the tool's own (teacher-only) page for the result; the provider's report URL is a
        capability and never goes to the LMS.
    """
    result_public_id = new_public_id()
    result_id = insert_if_absent(session, Result, ["attempt_id", "external_id"], {
        "attempt_id": attempt.id, "external_id": report.external_id, "status": report.status,
        "scores": report.scores, "scale_maximum": report.scale_maximum, "report_url": report.report_url,
        "payload": report.payload, "public_id": result_public_id, "datetime_received": utcnow(),
    })
    if result_id is None:
        log.info("duplicate %s result for attempt %s ignored", provider_label, attempt.id)
        return RecordedResult(result_id=None, is_new=False, submission_id=None)
    if report.status == "attention":
        attempt.status_detail = f"{provider_label} reports: {report.level_label or 'needs attention'}."
        return RecordedResult(result_id=result_id, is_new=True, submission_id=None)
    attempt.status = AttemptStatus.SUBMITTED.value
    attempt.status_detail = None
    if report.status == COMPLETE:
        submission = _graded_submission(session, attempt, activity, report, provider_label, result_id,
                                        f"{report_page_url}/{result_public_id}")
    else:
        submission = _ungraded_submission(session, attempt, activity, report, provider_label, result_id)
    if submission is None:
        return RecordedResult(result_id=result_id, is_new=True, submission_id=None)
    supersede_pending(session, attempt.id)
    session.add(submission)
    session.flush()
    return RecordedResult(result_id=result_id, is_new=True, submission_id=submission.id)


def _graded_submission(session: orm.Session, attempt: Attempt, activity: Activity, report: ReportedResult,
                       provider_label: str, result_id: int, report_link: str) -> ScoreSubmission | None:
    if activity.attempts_policy == AttemptsPolicy.LATEST:
        # The newest complete result decides: no need to read the others back.
        value: float | None = report.scores[activity.score_component] / report.scale_maximum
    else:
        value = gradebook_value(session, attempt, activity)
    if value is None:
        return None
    return ScoreSubmission(
        attempt_id=attempt.id, result_id=result_id, score_given=round(value * activity.score_maximum, 4),
        score_maximum=activity.score_maximum, activity_progress="Completed", grading_progress="FullyGraded",
        comment=_comment(provider_label, activity, report, report_link), status=SubmissionStatus.PENDING.value,
        next_attempt_at=utcnow(),
    )


def _ungraded_submission(session: orm.Session, attempt: Attempt, activity: Activity, report: ReportedResult,
                         provider_label: str, result_id: int) -> ScoreSubmission | None:
    activity_progress, grading_progress, detail = UNGRADED_OUTCOMES[report.status]
    if report.status == "finished" and gradebook_value(session, attempt, activity) is not None:
        return None  # a late "finished" must not pull back a grade that already stands
    if report.status in {"withdrawn", "pending"}:
        # The earlier grades of this attempt no longer count, for any policy.
        session.execute(sa.update(Result).where(Result.attempt_id == attempt.id, Result.id != result_id,
                                                Result.status == COMPLETE).values(status=INVALIDATED))
    attempt.status_detail = detail.format(label=provider_label)
    return ScoreSubmission(
        attempt_id=attempt.id, result_id=result_id, score_given=None, score_maximum=activity.score_maximum,
        activity_progress=activity_progress, grading_progress=grading_progress, comment=attempt.status_detail,
        status=SubmissionStatus.PENDING.value, next_attempt_at=utcnow(),
    )


def requeue_grade(session: orm.Session, attempt: Attempt) -> bool:
    """Queue the attempt's current grade once more (a teacher's "resend"); False if it has no grade yet."""
    activity = session.get(Activity, attempt.activity_id)
    if activity is None:
        return False
    latest = session.scalars(sa.select(ScoreSubmission).where(ScoreSubmission.attempt_id == attempt.id)
                             .order_by(ScoreSubmission.id.desc()).limit(1)).first()
    if latest is None:
        return False
    supersede_pending(session, attempt.id)
    session.add(ScoreSubmission(
        attempt_id=attempt.id, result_id=latest.result_id, score_given=latest.score_given,
        score_maximum=latest.score_maximum, activity_progress=latest.activity_progress,
        grading_progress=latest.grading_progress, comment=latest.comment, status=SubmissionStatus.PENDING.value,
        next_attempt_at=utcnow()))
    attempt.status = AttemptStatus.SUBMITTED.value
    attempt.status_detail = "Grade queued again by a teacher."
    return True


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
