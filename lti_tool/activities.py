"""Assessments, activities and learners' attempts: the domain between a launch and a provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

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
from lti_tool.models import Result
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

ACTIVITY_CUSTOM_PARAMETER = "activity"


class NotAllowed(Exception):
    """The launch may not see this: a learner on a teacher page, or another course's data."""


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
    record = session.get(LtiLaunch, launch_id)
    if record is None or record.expires_at < utcnow():
        raise LaunchExpired(launch_id)
    return record


def activity_for_launch(session: orm.Session, record: LtiLaunch) -> Activity | None:
    """The activity placed at the launched link; a deep-linked link names it in a custom parameter, and the
    first launch records the binding."""
    if record.resource_link_id is None:
        return None
    link = session.get(LtiResourceLink, record.resource_link_id)
    if link is None:
        return None
    return activity_at_link(session, record, link.activity_id)


def activity_at_link(session: orm.Session, record: LtiLaunch, link_activity_id: int | None) -> Activity | None:
    """:func:`activity_for_launch` when the link's ``activity_id`` is known already (the launch's write returns
    it), which saves reading the link on every launch."""
    if record.resource_link_id is None:
        return None
    if link_activity_id is not None:
        return session.get(Activity, link_activity_id)
    custom = record.claims.get(Claim.CUSTOM) or {}
    public_id = custom.get(ACTIVITY_CUSTOM_PARAMETER) if isinstance(custom, dict) else None
    if not public_id:
        return None
    activity = session.scalars(sa.select(Activity).where(Activity.public_id == str(public_id))).first()
    if activity is not None:
        # An ORM-enabled UPDATE: it also refreshes the link if this session has it loaded.
        session.execute(sa.update(LtiResourceLink).where(LtiResourceLink.id == record.resource_link_id)
                        .values(activity_id=activity.id))
    return activity


def record_attempt(session: orm.Session, record: LtiLaunch, activity: Activity, lineitem_url: str | None) -> Attempt:
    """The learner's attempt at this placement, created on the first launch, refreshed on the next ones."""
    assert record.context_id is not None
    assert record.resource_link_id is not None
    attempt_pk = upsert(session, Attempt, ["resource_link_id", "user_id"], {
        "resource_link_id": record.resource_link_id, "user_id": record.user_id, "activity_id": activity.id,
        "context_id": record.context_id, "registration_id": record.registration_id,
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


def start_test(session: orm.Session, providers: dict[str, AssessmentProvider], ags: AgsClient, record: LtiLaunch,
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
        lineitem_url: str | None = resolve_lineitem(session, ags, record, activity)
        problem = None
    except LineItemUnavailable as exc:
        lineitem_url, problem = None, str(exc)
    attempt = record_attempt(session, record, activity, lineitem_url)
    if problem and attempt.status == AttemptStatus.STARTED:
        attempt.status_detail = problem
    provider = providers.get(assessment.provider)
    if provider is None:  # left out of LTI_TOOL_PROVIDERS after the activity was placed
        raise ProviderError("This test is no longer offered. Tell your teacher.",
                            f"provider {assessment.provider!r} is not offered (LTI_TOOL_PROVIDERS)", retryable=False)
    sharing = sharing_for(assessment.settings, identity_default)
    view = provider.start_attempt(session, assessment, attempt, learner_of(session, record.user_id, sharing))
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


def attempt_status(session: orm.Session, record: LtiLaunch) -> dict[str, Any]:
    """What the learner's page may show: the attempt's state and, if the activity allows, the score."""
    attempt = session.scalars(sa.select(Attempt).where(Attempt.resource_link_id == record.resource_link_id,
                                                       Attempt.user_id == record.user_id)).first()
    if attempt is None:
        return {"status": "not_started"}
    status: dict[str, Any] = {"status": attempt.status,
                              "submitted": attempt.status != AttemptStatus.STARTED.value}
    activity = session.get(Activity, attempt.activity_id)
    latest = session.scalars(sa.select(Result).where(Result.attempt_id == attempt.id)
                             .order_by(Result.id.desc()).limit(1)).first()
    if activity is not None and latest is not None and activity.show_score_to_student:
        value = latest.scores.get(activity.score_component)
        if value is not None:
            status["score"] = {"value": value, "out_of": latest.scale_maximum, "component": activity.score_component}
    return status
