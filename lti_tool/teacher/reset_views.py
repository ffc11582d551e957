"""A teacher resets one student's attempt at the launched link: a confirmation page, then a POST. Only the course's
teachers, only attempts of the launch's own school, course and link."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from lti_tool.activities import NotAllowed
from lti_tool.activities import load_launch
from lti_tool.activities import provider_for
from lti_tool.activities import reset_attempt
from lti_tool.activities import view_of
from lti_tool.db import get_session
from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiUser
from lti_tool.services import get_services
from lti_tool.teacher.service import require_staff
from lti_tool.teacher.views import bp
from lti_tool.translatable import N_
from lti_tool.translatable import gettext

log = logging.getLogger(__name__)


def _scoped_attempt(launch: LtiLaunch, attempt_public_id: str) -> Attempt:
    require_staff(launch)
    attempt = get_session().scalars(sa.select(Attempt).where(
        Attempt.public_id == attempt_public_id, Attempt.registration_id == launch.registration_id,
        Attempt.context_id == launch.context_id, Attempt.resource_link_id == launch.resource_link_id)).first()
    if attempt is None:
        raise NotAllowed(N_("That attempt does not belong to this activity."))
    return attempt


@bp.get("/link/<launch_id>/reset/<attempt_public_id>")
def confirm_reset(launch_id: str, attempt_public_id: str) -> str:
    session = get_session()
    launch = load_launch(session, launch_id)
    attempt = _scoped_attempt(launch, attempt_public_id)
    activity = session.get(Activity, attempt.activity_id)
    return render_template("teacher/reset.html", launch=launch, attempt=attempt, learner=session.get(
        LtiUser, attempt.user_id), activity=activity, state=view_of(session, get_services().providers, attempt,
                                                                     activity))


@bp.post("/link/<launch_id>/reset/<attempt_public_id>")
def reset(launch_id: str, attempt_public_id: str) -> Response | tuple[str, int]:
    session = get_session()
    launch = load_launch(session, launch_id)
    attempt = _scoped_attempt(launch, attempt_public_id)
    if request.form.get("confirm") != "reset":
        return render_template("error.html", status=400, title=gettext("Confirm the reset"),
                               message=gettext("Tick the box to confirm that this student's attempt starts "
                                               "again.")), 400
    reset_attempt(attempt, provider_for(session, get_services().providers,
                                        session.get(Activity, attempt.activity_id)))
    session.commit()
    log.info("teacher (user %s) reset attempt %s on link %s", launch.user_id, attempt.id, launch.resource_link_id)
    return redirect(url_for("teacher.link_page", launch_id=launch_id, reset=1), code=303)
