"""Assessments, activities and learners' attempts: the domain between a launch and a provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.attempt_state import AttemptView
from lti_tool.attempt_state import State
from lti_tool.attempt_state import attempt_view
from lti_tool.db import upsert
from lti_tool.db import utcnow
from lti_tool.grading import AgsClient
from lti_tool.grading.lineitems import LineItemUnavailable
from lti_tool.grading.lineitems import resolve_lineitem
from lti_tool.lti.claims import Claim
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import AttemptsPolicy
from lti_tool.models import AttemptStatus
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.privacy.sharing import DEFAULT_SHARING
from lti_tool.privacy.sharing import IdentitySharing
from lti_tool.privacy.sharing import shared_learner
from lti_tool.privacy.sharing import sharing_for
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import EmbeddedTest
from lti_tool.providers.interfaces import Learner
from lti_tool.providers.interfaces import PendingStart
from lti_tool.providers.interfaces import ProviderError
from lti_tool.providers.interfaces import TestTicket
from lti_tool.translatable import N_
from lti_tool.translatable import MarkedError
from lti_tool.translatable import format_date
from lti_tool.translatable import format_decimal
from lti_tool.translatable import gettext

ACTIVITY_CUSTOM_PARAMETER = "activity"


class NotAllowed(MarkedError):
    """The launch may not see this: a learner on a teacher page, or another course's data. The page says why in
    the reader's language (:meth:`shown`); the log in English."""


class LaunchExpired(Exception):
    """The launch handle is unknown or past its lifetime: the learner must open the activity again."""


def create_activity(session: orm.Session, assessment: Assessment, title: str, score_maximum: float = 100.0,
                    score_component: str = "overall", attempts_policy: str = AttemptsPolicy.LATEST.value,
                    show_score_to_student: bool = True) -> Activity:
    if score_maximum <= 0:
        raise ValueError("the maximum points must be above 0")
    if attempts_policy not in set(AttemptsPolicy):
        raise ValueError(f"attempts policy must be one of {', '.join(AttemptsPolicy)}")
    activity = Activity(assessment_id=assessment.id, title=title, score_maximum=score_maximum,
                        score_component=score_component, attempts_policy=attempts_policy,
                        show_score_to_student=show_score_to_student)
    session.add(activity)
    session.flush()
    return activity


def load_launch(session: orm.Session, launch_id: str) -> LtiLaunch:
    launch = session.get(LtiLaunch, launch_id)
    if launch is None or launch.expires_at < utcnow():
        raise LaunchExpired(launch_id)
    return launch


def activity_for_launch(session: orm.Session, launch: LtiLaunch) -> Activity | None:
    """The activity placed at the launched link; a deep-linked link names it in a custom parameter, and the
    first launch records the binding."""
    if launch.resource_link_id is None:
        return None
    link = session.get(LtiResourceLink, launch.resource_link_id)
    if link is None:
        return None
    return activity_at_link(session, launch, link.activity_id)


def activity_at_link(session: orm.Session, launch: LtiLaunch, link_activity_id: int | None) -> Activity | None:
    """:func:`activity_for_launch` when the link's ``activity_id`` is known already (the launch's write returns
    it), which saves reading the link on every launch."""
    if launch.resource_link_id is None:
        return None
    if link_activity_id is not None:
        return session.get(Activity, link_activity_id)
    custom = launch.claims.get(Claim.CUSTOM) or {}
    public_id = custom.get(ACTIVITY_CUSTOM_PARAMETER) if isinstance(custom, dict) else None
    if not public_id:
        return None
    activity = session.scalars(sa.select(Activity).where(Activity.public_id == str(public_id))).first()
    if activity is not None:
        # An ORM-enabled UPDATE: it also refreshes the link if this session has it loaded.
        session.execute(sa.update(LtiResourceLink).where(LtiResourceLink.id == launch.resource_link_id)
                        .values(activity_id=activity.id))
    return activity


def record_attempt(session: orm.Session, launch: LtiLaunch, activity: Activity, lineitem_url: str | None) -> Attempt:
    """The learner's attempt at this placement, created on the first launch, refreshed on the next ones."""
    assert launch.context_id is not None
    assert launch.resource_link_id is not None
    attempt_pk = upsert(session, Attempt, ["resource_link_id", "user_id"], {
        "resource_link_id": launch.resource_link_id, "user_id": launch.user_id, "activity_id": activity.id,
        "context_id": launch.context_id, "registration_id": launch.registration_id,
        "lineitem_url": lineitem_url, "datetime_updated": utcnow(),
    })
    attempt = session.get(Attempt, attempt_pk)
    assert attempt is not None
    return attempt


def learner_of(session: orm.Session, user_id: int, sharing: IdentitySharing = DEFAULT_SHARING) -> Learner:
    """The learner as the provider may see them: by default the LMS's opaque user id alone."""
    user = session.get(LtiUser, user_id)
    assert user is not None
    return shared_learner(user, sharing)


@dataclass(frozen=True)
class LearnerTest:
    activity: Activity
    attempt: Attempt
    # A PendingStart when the provider must be asked over HTTP first: see :func:`shown_test`.
    view: EmbeddedTest | TestTicket | PendingStart


def start_test(session: orm.Session, providers: dict[str, AssessmentProvider], ags: AgsClient, launch: LtiLaunch,
               activity: Activity, identity_default: str = DEFAULT_SHARING) -> LearnerTest:
    """Record the attempt and ask the provider for the test. :raise ProviderError: the provider failed.

    ``identity_default`` is the installation's ``LTI_TOOL_SHARE_LEARNER_IDENTITY``; the assessment may override it.

    The caller commits before (the line item requests must not wait behind the link's first binding) and after
    (what the provider fetches is fetched with nothing pending: :func:`shown_test`). A missing gradebook column
    does not stop the learner: the attempt records why, for the teacher.
    """
    assessment = session.get(Assessment, activity.assessment_id)
    assert assessment is not None
    try:
        lineitem_url: str | None = resolve_lineitem(session, ags, launch, activity)
        problem = None
    except LineItemUnavailable as exc:
        lineitem_url, problem = None, str(exc)
    attempt = record_attempt(session, launch, activity, lineitem_url)
    if problem and attempt.status == AttemptStatus.STARTED:
        attempt.status_detail = problem
    provider = providers.get(assessment.provider)
    if provider is None:  # left out of LTI_TOOL_PROVIDERS after the activity was placed
        raise ProviderError(N_("This test is no longer offered. Tell your teacher."),
                            f"provider {assessment.provider!r} is not offered (LTI_TOOL_PROVIDERS)", retryable=False)
    sharing = sharing_for(assessment.settings, identity_default)
    view = provider.start_attempt(session, assessment, attempt, learner_of(session, launch.user_id, sharing))
    return LearnerTest(activity=activity, attempt=attempt, view=view)


def shown_test(session: orm.Session, test: LearnerTest) -> EmbeddedTest | TestTicket:
    """The test the learner sees. When the provider must fetch it, the caller has committed what
    :func:`start_test` wrote: the fetch runs with no write pending, its outcome is recorded in a new transaction
    (the caller commits it, also when :class:`ProviderError` says the provider failed)."""
    if not isinstance(test.view, PendingStart):
        return test.view
    if session.in_transaction():
        raise RuntimeError("commit what start_test wrote before the provider is asked")
    fetched = test.view.fetch()
    return test.view.finish(session, fetched)


def learner_attempt(session: orm.Session, launch: LtiLaunch) -> Attempt | None:
    return session.scalars(sa.select(Attempt).where(Attempt.resource_link_id == launch.resource_link_id,
                                                    Attempt.user_id == launch.user_id)).first()


def provider_for(session: orm.Session, providers: Mapping[str, AssessmentProvider],
                 activity: Activity | None) -> AssessmentProvider | None:
    """The activity's provider; None if it is no longer offered (left out of ``LTI_TOOL_PROVIDERS``)."""
    assessment = session.get(Assessment, activity.assessment_id) if activity is not None else None
    return providers.get(assessment.provider) if assessment is not None else None


def view_of(session: orm.Session, providers: Mapping[str, AssessmentProvider], attempt: Attempt | None,
            activity: Activity | None) -> AttemptView:
    """The attempt's state (:mod:`lti_tool.attempt_state`) with its provider's words."""
    return attempt_view(session, attempt, activity, provider_for(session, providers, activity))


@dataclass(frozen=True)
class Retake:
    allowed: bool
    replaces_grade: bool  # under "latest attempt" the retake's result replaces the grade that stands
    tries: int
    max_attempts: int | None


def retake_rule(activity: Activity, attempt: Attempt | None, view: AttemptView) -> Retake:
    tries = attempt.tries if attempt is not None else 0
    allowed = activity.max_attempts is None or tries < activity.max_attempts
    replaces = (activity.attempts_policy == AttemptsPolicy.LATEST.value
                and view.state in (State.GRADED, State.GRADE_ON_ITS_WAY, State.REFUSED))
    return Retake(allowed=allowed, replaces_grade=replaces, tries=tries, max_attempts=activity.max_attempts)


def shows_completed(view: AttemptView) -> bool:
    """Reopening the activity shows the outcome, not a new test: the try is finished or its result withdrawn."""
    return view.finished or view.state == State.WITHDRAWN


def start_retake(session: orm.Session, attempt: Attempt, activity: Activity,
                 provider: AssessmentProvider | None) -> None:
    """Begin the learner's next try (a new test at the provider). :raise NotAllowed: no more tries allowed."""
    if activity.max_attempts is not None and attempt.tries >= activity.max_attempts:
        raise NotAllowed(N_("You have used every attempt this activity allows."))
    if provider is not None:
        provider.begin_retake(attempt)
    now = utcnow()
    attempt.tries += 1
    attempt.datetime_started = now
    attempt.datetime_finished = None
    attempt.status = AttemptStatus.STARTED.value
    attempt.status_detail = None


def reset_attempt(attempt: Attempt, provider: AssessmentProvider | None) -> None:
    """A teacher's reset: the learner's tries start again (with a new test at the provider) and earlier results
    no longer describe the attempt. The gradebook keeps what it holds until the next result replaces it."""
    if provider is not None:
        provider.begin_retake(attempt)
    now = utcnow()
    attempt.tries = 1
    attempt.datetime_reset = now
    attempt.datetime_started = now
    attempt.datetime_finished = None
    attempt.status = AttemptStatus.STARTED.value
    attempt.status_detail = "Reset by a teacher."


def attempt_status(session: orm.Session, launch: LtiLaunch,
                   providers: Mapping[str, AssessmentProvider]) -> dict[str, Any]:
    """What the learner's page may show and its script polls: the state, a sentence for the learner, the score
    and gradebook points if the activity allows, and whether a retake is allowed."""
    attempt = learner_attempt(session, launch)
    activity = session.get(Activity, attempt.activity_id) if attempt is not None else None
    view = view_of(session, providers, attempt, activity)
    if attempt is None or activity is None:
        return {"state": view.state.value, "label": view.label, "status": "not_started", "submitted": False,
                "message": student_message(view, None, "")}
    assessment = session.get(Assessment, activity.assessment_id)
    provider = providers.get(assessment.provider) if assessment is not None else None
    status: dict[str, Any] = {
        "state": view.state.value, "label": view.label, "status": attempt.status,
        "submitted": view.finished or view.state == State.WITHDRAWN, "in_gradebook": view.in_gradebook,
        "completed_on": view.finished_at.date().isoformat() if view.finished_at else None,
        "message": student_message(view, activity, provider.label if provider else gettext("The provider")),
    }
    if view.provider_said:
        status["provider_said"] = view.provider_said
    if activity.show_score_to_student and view.score is not None and view.scale_maximum:
        labels = provider.component_labels if provider else {}
        status["score"] = {"value": view.score, "out_of": view.scale_maximum, "component": activity.score_component,
                           "label": gettext(labels.get(activity.score_component, activity.score_component))}
        if view.points is not None and view.points_maximum:
            status["score"]["points"] = view.points
            status["score"]["points_out_of"] = view.points_maximum
        status["score"]["text"] = score_text(view)
        status["score"]["sentence"] = gettext("Your %(component)s score: %(score)s.",
                                              component=status["score"]["label"], score=status["score"]["text"])
    if shows_completed(view):
        retake = retake_rule(activity, attempt, view)
        status["retake"] = {"allowed": retake.allowed, "replaces_grade": retake.replaces_grade}
    return status


def score_text(view: AttemptView) -> str:
    """The provider's value beside the gradebook's points: "7.2 of 9 → 16 of 20 points", in the reader's
    language and number format."""
    if view.score is None or view.scale_maximum is None:
        return ""
    text = gettext("%(score)s of %(scale)s", score=format_decimal(view.score), scale=format_decimal(view.scale_maximum))
    if view.points is not None and view.points_maximum is not None:
        text += " → " + gettext("%(points)s of %(maximum)s points", points=format_decimal(round(view.points, 2)),
                                maximum=format_decimal(view.points_maximum))
    return text


def student_message(view: AttemptView, activity: Activity | None, provider_label: str) -> str:
    """The sentence the learner reads about their attempt; never more than stored state and the LMS say."""
    done = (gettext("You completed the test on %(date)s.", date=format_date(view.finished_at)) + " "
            if view.finished_at else "")
    match view.state:
        case State.NOT_STARTED | State.IN_PROGRESS:
            return gettext("You have not finished the test yet.")
        case State.AWAITING_GRADING:
            if view.provider_said:
                return done + gettext("It is waiting for %(provider)s's grading (%(provider)s says: %(said)s).",
                                      provider=provider_label, said=view.provider_said)
            return done + gettext("It is waiting for %(provider)s's grading.", provider=provider_label)
        case State.GRADE_ON_ITS_WAY:
            return done + gettext("Your grade is on its way to your course gradebook.")
        case State.GRADED:
            return done + gettext("Your grade is in your course gradebook ✓")
        case State.REFUSED:
            return done + gettext("Your course gradebook has not accepted the grade yet; your teacher can see why.")
        case State.WITHDRAWN:
            if view.provider_said:
                withdrew = gettext("%(provider)s withdrew the result of this test (%(said)s).",
                                   provider=provider_label, said=view.provider_said)
            else:
                withdrew = gettext("%(provider)s withdrew the result of this test.", provider=provider_label)
            return withdrew + " " + gettext("Your teacher will tell you what comes next.")
        case State.RESET:
            return gettext("Your attempt was reset: you can take the test again.")
