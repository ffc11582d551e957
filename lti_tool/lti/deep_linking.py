"""LTI Deep Linking 2.0: a teacher picks a speaking test; the tool answers with one graded ``ltiResourceLink``.

pylti1p3 builds the content item and the message; we sign it with our current key (its kid) and render our own
auto-submitting form, because pylti1p3's puts the return URL into HTML unescaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import sqlalchemy as sa
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import orm

from lti_tool.activities import ACTIVITY_CUSTOM_PARAMETER
from lti_tool.activities import create_activity
from lti_tool.grading.lineitems import LINE_ITEM_TAG
from lti_tool.keys import signing_key
from lti_tool.lti.claims import Claim
from lti_tool.lti.tool_conf import pylti_registration
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import AttemptsPolicy
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import ProviderAccount
from lti_tool.providers.interfaces import AssessmentProvider


class ActivityFormError(ValueError):
    """The teacher's choices cannot make an activity; the message says what to fix."""


@dataclass(frozen=True)
class DeepLinkReturn:
    return_url: str
    jwt: str


def offered_assessments(session: orm.Session, deployment_pk: int) -> list[Assessment]:
    """Active assessments this deployment may use: an assessment on a provider account scoped to another
    deployment (another school's iTEP account) is not offered."""
    accounts: dict[int | None, int | None] = {
        account.id: account.deployment_id for account in session.scalars(sa.select(ProviderAccount))}
    return [assessment for assessment in session.scalars(
                sa.select(Assessment).where(Assessment.is_active.is_(True)).order_by(Assessment.title))
            if accounts.get(assessment.settings.get("account_id")) in (None, deployment_pk)]


def activity_from_form(session: orm.Session, providers: Mapping[str, AssessmentProvider],
                       form: Mapping[str, str], deployment_pk: int) -> Activity:
    """Create the activity a teacher described. :raise ActivityFormError: a choice is missing or invalid."""
    assessment = next((offered for offered in offered_assessments(session, deployment_pk)
                       if offered.public_id == form.get("assessment", "")), None)
    if assessment is None:
        raise ActivityFormError("Choose one of the speaking tests in the list.")
    title = form.get("title", "").strip() or assessment.title
    try:
        score_maximum = float(form.get("score_maximum", "100"))
    except ValueError as exc:
        raise ActivityFormError("Maximum points must be a number.") from exc
    if not 0 < score_maximum <= 10000:
        raise ActivityFormError("Maximum points must be above 0 and at most 10000.")
    component = form.get("score_component", "overall")
    provider = providers[assessment.provider]
    if component not in provider.components:
        raise ActivityFormError(f"{provider.label} reports these scores: {', '.join(provider.components)}.")
    policy = form.get("attempts_policy", AttemptsPolicy.LATEST.value)
    if policy not in set(AttemptsPolicy):
        raise ActivityFormError("Choose the latest or the best attempt.")
    return create_activity(session, assessment, title[:200], score_maximum, component, policy,
                           show_score_to_student=form.get("show_score") == "on")


def deep_link_response(session: orm.Session, record: LtiLaunch, activity: Activity, launch_url: str) -> DeepLinkReturn:
    """The signed ``LtiDeepLinkingResponse`` placing ``activity`` as a graded link."""
    settings = record.claims.get(Claim.DEEP_LINKING_SETTINGS)
    if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
        raise ActivityFormError("This launch is not a deep-linking request; add the activity from the course editor.")
    registration = session.get(LtiRegistration, record.registration_id)
    deployment = session.get(LtiDeployment, record.deployment_id)
    assert registration is not None
    assert deployment is not None
    key = signing_key(session)
    line_item = (LineItem().set_score_maximum(activity.score_maximum).set_label(activity.title)
                 .set_resource_id(activity.public_id).set_tag(LINE_ITEM_TAG))
    resource = (DeepLinkResource().set_title(activity.title).set_url(launch_url).set_lineitem(line_item)
                .set_custom_params({ACTIVITY_CUSTOM_PARAMETER: activity.public_id}))
    message: dict[str, Any] = DeepLink(pylti_registration(registration, key), deployment.deployment_id,
                                       settings).get_message_jwt([resource])  # type: ignore[arg-type]
    if "data" not in settings:  # echo data only when the platform sent it (LTI-DL §4.4)
        message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data", None)
    token = jwt.encode(message, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    return DeepLinkReturn(return_url=str(settings["deep_link_return_url"]), jwt=token)
