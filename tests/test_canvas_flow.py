"""The whole path in the emulator's Canvas mode: dynamic registration → Modules → External Tool (deep linking) →
a learner's launch → the provider's callback → the worker → Canvas's gradebook, under Canvas's rules (shared issuer,
an OIDC auth domain apart with the strict ``aud`` check, no deployment id at login or at registration, the first
message per placement, one attempt per assignment)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from lti_tool.lti import registration_approval
from lti_tool.maintenance import passback_worker
from lti_tool.models import Attempt
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform import create_platform_app
from tests.itep.test_fulfillment import open_itep

CANVAS_ISSUER = "https://canvas.instructure.com"
SCORES = {"overall": 7.2, "pronunciation": 7, "fluency": 7, "vocab": 8, "grammar": 7}


@pytest.fixture
def platform(platform_server) -> PlatformEmulator:
    """Hosted Canvas: every school under one issuer, keys and tokens on the OIDC auth domain."""
    emulator = PlatformEmulator(issuer=CANVAS_ISSUER, base_url=platform_server.url, flavor="canvas")
    platform_server.start(create_platform_app(emulator))
    return emulator


def register(platform, tool_server, database):
    with database.session() as session:
        token = registration_approval.create_invitation(session, dt.timedelta(days=1),
                                                        created_by="test").token
    page = FormBrowser().get(platform.begin_dynamic_registration(f"{tool_server.url}/lti/register/invitation/{token}"))
    assert page.status_code == 200, page.text[:500]
    (client,) = platform.tools.values()
    return client


def picker(browser, platform, client, course):
    """Modules → External Tool: Canvas opens the tool's link_selection placement."""
    return browser.get(platform.open_placement(client.client_id, course.instructor, course.context_id,
                                               "link_selection"))


def test_canvas_from_registration_to_the_gradebook(app, platform, tool_server, database, speechace_setup, settings):
    client = register(platform, tool_server, database)
    # What Canvas made of the registration: the picker on both placements, the extensions it reads.
    assert {name: message["type"] for name, message in client.placements.items()} == {
        "link_selection": c.MSG_DEEP_LINKING, "assignment_selection": c.MSG_DEEP_LINKING}
    assert client.placements["link_selection"][c.CANVAS_LAUNCH_WIDTH] == 900
    assert client.registration_extensions == {c.CANVAS_PRIVACY_LEVEL: "public",
                                              c.CANVAS_TOOL_ID: "lti-speaking-tests"}
    with database.session() as session:
        registration = session.scalars(sa.select(LtiRegistration)).one()
        assert (registration.issuer, registration.name) == (CANVAS_ISSUER, "Sandbox Community College")
        assert registration.auth_token_url == platform.token_url != platform.url("/token")
        assert registration.key_set_url == platform.jwks_url
        assert registration.auth_audience == urlsplit(platform.auth_base_url).netloc  # a bare host
        assert session.scalars(sa.select(LtiDeployment)).all() == []  # Canvas's answer names none

    course = platform.add_default_course()
    teacher = FormBrowser()
    # Canvas's login carries no deployment id, its registration answer none either: the first launch names it,
    # and the tool admin approves it.
    assert picker(teacher, platform, client, course).status_code == 403
    with database.session() as session:
        session.scalars(sa.select(LtiDeployment)).one().status = DeploymentStatus.ACTIVE.value
    app.extensions["lti_tool.services"].configuration_changed()
    page = picker(teacher, platform, client, course)
    (form,) = [f for f in parse_forms(page.text, page.url) if f.attrs.get("data-testid") == "activity-form"]
    teacher.submit(form, {"title": "Unit 3 speaking", "score_maximum": "40"})
    created = platform.deep_link_results[-1]["created"][0]
    platform.limit_attempts(created["lineitem_id"], 1)  # the assignment allows one submission

    FormBrowser().get(platform.begin_launch(client.client_id, course.learner, course.context_id,
                                            resource_link_id=created["resource_link_id"]))
    emulated_session = speechace_setup.emulator.session_for_user(course.learner)
    speechace_setup.emulator.complete(emulated_session.token, scores=SCORES)
    assert passback_worker(database, settings).run_once()["sent"] == 1
    with database.session() as session:
        finished = session.scalars(sa.select(Attempt.datetime_finished)).one()
    grade = platform.gradebook(course.context_id)[created["lineitem_id"]][course.learner]
    assert grade["score"] == pytest.approx(7.2 / 9 * 40, abs=1e-3)
    assert (grade["attempts"], grade["submitted_at"]) == (1, finished.isoformat(timespec="milliseconds"))
    assert len(grade["comments"]) == 1
    assert {request.status for request in platform.token_requests} == {200}  # the aud Canvas wants

    # A retake of the same attempt: a better grade, no second Canvas attempt (which this assignment would refuse).
    speechace_setup.emulator.complete(emulated_session.token, scores={**SCORES, "overall": 8.1})
    assert passback_worker(database, settings).run_once()["sent"] == 1
    grade = platform.gradebook(course.context_id)[created["lineitem_id"]][course.learner]
    assert grade["score"] == pytest.approx(8.1 / 9 * 40, abs=1e-3)
    assert (grade["attempts"], grade["submitted_at"]) == (1, finished.isoformat(timespec="milliseconds"))
    assert [post.status for post in platform.score_posts] == [200, 200]
    with database.session() as session:  # the attempt was finished once: the retake does not move it
        assert session.scalars(sa.select(Attempt.datetime_finished)).one() == finished
    assert {post.body["submission"]["submittedAt"] for post in platform.score_posts} == {grade["submitted_at"]}


def test_an_itep_grade_days_later_is_submitted_when_the_learner_finished(connected, itep_setup, database, settings):
    """iTEP reports "finished" first and grades later: Canvas gets no attempt for the wait, one for the grade, dated
    when the learner finished."""
    with database.session() as session:
        session.get_one(LtiRegistration, connected.registration.id).product_family_code = "canvas"
    page = open_itep(connected, itep_setup.gtx_activity)
    test_id = re.search(r'data-testid="test-id">([^<]+)<', page.text).group(1)
    (lineitem_id,) = [item.id for item in connected.platform.line_items_of(connected.course.context_id)]
    connected.platform.limit_attempts(lineitem_id, 1)
    itep_setup.emulator.finish_test(test_id)
    assert passback_worker(database, settings).run_once()["sent"] == 1
    waiting = connected.platform.gradebook(connected.course.context_id)[lineitem_id][connected.course.learner]
    assert (waiting["gradingProgress"], waiting["attempts"]) == ("Pending", 0)
    with database.session() as session:
        finished = session.scalars(sa.select(Attempt.datetime_finished)).one()
    itep_setup.emulator.fire_webhook(test_id, status="Complete", overall_level="4.5", overall_cefr="C1")
    assert passback_worker(database, settings).run_once()["sent"] == 1
    graded = connected.platform.gradebook(connected.course.context_id)[lineitem_id][connected.course.learner]
    assert graded["score"] == pytest.approx(4.5 / 6 * 100)
    assert (graded["attempts"], graded["submitted_at"]) == (1, finished.isoformat(timespec="milliseconds"))
    pending, grade = connected.platform.score_posts
    assert (pending.body[c.CLAIM_CANVAS_SUBMISSION]["new_submission"],
            grade.body[c.CLAIM_CANVAS_SUBMISSION]["new_submission"]) == (False, True)
    assert grade.body["timestamp"] > grade.body["submission"]["submittedAt"]
