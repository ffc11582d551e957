"""The teacher's view: the whole roster (NRPS, every page) with each learner's status, score and report, resend
of grades, and access limited to the course's teachers."""

from __future__ import annotations

import re

import requests
import sqlalchemy as sa

from lti_tool.maintenance import passback_worker
from lti_tool.models import Attempt
from lti_tool.models import AttemptStatus
from lti_tool.models import LtiContext
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import constants as c
from tests.speechace.test_callback import take_test

EXTRA_LEARNERS = [("grace", "Grace", "Hopper"), ("katherine", "Katherine", "Johnson"), ("edsger", "Edsger", "Dijkstra")]


def _enrol_learners(connected):
    for sub, given, family in EXTRA_LEARNERS:
        connected.platform.add_user(sub, given, family, email=f"{sub}@example.edu")
        connected.platform.enrol(connected.course.context_id, sub, [c.ROLE_LEARNER])


def _teacher(connected, setup):
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=connected.course.instructor,
                                            custom={"activity": setup.activity_public_id}))
    return browser, page


def _statuses(page_text: str) -> dict[str, str]:
    rows = re.findall(r'data-status="([^"]+)" data-learner="([^"]+)"', page_text)
    return {name: status for status, name in rows}


def test_roster_lists_every_learner_across_pages_with_status(connected, speechace_setup, settings, database):
    _enrol_learners(connected)
    take_test(connected, speechace_setup)  # Alan: graded below
    take_test(connected, speechace_setup, sub="grace")  # Grace: submitted, not yet sent
    passback_worker(database, settings).run_once()
    take_test(connected, speechace_setup, sub="grace", scores={"overall": 5.0, "pronunciation": 5, "fluency": 5,
                                                               "vocab": 5, "grammar": 5})
    with database.session() as session:  # a platform that pages its roster two members at a time
        context = session.scalars(sa.select(LtiContext)).one()
        context.memberships_url = f"{context.memberships_url}?limit=2"
    _, page = _teacher(connected, speechace_setup)
    assert _statuses(page.text) == {"Alan Turing": "graded", "Grace Hopper": "submitted",
                                    "Katherine Johnson": "not_started", "Edsger Dijkstra": "not_started"}
    assert 'data-testid="roster-problem"' not in page.text


def test_roster_unavailable_falls_back_to_attempts_and_says_so(connected, speechace_setup, database):
    take_test(connected, speechace_setup)
    connected.platform.fail_next("/memberships", 500, times=2)
    _, page = _teacher(connected, speechace_setup)
    assert 'data-testid="roster-problem"' in page.text
    assert _statuses(page.text) == {"Alan Turing": "submitted"}


def test_failed_grade_is_shown_with_the_lms_reason_and_resent(connected, speechace_setup, settings, database):
    take_test(connected, speechace_setup)
    connected.platform.enrol(connected.course.context_id, connected.course.learner, [c.ROLE_INSTRUCTOR])
    passback_worker(database, settings).run_once()  # Moodle: 400, the user is not gradable
    browser, page = _teacher(connected, speechace_setup)
    assert _statuses(page.text)["Alan Turing"] == "grade_failed"
    with database.session() as session:
        detail = session.scalars(sa.select(Attempt.status_detail)).one()
    assert detail and detail.split(":")[0] in page.text.replace("&#34;", '"')
    connected.platform.enrol(connected.course.context_id, connected.course.learner, [c.ROLE_LEARNER])
    (form,) = [f for f in parse_forms(page.text, page.url)
               if "resend" in f.action and "/resend/" not in f.action and "which" not in f.fields]
    after = browser.submit(form)
    assert 'data-testid="resent"' in after.text and "1 grade queued again" in after.text
    passback_worker(database, settings).run_once()
    assert connected.course.learner in next(iter(connected.platform.gradebook(connected.course.context_id).values()))
    with database.session() as session:
        assert session.scalars(sa.select(Attempt.status)).one() == AttemptStatus.GRADED


def test_resend_one_grade(connected, speechace_setup, settings, database):
    take_test(connected, speechace_setup)
    passback_worker(database, settings).run_once()
    browser, page = _teacher(connected, speechace_setup)
    (form,) = [f for f in parse_forms(page.text, page.url) if "/resend/" in f.action]
    assert 'data-testid="resent"' in browser.submit(form).text
    passback_worker(database, settings).run_once()
    assert len(connected.platform.score_posts) == 2


def test_learner_gets_403_on_teacher_pages_and_actions(connected, speechace_setup, database):
    take_test(connected, speechace_setup)
    from lti_tool.models import LtiLaunch
    from lti_tool.models import LtiUser

    with database.session() as session:
        learner_launch = session.scalars(sa.select(LtiLaunch.id).join(LtiUser, LtiUser.id == LtiLaunch.user_id)
                                         .where(LtiUser.sub == connected.course.learner)).first()
    base = connected.tool_url
    assert requests.get(f"{base}/teacher/link/{learner_launch}", timeout=10).status_code == 403
    assert requests.post(f"{base}/teacher/link/{learner_launch}/resend", timeout=10).status_code == 403


def test_teacher_of_another_course_cannot_resend_here(connected, speechace_setup, database):
    take_test(connected, speechace_setup)
    with database.session() as session:
        attempt_id = session.scalars(sa.select(Attempt.public_id)).one()
    connected.platform.add_context("course-202", "Other", "OTH")
    connected.platform.add_user("olga", "Olga", "Other")
    connected.platform.enrol("course-202", "olga", [c.ROLE_INSTRUCTOR])
    FormBrowser().get(connected.platform.begin_launch(connected.client.client_id, "olga", "course-202",
                                                      resource_link_id="other-link",
                                                      custom={"activity": speechace_setup.activity_public_id}))
    from lti_tool.models import LtiLaunch
    from lti_tool.models import LtiUser

    with database.session() as session:
        olga_launch = session.scalars(sa.select(LtiLaunch.id).join(LtiUser, LtiUser.id == LtiLaunch.user_id)
                                      .where(LtiUser.sub == "olga")).first()
    response = requests.post(f"{connected.tool_url}/teacher/link/{olga_launch}/resend/{attempt_id}", timeout=10)
    assert response.status_code == 403
