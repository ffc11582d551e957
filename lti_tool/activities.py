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
from lti_tool.models import ProviderAccount
from lti_tool.models import Result
from lti_tool.privacy.sharing import DEFAULT_SHARING
from lti_tool.privacy.sharing import IdentitySharing
from lti_tool.privacy.sharing import shared_learner
from lti_tool.privacy.sharing import sharing_for
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import EmbeddedTest
from lti_tool.providers.interfaces import Learner
from lti_tool.providers.interfaces import TestTicket
from lti_tool.providers.speechace import split_share_link

ACTIVITY_CUSTOM_PARAMETER = "activity"


class NotAllowed(Exception):
    """The launch may not see this: a learner on a teacher page, or another course's data."""


class LaunchExpired(Exception):
    """The launch handle is unknown or past its lifetime: the learner must open the activity again."""


def add_speechace_assessment(session: orm.Session, title: str, oembed_url: str | None = None,
                             test_url: str | None = None) -> Assessment:
    """A Speechace assessment from its oEmbed share link (the key is split off and kept apart), or an iframe URL.

    :raise ValueError: neither or both given, or the link is unusable.
    """
    if bool(oembed_url) == bool(test_url):
        raise ValueError("give either the oEmbed share link or the iframe test URL")
    if oembed_url:
        url_without_key, key = split_share_link(oembed_url)
        assessment = Assessment(provider="speechace", title=title, secret=key,
                                settings={"mode": "oembed", "oembed_url": url_without_key})
    else:
        assert test_url is not None
        if not test_url.startswith(("https://", "http://")):
            raise ValueError("the Speechace test URL must be an http(s) URL")
        assessment = Assessment(provider="speechace", title=title, settings={"mode": "iframe", "test_url": test_url})
    session.add(assessment)
    session.flush()
    return assessment


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
    view: EmbeddedTest | TestTicket


def start_test(session: orm.Session, providers: dict[str, AssessmentProvider], ags: AgsClient, record: LtiLaunch,
               activity: Activity, identity_default: str = DEFAULT_SHARING) -> LearnerTest:
    """Record the attempt and ask the provider for the test. :raise ProviderError: the provider failed.

    ``identity_default`` is the installation's ``LTI_TOOL_SHARE_LEARNER_IDENTITY``; the assessment may override it.

    A missing gradebook column does not stop the learner: the attempt records why, for the teacher.
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
    provider = providers[assessment.provider]
    sharing = sharing_for(assessment.settings, identity_default)
    view = provider.start_attempt(session, assessment, attempt, learner_of(session, record.user_id, sharing))
    return LearnerTest(activity=activity, attempt=attempt, view=view)


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


def add_itep_account(session: orm.Session, name: str, endpoint_url: str, api_key: str, tracking_code: str,
                     webhook_secret: str, signature_header: str = "X-iTEP-Signature",
                     signature_encoding: str = "hex", webhook_auth: str = "header",
                     webhook_header: str = "X-iTEP-Token", on_invalidated: str = "withdraw",
                     deployment_id: int | None = None, instructions: str | None = None) -> ProviderAccount:
    """An iTEP account: the parts iTEP's documents leave open are settings here, not guesses in code.

    :raise ValueError: a value cannot work (not a URL, an unknown encoding or method, an empty secret).
    """
    if not endpoint_url.startswith(("https://", "http://")):
        raise ValueError("the iTEP endpoint must be an http(s) URL")
    if signature_encoding not in {"hex", "base64"}:
        raise ValueError("the signature encoding must be hex or base64")
    if webhook_auth not in {"header", "url_token"}:
        raise ValueError("webhook authentication must be header or url_token")
    if on_invalidated not in {"withdraw", "pending"}:
        raise ValueError("on invalidation the grade is either withdrawn or set pending")
    if not api_key or not webhook_secret or not signature_header:
        raise ValueError("the API key, the webhook secret and the signature header name are required")
    account = ProviderAccount(provider="itep", name=name, deployment_id=deployment_id, api_key=api_key,
                              webhook_secret=webhook_secret, settings={
                                  "endpoint_url": endpoint_url, "tracking_code": tracking_code,
                                  "signature_header": signature_header, "signature_encoding": signature_encoding,
                                  "webhook_auth": webhook_auth, "webhook_header": webhook_header,
                                  "on_invalidated": on_invalidated, "instructions": instructions})
    session.add(account)
    session.flush()
    return account


def add_itep_assessment(session: orm.Session, account: ProviderAccount, title: str, product_code: str) -> Assessment:
    """One iTEP product offered to teachers (GTX: the learner sees the test ID; STX: iTEP e-mails it)."""
    if not product_code or not product_code.replace("-", "").isalnum():
        raise ValueError("the product code looks like GTX-Academic-Plus or STX-Placement-Timed")
    assessment = Assessment(provider="itep", title=title,
                            settings={"account_id": account.id, "product_code": product_code})
    session.add(assessment)
    session.flush()
    return assessment


def itep_webhook_url(settings_url: str, account: ProviderAccount) -> str:
    """The URL to give iTEP for the account's tracking code (iTEP staff configure it; it is not self-service)."""
    url = f"{settings_url}?account={account.id}"
    if account.settings.get("webhook_auth") == "url_token":
        url += f"&token={account.webhook_secret}"
    return url
