"""Teacher pages. The launch handle in the URL identifies the teacher (no third-party cookies needed)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import quote

from flask import Blueprint
from flask import Response
from flask import abort
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import orm
from werkzeug.wrappers import Response as WerkzeugResponse

from lti_tool.activities import NotAllowed
from lti_tool.activities import activity_for_launch
from lti_tool.activities import attempt_status
from lti_tool.activities import load_launch
from lti_tool.attempt_state import ORDER
from lti_tool.attempt_state import State
from lti_tool.attempt_state import shown_labels
from lti_tool.db import get_session
from lti_tool.grading.columns import read_column
from lti_tool.lti.claims import is_platform_admin
from lti_tool.models import Activity
from lti_tool.models import LtiLaunch
from lti_tool.providers.interfaces import ReportDetails
from lti_tool.services import get_services
from lti_tool.teacher import words
from lti_tool.teacher.export import csv_text
from lti_tool.teacher.gradebook_column import match_column
from lti_tool.teacher.picker_views import render_picker
from lti_tool.teacher.service import RESEND_ALL
from lti_tool.teacher.service import RESEND_REFUSED
from lti_tool.teacher.service import class_view_for
from lti_tool.teacher.service import require_staff
from lti_tool.teacher.service import resend_grades
from lti_tool.teacher.service import result_for_teacher
from lti_tool.teacher.service import result_grade
from lti_tool.teacher.service import stored_class_view
from lti_tool.teacher.service import submission_for_review
from lti_tool.teacher.settings import SettingsError
from lti_tool.teacher.settings import apply_settings
from lti_tool.teacher.settings import component_choices
from lti_tool.teacher.settings import editable_activity
from lti_tool.teacher.settings import provider_of
from lti_tool.translatable import gettext

log = logging.getLogger(__name__)
bp = Blueprint("teacher", __name__, url_prefix="/teacher")


def render_link_overview(launch: LtiLaunch) -> str | tuple[str, int]:
    session = get_session()
    require_staff(launch)
    activity = activity_for_launch(session, launch)
    # A first launch placed the activity on the link: committed before the roster is asked of the LMS over HTTP.
    session.commit()
    if activity is None:
        return render_picker(launch)  # a link added by hand: its first teacher launch sets it up
    services = get_services()
    view = class_view_for(session, launch, activity, services.ags, services.providers)
    status_filter = request.args.get("status", "")
    return render_template("teacher/link.html", view=view, launch=launch, status_filter=status_filter,
                           rows=view.filtered(status_filter if status_filter in set(State) else None),
                           provider=provider_of(session, services.providers, activity),
                           platform_admin=is_platform_admin(launch.roles), words=words, states=State,
                           status_order=ORDER, status_labels=shown_labels(), notices=_notices(),
                           resource_link=launch.claims.get("https://purl.imsglobal.org/spec/lti/claim/resource_link")
                           or {})


def _notices() -> dict[str, str]:
    """What the last action said (a fixed word in the URL, never text from it)."""
    args = request.args
    return {name: args[name] for name in ("saved", "column", "resent") if name in args}


def render_submission_review(launch: LtiLaunch) -> str | tuple[str, int]:
    """Submission Review (Moodle's "Grade analysis"): a teacher sees the named learner's result, a learner their
    own, as the learner's page would show it."""
    session = get_session()
    try:
        review = submission_for_review(session, launch)
    except NotAllowed as refusal:
        log.warning("submission review refused for launch user %s on link %s: %s", launch.user_id,
                    launch.resource_link_id, refusal.reason)
        return render_template("lti/not_allowed.html", reason=refusal.shown()), 403
    if review.result is not None and not review.own:
        provider = get_services().providers[review.result.provider]
        details = provider.report_details(review.result.result)
        return render_template("teacher/result.html", view=review.result, details=details, launch=launch,
                               labels=provider.component_labels,
                               words=words, grade=result_grade(session, review.result,
                                                               read_column(session, get_services().ags, launch)))
    return render_template("lti/submission_review.html", review=review,
                           status=attempt_status(session, launch, get_services().providers) if review.own else None,
                           resource_link=launch.claims.get("https://purl.imsglobal.org/spec/lti/claim/resource_link")
                           or {})


@bp.get("/link/<launch_id>")
def link_page(launch_id: str) -> str | tuple[str, int]:
    return render_link_overview(load_launch(get_session(), launch_id))


def _staff_launch_and_activity(session: orm.Session, launch_id: str) -> tuple[LtiLaunch, Activity]:
    """The teacher's launch and the activity on its link. :raise NotAllowed: a learner. 404: no activity yet."""
    launch = load_launch(session, launch_id)
    require_staff(launch)
    activity = activity_for_launch(session, launch)
    if activity is None:
        abort(404)
    return launch, activity


@bp.get("/link/<launch_id>/status.json")
def status_json(launch_id: str) -> Response:
    """The statuses the class view polls: stored state only, so polling never calls the LMS."""
    session = get_session()
    launch, activity = _staff_launch_and_activity(session, launch_id)
    view = stored_class_view(session, launch, activity, get_services().providers)
    response = jsonify({
        "counts": {key.value: count for key, count in view.summary.counts.items()},
        "rows": [{"attempt": row.attempt_public_id, "name": row.name, "status": row.state.value,
                  "label": row.label, "detail": row.detail, "can_resend": row.can_resend} for row in view.rows],
    })
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/link/<launch_id>/export.csv")
def export_csv(launch_id: str) -> Response:
    session = get_session()
    launch, activity = _staff_launch_and_activity(session, launch_id)
    session.commit()
    view = class_view_for(session, launch, activity, get_services().ags, get_services().providers)
    settings = get_services().settings
    body = csv_text(view, lambda public_id: settings.url(url_for("teacher.result_page", result_public_id=public_id)))
    log.info("class export of link %s by launch user %s: %d students", launch.resource_link_id, launch.user_id,
             len(view.rows))
    response = Response(body.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = _attachment(activity.title)
    response.headers["Cache-Control"] = "no-store"
    return response


def _attachment(title: str) -> str:
    """``Content-Disposition`` with an ASCII file name and the title itself (RFC 6266 ``filename*``)."""
    plain = "".join(char if char.isascii() and (char.isalnum() or char in "-_") else "-" for char in title)
    plain = "-".join(part for part in plain.split("-") if part)[:60] or "speaking-test"
    return f"attachment; filename=\"{plain}.csv\"; filename*=UTF-8''{quote(title[:100])}.csv"


@bp.get("/link/<launch_id>/settings")
def settings_page(launch_id: str) -> str | tuple[str, int]:
    session = get_session()
    launch = load_launch(session, launch_id)
    activity = editable_activity(session, launch)
    return _settings_form(launch, activity, {})


def _settings_form(launch: LtiLaunch, activity: Activity, submitted: Mapping[str, str], error: str | None = None,
                   status: int = 200) -> tuple[str, int]:
    provider = provider_of(get_session(), get_services().providers, activity)
    values = submitted or {"title": activity.title, "score_maximum": words.plain(activity.score_maximum),
                           "score_component": activity.score_component, "attempts_policy": activity.attempts_policy,
                           "show_score": "on" if activity.show_score_to_student else "",
                           "max_attempts": str(activity.max_attempts) if activity.max_attempts else "",
                           "expected_minutes": str(activity.expected_minutes) if activity.expected_minutes else ""}
    return render_template("teacher/settings.html", launch=launch, activity=activity, form=values, error=error,
                           provider=provider, components=component_choices(provider)), status


@bp.post("/link/<launch_id>/settings")
def save_settings(launch_id: str) -> WerkzeugResponse | tuple[str, int]:
    session = get_session()
    launch = load_launch(session, launch_id)
    activity = editable_activity(session, launch)
    try:
        changed = apply_settings(activity, provider_of(session, get_services().providers, activity), request.form)
    except SettingsError as error:
        session.rollback()
        log.info("activity settings refused for link %s: %s", launch.resource_link_id, error)
        return _settings_form(launch, activity, request.form, str(error), 400)
    session.commit()
    get_services().configuration_changed()  # the callbacks' cached settings of this process
    column = match_column(session, launch, activity, activity.title if changed.title else None)
    return redirect(url_for("teacher.link_page", launch_id=launch_id, saved="1", column=column), code=303)


@bp.post("/link/<launch_id>/column")
def update_column(launch_id: str) -> WerkzeugResponse:
    """"Make the gradebook column N points": write the activity's maximum to the LMS's line item."""
    session = get_session()
    launch, activity = _staff_launch_and_activity(session, launch_id)
    session.commit()  # a first launch's binding of the link, before the LMS is asked
    return redirect(url_for("teacher.link_page", launch_id=launch_id,
                            column=match_column(session, launch, activity)), code=303)


@bp.post("/link/<launch_id>/resend")
@bp.post("/link/<launch_id>/resend/<attempt_public_id>")
def resend(launch_id: str, attempt_public_id: str | None = None) -> WerkzeugResponse:
    """"Resend grade" for one row; without an attempt id, every refused grade, or every grade ("which=all")."""
    session = get_session()
    which = RESEND_ALL if request.form.get("which") == RESEND_ALL else RESEND_REFUSED
    queued = resend_grades(session, load_launch(session, launch_id), get_services().providers, attempt_public_id,
                           which)
    session.commit()
    if queued:
        get_services().wake_passback()
    return redirect(url_for("teacher.link_page", launch_id=launch_id, resent=queued), code=303)


@bp.get("/results/<result_public_id>")
def result_page(result_public_id: str) -> str | tuple[str, int]:
    launch_id = request.args.get("launch")
    if not launch_id:
        return render_template("error.html", status=401, title=gettext("Open this page from your course"),
                               message=gettext("Reports are shown to teachers only: open the activity from your "
                                               "course and follow the report link there.")), 401
    session = get_session()
    launch = load_launch(session, launch_id)
    view = result_for_teacher(session, launch, result_public_id, get_services().providers)
    if view is None:
        abort(404)
    provider = get_services().providers.get(view.provider)
    details = provider.report_details(view.result) if provider is not None else ReportDetails(
        scores=view.result.scores, link=view.result.report_url,
        problem=gettext("This installation no longer offers the test's provider (LTI_TOOL_PROVIDERS): only the "
                        "stored scores are shown."))
    return render_template("teacher/result.html", view=view, details=details, launch=launch, words=words,
                           labels=provider.component_labels if provider is not None else {},
                           grade=result_grade(session, view, read_column(session, get_services().ags, launch)))

