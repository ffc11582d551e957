"""Teacher-side queries. Every function takes the teacher's launch and stays inside its course."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.activities import NotAllowed
from lti_tool.activities import provider_for
from lti_tool.activities import view_of
from lti_tool.attempt_state import AttemptView
from lti_tool.attempt_state import State
from lti_tool.grading import AgsClient
from lti_tool.grading.columns import Column
from lti_tool.grading.columns import read_column
from lti_tool.grading.policy import requeue_grade
from lti_tool.lti.claims import Claim
from lti_tool.lti.claims import is_staff
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import LtiContext
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.teacher.classview import ClassView
from lti_tool.teacher.classview import Grade
from lti_tool.teacher.classview import class_view
from lti_tool.teacher.classview import grade_of
from lti_tool.teacher.roster import Member
from lti_tool.teacher.roster import RosterUnavailable
from lti_tool.teacher.roster import learners
from lti_tool.translatable import N_
from lti_tool.translatable import gettext

RESEND_REFUSED = "refused"
RESEND_ALL = "all"


def require_staff(launch: LtiLaunch) -> None:
    if not is_staff(launch.roles):
        raise NotAllowed(N_("Only the course's teachers can open this page."))


def class_view_for(session: orm.Session, launch: LtiLaunch, activity: Activity, ags: AgsClient,
                   providers: Mapping[str, AssessmentProvider]) -> ClassView:
    """The class view with the LMS's roster (NRPS) and gradebook column. Asks the LMS over HTTP: the caller has
    committed its writes."""
    require_staff(launch)
    roster_problem = None
    members: list[Member] = []
    try:
        members = _roster(session, ags, launch)
    except RosterUnavailable as exc:
        roster_problem = str(exc)
    return class_view(session, launch, activity, provider_for(session, providers, activity), members,
                      read_column(session, ags, launch), roster_problem)


def stored_class_view(session: orm.Session, launch: LtiLaunch, activity: Activity,
                      providers: Mapping[str, AssessmentProvider]) -> ClassView:
    """The class view from stored state alone (no roster, no column): for the status poll, which must not ask
    the LMS every few seconds."""
    require_staff(launch)
    return class_view(session, launch, activity, provider_for(session, providers, activity), [], Column(url=None))


def _roster(session: orm.Session, ags: AgsClient, launch: LtiLaunch) -> list[Member]:
    context = session.get(LtiContext, launch.context_id) if launch.context_id else None
    registration = session.get(LtiRegistration, launch.registration_id)
    if context is None or registration is None or not context.memberships_url:
        raise RosterUnavailable(gettext("The LMS shares no course roster with the tool (Names and Role "
                                        "Provisioning service off), so only students who opened the activity are "
                                        "listed."))
    return learners(session, ags, registration, context.memberships_url)


def resend_grades(session: orm.Session, launch: LtiLaunch, providers: Mapping[str, AssessmentProvider],
                  attempt_public_id: str | None = None, which: str = RESEND_REFUSED) -> int:
    """Queue the current grade again: one attempt of this link, every attempt whose grade the LMS refused, or
    (``which`` "all") every attempt of the link that has a grade to send. Only what the status model allows
    (:attr:`~lti_tool.attempt_state.AttemptView.can_resend`): never a grade the provider withdrew, an earlier
    try's grade after a retake or reset, or a grade still on its way.

    :return: how many grades were queued. :raise NotAllowed: a learner, or an attempt of another link.
    """
    require_staff(launch)
    query = sa.select(Attempt).where(Attempt.registration_id == launch.registration_id,
                                     Attempt.context_id == launch.context_id,
                                     Attempt.resource_link_id == launch.resource_link_id)
    if attempt_public_id is not None:
        query = query.where(Attempt.public_id == attempt_public_id)
    attempts = list(session.scalars(query))
    if attempt_public_id is not None and not attempts:
        raise NotAllowed(N_("That attempt does not belong to this activity."))
    queued = 0
    for attempt in attempts:
        view = view_of(session, providers, attempt, session.get(Activity, attempt.activity_id))
        wanted = view.can_resend and (attempt_public_id is not None or which == RESEND_ALL
                                      or view.state == State.REFUSED)
        if wanted and requeue_grade(session, attempt):
            queued += 1
    return queued


@dataclass(frozen=True)
class ResultView:
    result: Result
    attempt: Attempt
    learner: LtiUser
    activity: Activity
    provider: str
    # Where the attempt stands (lti_tool.attempt_state): the page shows this, never the raw attempt status.
    state: AttemptView | None = None


def result_grade(session: orm.Session, view: ResultView, column: Column) -> Grade | None:
    """The gradebook points the result became, if the tool queued a grade for it (the newest such score)."""
    submission = session.scalars(sa.select(ScoreSubmission).where(
        ScoreSubmission.result_id == view.result.id, ScoreSubmission.attempt_id == view.attempt.id,
        ScoreSubmission.score_given.is_not(None)).order_by(ScoreSubmission.id.desc()).limit(1)).first()
    return grade_of(submission, view.result, column) if submission is not None else None


def result_for_teacher(session: orm.Session, launch: LtiLaunch, result_public_id: str,
                       providers: Mapping[str, AssessmentProvider] | None = None) -> ResultView | None:
    """The result, if it belongs to the teacher's course. :raise NotAllowed: learner, or another course."""
    require_staff(launch)
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
    if attempt.context_id != launch.context_id:
        raise NotAllowed(N_("This result belongs to another course."))
    assessment = session.get(Assessment, activity.assessment_id)
    return ResultView(result=result, attempt=attempt, learner=learner, activity=activity,
                      provider=assessment.provider if assessment else "",
                      state=view_of(session, providers or {}, attempt, activity))


@dataclass(frozen=True)
class ReviewedSubmission:
    """What a Submission Review launch opens: one learner's attempt at the launched link (None: not started)."""

    learner_sub: str
    learner: LtiUser | None
    attempt: Attempt | None
    result: ResultView | None
    own: bool


def submission_for_review(session: orm.Session, launch: LtiLaunch) -> ReviewedSubmission:
    """The submission the launch's ``for_user`` names, at the launched link of the launching school only.

    A teacher may review any learner of the course; anyone else only themselves. :raise NotAllowed: a learner
    asking for someone else, or a learner the tool knows only from another course.
    """
    for_user = launch.claims.get(Claim.FOR_USER)
    reviewed_sub = str(for_user.get("user_id") or "") if isinstance(for_user, dict) else ""
    launching = session.get(LtiUser, launch.user_id)
    own_sub = launching.sub if launching is not None else ""
    reviewed_sub = reviewed_sub or own_sub
    own = reviewed_sub == own_sub
    if not own and not is_staff(launch.roles):
        raise NotAllowed(N_("Students can open only their own submission."))
    learner = session.scalars(sa.select(LtiUser).where(LtiUser.registration_id == launch.registration_id,
                                                       LtiUser.sub == reviewed_sub)).first()
    if learner is None or launch.resource_link_id is None:
        return ReviewedSubmission(reviewed_sub, learner, None, None, own)
    if launch.context_id is None or session.scalar(sa.select(LtiMembership.id).where(
            LtiMembership.context_id == launch.context_id, LtiMembership.user_id == learner.id)) is None:
        raise NotAllowed(N_("This student has no submission in this course: the tool has never seen them in "
                            "it."))
    attempt = session.scalars(sa.select(Attempt).where(Attempt.registration_id == launch.registration_id,
                                                       Attempt.resource_link_id == launch.resource_link_id,
                                                       Attempt.user_id == learner.id)).first()
    if attempt is None:
        return ReviewedSubmission(reviewed_sub, learner, None, None, own)
    latest = session.scalars(sa.select(Result).where(Result.attempt_id == attempt.id)
                             .order_by(Result.id.desc()).limit(1)).first()
    view = None
    activity = session.get(Activity, attempt.activity_id)
    if latest is not None and activity is not None:
        assessment = session.get(Assessment, activity.assessment_id)
        view = ResultView(result=latest, attempt=attempt, learner=learner, activity=activity,
                          provider=assessment.provider if assessment else "")
    return ReviewedSubmission(reviewed_sub, learner, attempt, view, own)
