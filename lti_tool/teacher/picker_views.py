"""The teacher's picker: in a deep-linking launch it answers the LMS; on a bare link it sets the link up."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from lti_tool.activities import ACTIVITY_CUSTOM_PARAMETER
from lti_tool.activities import load_launch
from lti_tool.db import get_session
from lti_tool.grading.lineitems import LINE_ITEM_TAG
from lti_tool.lti.claims import MessageType
from lti_tool.lti.deep_linking import NotDeepLinking
from lti_tool.lti.deep_linking import PlacedLink
from lti_tool.lti.deep_linking import deep_link_response
from lti_tool.lti.endpoints import LAUNCH_PATH
from lti_tool.lti.endpoints import LTI_PREFIX
from lti_tool.models import Activity
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiResourceLink
from lti_tool.services import get_services
from lti_tool.teacher import words
from lti_tool.teacher.gradebook_column import match_column
from lti_tool.teacher.picker import ActivityFormError
from lti_tool.teacher.picker import activity_from_form
from lti_tool.teacher.picker import offered_assessments
from lti_tool.teacher.service import require_staff
from lti_tool.translatable import format_list
from lti_tool.translatable import gettext

bp = Blueprint("picker", __name__, url_prefix=LTI_PREFIX)


def render_picker(launch: LtiLaunch, error: str | None = None, status: int = 200,
                  submitted: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The picker; ``submitted`` refills it after a refused submission (never the LMS's launch POST)."""
    providers = get_services().providers
    deep_linking = launch.message_type == MessageType.DEEP_LINKING
    action = url_for("picker.deep_link_submit" if deep_linking else "picker.setup_link", launch_id=launch.id)
    # An assessment of a provider this installation no longer offers (LTI_TOOL_PROVIDERS) is not placed anew.
    assessments = [assessment for assessment in offered_assessments(get_session(), launch.deployment_id)
                   if assessment.provider in providers]
    return render_template("lti/activity_form.html", assessments=assessments, providers=providers, action=action,
                           error=error, form=submitted or {}, words=words,
                           provider_names=format_list([provider.label for provider in providers.values()], "or"),
                           deep_linking=deep_linking), status


@bp.post("/deep-link/<launch_id>")
def deep_link_submit(launch_id: str) -> str | tuple[str, int]:
    session = get_session()
    launch = load_launch(session, launch_id)
    require_staff(launch)
    try:
        activity = activity_from_form(session, get_services().providers, request.form, launch.deployment_id)
        answer = deep_link_response(session, launch, placed_link(activity))
    except (ActivityFormError, NotDeepLinking) as error:
        session.rollback()
        return render_picker(launch, str(error), 400, request.form)
    session.commit()
    return render_template("lti/deep_link_return.html", answer=answer)


@bp.post("/setup/<launch_id>")
def setup_link(launch_id: str) -> Response | tuple[str, int]:
    """A link added by hand (no deep linking): the teacher's first launch chooses its test."""
    session = get_session()
    launch = load_launch(session, launch_id)
    require_staff(launch)
    link = session.get(LtiResourceLink, launch.resource_link_id) if launch.resource_link_id else None
    if link is None:
        return render_picker(launch, gettext("This launch has no activity link to set up."), 400)
    try:
        activity = activity_from_form(session, get_services().providers, request.form, launch.deployment_id)
    except ActivityFormError as error:
        session.rollback()
        return render_picker(launch, str(error), 400, request.form)
    link.activity_id = activity.id
    session.commit()
    # The LMS may have made the column already (Moodle: 100 points): give it the teacher's maximum, or say why not.
    column = match_column(session, launch, activity)
    return redirect(url_for("teacher.link_page", launch_id=launch.id, column=column), code=303)


def placed_link(activity: Activity) -> PlacedLink:
    """The graded link for ``activity``: its column is tagged as ours, and the launch names the activity."""
    return PlacedLink(title=activity.title, launch_url=get_services().settings.url(LAUNCH_PATH),
                      score_maximum=activity.score_maximum, resource_id=activity.public_id, tag=LINE_ITEM_TAG,
                      custom={ACTIVITY_CUSTOM_PARAMETER: activity.public_id})
