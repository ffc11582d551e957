"""Which gradebook column an activity's scores go to (AGS line items).

In order: the launch's ``lineitem`` claim; a column the tool already knows for the link; one found on the platform
by resource link or by our resource id; one the tool creates when allowed; else the teacher is told which LMS
setting is missing.
"""

from __future__ import annotations

import logging

from sqlalchemy import orm

from lti_tool.grading.ags import AgsClient
from lti_tool.grading.ags import AgsError
from lti_tool.grading.tokens import AccessTokenError
from lti_tool.lti.claims import Claim
from lti_tool.lti.claims import Scope
from lti_tool.models import Activity
from lti_tool.models import LtiContext
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiResourceLink

log = logging.getLogger(__name__)

LINE_ITEM_TAG = "speaking-test"
MISSING_SETTING = ("The LMS gave this activity no gradebook column and does not let the tool create one. In Moodle, "
                   "set the tool's \"IMS LTI Assignment and Grade Services\" to \"Use this service for grade sync "
                   "and column management\"; in Canvas, add the activity as an assignment.")


class LineItemUnavailable(Exception):
    """No gradebook column can be found or made; the message tells the teacher what to change."""


def resolve_lineitem(session: orm.Session, ags: AgsClient, launch: LtiLaunch, activity: Activity) -> str:
    """The line item URL for the launched link, remembered on the link. :raise LineItemUnavailable:"""
    claim = launch.claims.get(Claim.AGS_ENDPOINT)
    endpoint = claim if isinstance(claim, dict) else {}
    if endpoint.get("lineitem"):
        return str(endpoint["lineitem"])
    link = session.get(LtiResourceLink, launch.resource_link_id) if launch.resource_link_id else None
    if link is None:
        raise LineItemUnavailable("This launch has no activity link.")
    if link.lineitem_url:
        return link.lineitem_url
    context = session.get(LtiContext, link.context_id)
    registration = session.get(LtiRegistration, launch.registration_id)
    if context is None or registration is None or not context.lineitems_url:
        raise LineItemUnavailable(MISSING_SETTING)
    try:
        url = _find(session, ags, registration, context, link, activity) or \
            _create(session, ags, registration, context, link, activity)
    except (AgsError, AccessTokenError) as exc:
        log.warning("line item for link %s unavailable: %s", link.id, exc)
        raise LineItemUnavailable(f"The LMS refused the gradebook column request ({exc}). {MISSING_SETTING}") \
            from exc
    link.lineitem_url = url
    return url


def _find(session: orm.Session, ags: AgsClient, registration: LtiRegistration, context: LtiContext,
          link: LtiResourceLink, activity: Activity) -> str | None:
    assert context.lineitems_url is not None
    for search in ({"resource_link_id": link.id_on_platform}, {"resource_id": activity.public_id}):
        items = ags.get_lineitems(session, registration, context.lineitems_url, **search)
        if items:
            return str(items[0]["id"])
    return None


def _create(session: orm.Session, ags: AgsClient, registration: LtiRegistration, context: LtiContext,
            link: LtiResourceLink, activity: Activity) -> str:
    if Scope.LINEITEM not in context.ags_scopes:
        raise LineItemUnavailable(MISSING_SETTING)
    assert context.lineitems_url is not None
    created = ags.create_lineitem(session, registration, context.lineitems_url, label=activity.title,
                                  score_maximum=activity.score_maximum, resource_id=activity.public_id,
                                  tag=LINE_ITEM_TAG, resource_link_id=link.id_on_platform)
    return str(created["id"])
