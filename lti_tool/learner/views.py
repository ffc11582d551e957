"""The learner's side of a launch: the embedded test (or test ticket), retry, and the status the page polls."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from lti_tool.activities import LaunchExpired
from lti_tool.activities import NotAllowed
from lti_tool.activities import activity_for_launch
from lti_tool.activities import attempt_status
from lti_tool.activities import learner_attempt
from lti_tool.activities import load_launch
from lti_tool.activities import provider_for
from lti_tool.activities import retake_rule
from lti_tool.activities import shown_test
from lti_tool.activities import shows_completed
from lti_tool.activities import start_retake
from lti_tool.activities import start_test
from lti_tool.activities import view_of
from lti_tool.db import get_session
from lti_tool.lti.endpoints import LTI_PREFIX
from lti_tool.models import Activity
from lti_tool.models import LtiLaunch
from lti_tool.providers.interfaces import EmbeddedTest
from lti_tool.providers.interfaces import ProviderError
from lti_tool.services import get_services
from lti_tool.translatable import N_
from lti_tool.translatable import gettext

bp = Blueprint("learner", __name__, url_prefix=LTI_PREFIX)

log = logging.getLogger(__name__)


def learner_page(launch: LtiLaunch, activity: Activity | None) -> tuple[str, int]:
    """Start or resume the learner's test at ``activity`` (the one placed on the launched link); a provider
    failure gives a page with a retry."""
    session = get_session()
    # What the launch wrote (the link's activity on a first launch) is committed before the test starts: starting
    # asks the LMS for the gradebook column and the provider for the test, over HTTP, with no write pending.
    session.commit()
    if activity is None:
        return render_template("lti/learner.html", launch=launch, resource_link=launch.claims.get(
            "https://purl.imsglobal.org/spec/lti/claim/resource_link") or {}, context={}), 200
    attempt = learner_attempt(session, launch)
    view = view_of(session, get_services().providers, attempt, activity)
    if attempt is not None and attempt.activity_id == activity.id and shows_completed(view):
        # A finished try is shown as finished: a new test starts only through an allowed, confirmed retake.
        return render_template("lti/attempt_done.html", activity=activity, launch=launch,
                               status=attempt_status(session, launch, get_services().providers),
                               retake=retake_rule(activity, attempt, view),
                               status_url=url_for("learner.attempt_status_json", launch_id=launch.id)), 200
    try:
        test = start_test(session, get_services().providers, get_services().ags, launch, activity,
                          identity_default=get_services().settings.share_learner_identity)
        session.commit()  # the attempt (and a provider's claim on it) is stored before the provider is asked
        test_view = shown_test(session, test)
    except ProviderError as error:
        session.commit()  # the attempt is recorded even when the provider fails
        log.warning("provider failed for launch of user %s on link %s: %s", launch.user_id,
                    launch.resource_link_id, error.detail)
        return render_template("lti/provider_error.html", error=error, activity=activity,
                               retry_url=url_for("learner.attempt_page", launch_id=launch.id)), 502
    session.commit()
    status_url = url_for("learner.attempt_status_json", launch_id=launch.id)
    template = "lti/test_embedded.html" if isinstance(test_view, EmbeddedTest) else "lti/test_ticket.html"
    provider = provider_for(session, get_services().providers, activity)
    return render_template(template, activity=activity, view=test_view, status_url=status_url,
                           about=gettext(provider.summary) if provider is not None else None), 200


@bp.get("/attempt/<launch_id>")
def attempt_page(launch_id: str) -> tuple[str, int]:
    session = get_session()
    launch = load_launch(session, launch_id)
    return learner_page(launch, activity_for_launch(session, launch))


@bp.post("/attempt/<launch_id>/retake")
def retake(launch_id: str) -> Response | tuple[str, int]:
    """The learner's next try, if the activity allows one; replacing a grade needs the learner's confirmation."""
    session = get_session()
    launch = load_launch(session, launch_id)
    activity = activity_for_launch(session, launch)
    attempt = learner_attempt(session, launch)
    if activity is None or attempt is None:
        return redirect(url_for("learner.attempt_page", launch_id=launch_id), code=303)
    rule = retake_rule(activity, attempt, view_of(session, get_services().providers, attempt, activity))
    if not rule.allowed:
        raise NotAllowed(N_("You have used every attempt this activity allows."))
    if rule.replaces_grade and request.form.get("confirm") != "replace":
        return render_template("error.html", status=400, title=gettext("Confirm the retake"),
                               message=gettext("Your new attempt replaces the grade you have: tick the box to "
                                               "confirm.")), 400
    start_retake(session, attempt, activity, provider_for(session, get_services().providers, activity))
    session.commit()
    log.info("learner %s retakes the test on link %s (try %d)", launch.user_id, launch.resource_link_id,
             attempt.tries)
    return redirect(url_for("learner.attempt_page", launch_id=launch_id), code=303)


EXPIRED_MESSAGE = N_("Your session has expired: open the activity again from your course.")


@bp.get("/attempt/<launch_id>/status")
def attempt_status_json(launch_id: str) -> tuple[Response, int]:
    """The page's poll. An expired launch answers 401 (an unknown handle) or 410 (past its lifetime) with the
    sentence the page shows, instead of leaving it "checking" forever."""
    session = get_session()
    try:
        launch = load_launch(session, launch_id)
    except LaunchExpired:
        gone = session.get(LtiLaunch, launch_id) is not None
        response, code = jsonify({"state": "expired", "message": gettext(EXPIRED_MESSAGE)}), 410 if gone else 401
    else:
        response, code = jsonify(attempt_status(session, launch, get_services().providers)), 200
    response.headers["Cache-Control"] = "no-store"
    return response, code

