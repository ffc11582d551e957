"""The grade passback queue (the score outbox) as admins see it, and "retry now". Rows are never deleted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.admin.service import AdminScope
from lti_tool.admin.service import BadInput
from lti_tool.admin.service import NotFound
from lti_tool.db import utcnow
from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import LtiContext
from lti_tool.models import LtiUser
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.translatable import N_

QUEUE_PAGE_SIZE = 100
RETRYABLE = (SubmissionStatus.PENDING.value, SubmissionStatus.PARKED.value)


@dataclass(frozen=True)
class QueueRow:
    id: int
    learner: str
    course: str | None
    activity: str
    status: str
    score_given: float | None
    score_maximum: float
    tries: int
    next_attempt_at: dt.datetime
    last_error: str | None
    last_http_status: int | None
    datetime_created: dt.datetime

    @property
    def can_retry(self) -> bool:
        return self.status in RETRYABLE


def parse_status_filter(raw: str) -> str | None:
    """``""`` (every status) or one submission status. :raise BadInput: anything else."""
    if not raw:
        return None
    if raw not in set(SubmissionStatus):
        raise BadInput(N_("Unknown status %(status)s: use one of %(statuses)s."), status=repr(raw),
                       statuses=", ".join(SubmissionStatus))
    return raw


def list_queue(session: orm.Session, scope: AdminScope, status: str | None = None,
               limit: int = QUEUE_PAGE_SIZE) -> list[QueueRow]:
    """The latest submissions in the scope (an LMS admin: their school's learners), newest first, optionally of
    one status."""
    query = (sa.select(ScoreSubmission, LtiUser, Activity.title, LtiContext.title)
             .join(Attempt, Attempt.id == ScoreSubmission.attempt_id)
             .join(LtiUser, LtiUser.id == Attempt.user_id)
             .join(Activity, Activity.id == Attempt.activity_id)
             .outerjoin(LtiContext, LtiContext.id == Attempt.context_id)
             .order_by(ScoreSubmission.id.desc()).limit(limit))
    if status is not None:
        query = query.where(ScoreSubmission.status == status)
    if scope.registration_pk is not None:
        query = query.where(Attempt.registration_id == scope.registration_pk)
    return [_queue_row(submission, learner, activity_title, course_title)
            for submission, learner, activity_title, course_title in session.execute(query)]


def _queue_row(submission: ScoreSubmission, learner: LtiUser, activity_title: str,
               course_title: str | None) -> QueueRow:
    return QueueRow(id=submission.id, learner=learner.display_name, course=course_title, activity=activity_title,
                    status=submission.status, score_given=submission.score_given,
                    score_maximum=submission.score_maximum, tries=submission.tries,
                    next_attempt_at=submission.next_attempt_at, last_error=submission.last_error,
                    last_http_status=submission.last_http_status, datetime_created=submission.datetime_created)


def scoped_submission(session: orm.Session, scope: AdminScope, submission_pk: int) -> ScoreSubmission:
    """:raise NotFound: no such submission in the scope."""
    query = (sa.select(ScoreSubmission).join(Attempt, Attempt.id == ScoreSubmission.attempt_id)
             .where(ScoreSubmission.id == submission_pk))
    if scope.registration_pk is not None:
        query = query.where(Attempt.registration_id == scope.registration_pk)
    submission = session.scalars(query).first()
    if submission is None:
        raise NotFound(f"There is no score submission {submission_pk}.")
    return submission


def retry_now(session: orm.Session, scope: AdminScope, submission_pk: int,
              now: dt.datetime | None = None) -> ScoreSubmission:
    """Make a parked or pending submission due now, for the next worker round.

    :raise NotFound: no such submission in the scope.
    :raise BadInput: already sent or superseded, being sent right now, or a newer score for the
        same attempt exists (sending this one would overwrite it in the gradebook).
    """
    now = now or utcnow()
    submission = scoped_submission(session, scope, submission_pk)
    if submission.status not in RETRYABLE:
        raise BadInput(N_("Submission %(submission)d is %(status)s; only pending or parked ones can be retried."),
                       submission=submission_pk, status=submission.status)
    if _newer_score_exists(session, submission):
        raise BadInput(N_("A newer score for the same attempt is queued or sent; retrying submission %(submission)d "
                          "would overwrite it in the gradebook."), submission=submission_pk)
    # Guarded by the state just checked: a worker claiming the row meanwhile keeps it (its lease is honoured and
    # the claim token left alone), so the score is never sent twice at once.
    changed = session.execute(
        sa.update(ScoreSubmission)
        .where(ScoreSubmission.id == submission_pk, ScoreSubmission.status.in_(RETRYABLE),
               sa.or_(ScoreSubmission.locked_until.is_(None), ScoreSubmission.locked_until <= now))
        .values(status=SubmissionStatus.PENDING.value, next_attempt_at=now, locked_until=None, claim_token=None),
        execution_options={"synchronize_session": False},
    )
    if int(changed.rowcount) != 1:  # type: ignore[attr-defined]
        raise BadInput(N_("Submission %(submission)d is being sent right now; look again in a minute."),
                       submission=submission_pk)
    return submission


def _newer_score_exists(session: orm.Session, submission: ScoreSubmission) -> bool:
    newer = sa.select(ScoreSubmission.id).where(
        ScoreSubmission.attempt_id == submission.attempt_id, ScoreSubmission.id > submission.id,
        ScoreSubmission.status != SubmissionStatus.SUPERSEDED.value)
    return session.scalar(newer.limit(1)) is not None
