"""What a launched user sees first: it depends on the message type and on their role."""

from __future__ import annotations

from flask import render_template

from lti_tool.lti.attempt_views import learner_page
from lti_tool.lti.claims import MessageType
from lti_tool.lti.claims import is_staff
from lti_tool.lti.deep_linking_views import render_picker
from lti_tool.models import LtiLaunch
from lti_tool.teacher.views import render_link_overview


def render_landing(record: LtiLaunch) -> str | tuple[str, int]:
    staff = is_staff(record.roles)
    if record.message_type == MessageType.DEEP_LINKING:
        return render_picker(record) if staff else (render_template("lti/not_allowed.html"), 403)
    if staff:
        return render_link_overview(record)
    return learner_page(record)
