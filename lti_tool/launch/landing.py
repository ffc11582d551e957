"""What a launched user sees first: it depends on the message type and on their role."""

from __future__ import annotations

from flask import render_template

from lti_tool import locales
from lti_tool.activities import activity_at_link
from lti_tool.db import get_session
from lti_tool.launch.recording import RecordedLaunch
from lti_tool.learner.views import learner_page
from lti_tool.lti.claims import MessageType
from lti_tool.lti.claims import is_staff
from lti_tool.teacher.picker_views import render_picker
from lti_tool.teacher.views import render_link_overview
from lti_tool.teacher.views import render_submission_review


def render_landing(recorded: RecordedLaunch) -> str | tuple[str, int]:
    launch = recorded.launch
    locales.use_launch(launch)  # the pages of this launch speak the user's language
    staff = is_staff(launch.roles)
    if launch.message_type == MessageType.DEEP_LINKING:
        return render_picker(launch) if staff else (render_template("lti/not_allowed.html"), 403)
    if launch.message_type == MessageType.SUBMISSION_REVIEW:
        return render_submission_review(launch)
    if staff:
        return render_link_overview(launch)
    # The launch's write returned the link's activity: no need to read the link again.
    return learner_page(launch, activity_at_link(get_session(), launch, recorded.link_activity_id))
