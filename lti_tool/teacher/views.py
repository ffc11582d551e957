"""Teacher pages. The launch handle in the URL identifies the teacher (no third-party cookies needed)."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from lti_tool.activities import NotAllowed
from lti_tool.activities import activity_for_launch
from lti_tool.activities import attempt_status
from lti_tool.activities import load_launch
from lti_tool.db import get_session
from lti_tool.lti.claims import is_platform_admin
from lti_tool.models import LtiLaunch
from lti_tool.providers.interfaces import ReportDetails
from lti_tool.services import get_services
from lti_tool.teacher.picker_views import render_picker
from lti_tool.teacher.service import link_overview
from lti_tool.teacher.service import require_staff
from lti_tool.teacher.service import resend_grades
from lti_tool.teacher.service import result_for_teacher
from lti_tool.teacher.service import submission_for_review

log = logging.getLogger(__name__)
bp = Blueprint("teacher", __name__, url_prefix="/teacher")


def render_link_overview(record: LtiLaunch) -> str | tuple[str, int]:
    session = get_session()
    require_staff(record)
    activity = activity_for_launch(session, record)
    # A first launch placed the activity on the link: committed before the roster is asked of the LMS over HTTP.
    session.commit()
    overview = link_overview(session, record, activity, get_services().ags)
    if overview.activity is None:
        return render_picker(record)  # a link added by hand: its first teacher launch sets it up
    return render_template("teacher/link.html", overview=overview, launch=record,
                           platform_admin=is_platform_admin(record.roles),
                           resource_link=record.claims.get("https://purl.imsglobal.org/spec/lti/claim/resource_link")
                           or {})


def render_submission_review(record: LtiLaunch) -> str | tuple[str, int]:
    """Submission Review (Moodle's "Grade analysis"): a teacher sees the named learner's result, a learner their
    own, as the learner's page would show it."""
    session = get_session()
    try:
        review = submission_for_review(session, record)
    except NotAllowed as refusal:
        log.warning("submission review refused for launch user %s on link %s: %s", record.user_id,
                    record.resource_link_id, refusal)
        return render_template("lti/not_allowed.html", reason=str(refusal)), 403
    if review.result is not None and not review.own:
        details = get_services().providers[review.result.provider].report_details(review.result.result)
        return render_template("teacher/result.html", view=review.result, details=details, launch=record)
    return render_template("lti/submission_review.html", review=review,
                           status=attempt_status(session, record, get_services().providers) if review.own else None,
                           resource_link=record.claims.get("https://purl.imsglobal.org/spec/lti/claim/resource_link")
                           or {})


@bp.get("/link/<launch_id>")
def link_page(launch_id: str) -> str | tuple[str, int]:
    return render_link_overview(load_launch(get_session(), launch_id))


@bp.post("/link/<launch_id>/resend")
@bp.post("/link/<launch_id>/resend/<attempt_public_id>")
def resend(launch_id: str, attempt_public_id: str | None = None) -> Response:
    """"Resend grade" for one row, or "resend all failed" without an attempt id."""
    session = get_session()
    queued = resend_grades(session, load_launch(session, launch_id), attempt_public_id)
    session.commit()
    if queued:
        get_services().wake_passback()
    return redirect(url_for("teacher.link_page", launch_id=launch_id, resent=queued), code=303)


@bp.get("/results/<result_public_id>")
def result_page(result_public_id: str) -> str | tuple[str, int]:
    launch_id = request.args.get("launch")
    if not launch_id:
        return render_template("error.html", status=401, title="Open this page from your course",
                               message="Reports are shown to teachers only: open the activity from your course and "
                                       "follow the report link there."), 401
    session = get_session()
    record = load_launch(session, launch_id)
    view = result_for_teacher(session, record, result_public_id, get_services().providers)
    if view is None:
        abort(404)
    provider = get_services().providers.get(view.provider)
    details = provider.report_details(view.result) if provider is not None else ReportDetails(
        scores=view.result.scores, link=view.result.report_url,
        problem="This installation no longer offers the test's provider (LTI_TOOL_PROVIDERS): only the stored "
                "scores are shown.")
    return render_template("teacher/result.html", view=view, details=details, launch=record)

