"""Retention (``LTI_TOOL_RETENTION_DAYS``): what learners did is removed a number of days after its last activity.

One round of the worker's housekeeping removes, in batches (launches are removed anyway an hour after they expire,
``LAUNCH_TTL_SECONDS``, whatever the retention):

- attempts (with their results and score submissions) with no activity since the cutoff — no launch refreshing
  the attempt, no result received, no score queued or sent — and no score still waiting for the LMS: a pending
  submission keeps its attempt, however old, until it is delivered or parked;
- memberships not refreshed since the cutoff, and users not seen since then who have nothing left.

The LMS gradebook is never touched: grades already delivered stay in the LMS, which is their system of record.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.models import Attempt
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiUser
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus

# Rows removed per table and round: a first run on a large, old installation spreads over several rounds
# instead of holding one long transaction.
BATCH = 500


def apply_retention(session: orm.Session, retention_days: int, now: dt.datetime | None = None) -> dict[str, int]:
    """Remove what is older than ``retention_days`` (0: keep everything, remove nothing). Counts per kind."""
    if retention_days <= 0:
        return {}
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    # Launches need nothing here: housekeeping deletes each an hour after it expires (LAUNCH_TTL_SECONDS).
    removed = {"attempts": _delete_batch(session, Attempt, Attempt.id, _attempt_expired(cutoff)),
               "memberships": _delete_batch(session, LtiMembership, LtiMembership.id,
                                            LtiMembership.datetime_updated < cutoff)}
    removed["users"] = _delete_batch(session, LtiUser, LtiUser.id, sa.and_(
        LtiUser.datetime_updated < cutoff,
        ~sa.exists().where(Attempt.user_id == LtiUser.id),
        ~sa.exists().where(LtiLaunch.user_id == LtiUser.id),
        ~sa.exists().where(LtiMembership.user_id == LtiUser.id)))
    return {kind: count for kind, count in removed.items() if count}


def _attempt_expired(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    """No activity since ``cutoff`` and no score waiting for the LMS. The DELETE repeats this test, so a score
    queued between choosing the batch and deleting it keeps its attempt; the database's ON DELETE CASCADE removes
    the attempt's results and (sent, parked, superseded) submissions in the same statement."""
    recent_result = sa.exists().where(Result.attempt_id == Attempt.id, Result.datetime_received >= cutoff)
    live_submission = sa.exists().where(ScoreSubmission.attempt_id == Attempt.id, sa.or_(
        ScoreSubmission.status == SubmissionStatus.PENDING.value,
        ScoreSubmission.datetime_created >= cutoff,
        ScoreSubmission.datetime_sent >= cutoff))
    return sa.and_(Attempt.datetime_updated < cutoff, Attempt.datetime_started < cutoff, ~recent_result,
                   ~live_submission)


def _delete_batch(session: orm.Session, model: type[object],
                  key: orm.InstrumentedAttribute[int] | orm.InstrumentedAttribute[str],
                  where: sa.ColumnElement[bool]) -> int:
    """Delete up to :data:`BATCH` rows matching ``where`` (tested again by the DELETE itself)."""
    batch = list(session.scalars(sa.select(key).where(where).order_by(key).limit(BATCH)))
    if not batch:
        return 0
    result = session.execute(sa.delete(model).where(key.in_(batch), where),
                             execution_options={"synchronize_session": False})
    return int(result.rowcount)  # type: ignore[attr-defined]
