"""From a provider's result to the gradebook: store it once, decide the value by the activity's policy, and put
the score in the outbox — in one write (:mod:`lti_tool.grading.results`), so a stored result always has its score
queued."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.grading.results import COMPLETE
from lti_tool.grading.results import ResultWrite
from lti_tool.grading.results import store_result
from lti_tool.grading.results import supersede_pending
from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import AttemptsPolicy
from lti_tool.models import AttemptStatus
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.models.assessment import new_public_id
from lti_tool.providers.interfaces import ActivityConfig
from lti_tool.providers.interfaces import CallbackTarget
from lti_tool.providers.interfaces import ReportedResult

log = logging.getLogger(__name__)
MAX_KEY_CHARS = 1000  # result.external_id

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


def record_result(session: orm.Session, target: CallbackTarget, config: ActivityConfig, report: ReportedResult,
                  provider_label: str, report_page_url: str, check_activity: bool,
                  component_labels: Mapping[str, str] | None = None) -> RecordedResult | None:
    """Store ``report`` unless the attempt already has it, and queue what the gradebook must now show; ``None``
    when nothing was stored (a repeated delivery, no such attempt, or — ``check_activity`` — the attempt is no
    longer ``config``'s activity).

    :param report_page_url: the tool's own (teacher-only) page for the result; the provider's report URL is a
        capability and never goes to the LMS.
    :param component_labels: the provider's names of its score components in the gradebook comment.
    """
    now = utcnow()
    result_public_id = new_public_id()
    result = {"external_id": report.external_id, "status": report.status, "scores": report.scores,
              "scale_maximum": report.scale_maximum, "report_url": report.report_url, "payload": report.payload,
              "public_id": result_public_id, "datetime_received": now}
    if report.status == "attention":
        write = ResultWrite(result=result, attempt_status=None, submission=None, invalidate_others=False, now=now,
                            attempt_detail=f"{provider_label} reports: {report.level_label or 'needs attention'}.")
    elif report.status == COMPLETE:
        value = _graded_value(session, target, config, report)
        submission = _submission(config, now, score_given=round(value * config.score_maximum, 4),
                                 activity_progress="Completed", grading_progress="FullyGraded",
                                 comment=_comment(provider_label, config, report,
                                                  f"{report_page_url}/{result_public_id}", component_labels or {}))
        write = ResultWrite(result=result, attempt_status=AttemptStatus.SUBMITTED.value, attempt_detail=None,
                            submission=submission, invalidate_others=False, now=now, finish="finished")
    else:
        write = _ungraded_write(session, target, config, report, provider_label, result, now)
    guard = target.activity_id if check_activity else None
    stored = store_result(session, target.attempt, guard, write)
    if stored is None:
        # The provider's key is taken. Only an identical repeat of the attempt's last result is a duplicate; a
        # correction (Complete 4.5 → Invalidated → Complete 5.0 on one day, same TestID and date) is new. The
        # usual delivery stays one statement: the last result is read only when the key is taken.
        last = _last_result(session, target.attempt)
        if last is None or _same_outcome(last, report):
            return None
        keyed = {**result, "external_id": _idempotency_key(report.external_id, last)}
        stored = store_result(session, target.attempt, guard, dataclasses.replace(write, result=keyed))
    if stored is None:
        return None
    return RecordedResult(result_id=stored.result_id, is_new=True, submission_id=stored.submission_id)


def _last_result(session: orm.Session, attempt_key: Mapping[str, int | str]) -> Result | None:
    return session.scalars(
        sa.select(Result).join(Attempt, Attempt.id == Result.attempt_id)
        .where(*(getattr(Attempt, name) == value for name, value in attempt_key.items()))
        .order_by(Result.id.desc()).limit(1)).first()


def _same_outcome(last: Result, report: ReportedResult) -> bool:
    """Only a result identical to the attempt's last one (status, every score, the provider's payload: its level
    and words) is a repeat; a correction — even one with the provider's same id and date — is new."""
    return (last.status == report.status and last.scores == report.scores
            and float(last.scale_maximum) == float(report.scale_maximum) and last.payload == report.payload)


def _idempotency_key(external_id: str, last: Result) -> str:
    """The stored key names the result it follows: two deliveries of one correction race to the same key (the
    unique constraint keeps one), while a correction back to an earlier outcome (Complete 4.5 → Invalidated →
    Complete 4.5) gets a key of its own."""
    key = f"{external_id}#after-{last.id}"
    return key if len(key) <= MAX_KEY_CHARS else hashlib.sha256(key.encode()).hexdigest()


def _graded_value(session: orm.Session, target: CallbackTarget, config: ActivityConfig,
                  report: ReportedResult) -> float:
    value = report.scores[config.score_component] / report.scale_maximum
    if config.attempts_policy == AttemptsPolicy.LATEST:
        return value  # the newest complete result decides: no need to read the others back
    return max([value, *_fractions(session, target.attempt, config.score_component)])


def _ungraded_write(session: orm.Session, target: CallbackTarget, config: ActivityConfig, report: ReportedResult,
                    provider_label: str, result: dict[str, Any], now: dt.datetime) -> ResultWrite:
    activity_progress, grading_progress, detail = UNGRADED_OUTCOMES[report.status]
    submitted = AttemptStatus.SUBMITTED.value
    if report.status == "finished" and _fractions(session, target.attempt, config.score_component):
        # A late "finished" must not pull back a grade that already stands.
        return ResultWrite(result=result, attempt_status=submitted, attempt_detail=None, submission=None,
                           invalidate_others=False, now=now, finish="finished")
    status_detail = detail.format(label=provider_label)
    submission = _submission(config, now, score_given=None, activity_progress=activity_progress,
                             grading_progress=grading_progress, comment=status_detail)
    # Withdrawn or reset: the earlier grades of this attempt no longer count, for any policy, and the learner's
    # next finish is the one Canvas must see.
    resets = report.status in {"withdrawn", "pending"}
    return ResultWrite(result=result, attempt_status=submitted, attempt_detail=status_detail, submission=submission,
                       invalidate_others=resets, now=now, finish="reset" if resets else "finished")


def _submission(config: ActivityConfig, now: dt.datetime, **values: Any) -> dict[str, Any]:
    return {"score_maximum": config.score_maximum, "status": SubmissionStatus.PENDING.value, "tries": 0,
            "next_attempt_at": now, "datetime_created": now, **values}


def requeue_grade(session: orm.Session, attempt: Attempt) -> bool:
    """Queue the attempt's current grade once more (a teacher's "resend"); False if it has no grade yet."""
    activity = session.get(Activity, attempt.activity_id)
    if activity is None:
        return False
    latest = session.scalars(sa.select(ScoreSubmission).where(ScoreSubmission.attempt_id == attempt.id)
                             .order_by(ScoreSubmission.id.desc()).limit(1)).first()
    if latest is None:
        return False
    supersede_pending(session, attempt.id, utcnow())
    session.add(ScoreSubmission(
        attempt_id=attempt.id, result_id=latest.result_id, score_given=latest.score_given,
        score_maximum=latest.score_maximum, activity_progress=latest.activity_progress,
        grading_progress=latest.grading_progress, comment=latest.comment, status=SubmissionStatus.PENDING.value,
        next_attempt_at=utcnow()))
    attempt.status = AttemptStatus.SUBMITTED.value
    attempt.status_detail = "Grade queued again by a teacher."
    return True


def _fractions(session: orm.Session, attempt_key: Mapping[str, int | str], component: str) -> list[float]:
    """The graded component of the attempt's complete results as fractions of their scale, oldest first."""
    rows = session.execute(
        sa.select(Result.scores, Result.scale_maximum)
        .join(Attempt, Attempt.id == Result.attempt_id)
        .where(*(getattr(Attempt, name) == value for name, value in attempt_key.items()),
               Result.status == COMPLETE)
        .order_by(Result.id)
    ).all()
    return [float(row.scores[component]) / float(row.scale_maximum)
            for row in rows if component in row.scores and row.scale_maximum > 0]


def _comment(provider_label: str, config: ActivityConfig, report: ReportedResult, report_link: str,
             labels: Mapping[str, str]) -> str:
    component = config.score_component
    parts = [f"{provider_label} {labels.get(component, component)} "
             f"{report.scores[component]:g} / {report.scale_maximum:g}"]
    others = [f"{labels.get(name, name)} {value:g}" for name, value in report.scores.items()
              if name != component]
    if others:
        parts.append(f"({', '.join(others)})")
    if report.level_label:
        parts.append(f"level {report.level_label}")
    return " ".join(parts) + f". Report (teachers): {report_link}"
