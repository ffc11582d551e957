"""Teacher-side queries. Every function takes the teacher's launch and stays inside its course."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.activities import activity_for_launch
from lti_tool.lti.claims import is_staff
from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiUser
from lti_tool.models import Result


class NotAllowed(Exception):
    """The launch may not see this: a learner on a teacher page, or another course's data."""


@dataclass(frozen=True)
class AttemptRow:
    learner: str
    email: str | None
    status: str
    status_detail: str | None
    score: float | None
    scale_maximum: float | None
    result_public_id: str | None


@dataclass(frozen=True)
class LinkOverview:
    activity: Activity | None
    rows: list[AttemptRow]


def require_staff(record: LtiLaunch) -> None:
    if not is_staff(record.roles):
        raise NotAllowed("Only the course's teachers can open this page.")


def link_overview(session: orm.Session, record: LtiLaunch) -> LinkOverview:
    require_staff(record)
    activity = activity_for_launch(session, record)
    if activity is None:
        return LinkOverview(activity=None, rows=[])
    attempts = session.execute(
        sa.select(Attempt, LtiUser).join(LtiUser, LtiUser.id == Attempt.user_id)
        .where(Attempt.resource_link_id == record.resource_link_id).order_by(LtiUser.family_name, LtiUser.sub)
    ).all()
    rows = []
    for attempt, user in attempts:
        latest = session.scalars(sa.select(Result).where(Result.attempt_id == attempt.id)
                                 .order_by(Result.id.desc()).limit(1)).first()
        score = latest.scores.get(activity.score_component) if latest else None
        rows.append(AttemptRow(learner=user.display_name, email=user.email, status=attempt.status,
                               status_detail=attempt.status_detail, score=score,
                               scale_maximum=latest.scale_maximum if latest else None,
                               result_public_id=latest.public_id if latest else None))
    return LinkOverview(activity=activity, rows=rows)


@dataclass(frozen=True)
class ResultView:
    result: Result
    attempt: Attempt
    learner: LtiUser
    activity: Activity
    provider: str


def result_for_teacher(session: orm.Session, record: LtiLaunch, result_public_id: str) -> ResultView | None:
    """The result, if it belongs to the teacher's course. :raise NotAllowed: learner, or another course."""
    require_staff(record)
    found = session.execute(
        sa.select(Result, Attempt, LtiUser, Activity)
        .join(Attempt, Attempt.id == Result.attempt_id)
        .join(LtiUser, LtiUser.id == Attempt.user_id)
        .join(Activity, Activity.id == Attempt.activity_id)
        .where(Result.public_id == result_public_id)
    ).first()
    if found is None:
        return None
    result, attempt, learner, activity = found
    if attempt.context_id != record.context_id:
        raise NotAllowed("This result belongs to another course.")
    from lti_tool.models import Assessment

    assessment = session.get(Assessment, activity.assessment_id)
    return ResultView(result=result, attempt=attempt, learner=learner, activity=activity,
                      provider=assessment.provider if assessment else "")
