"""Attempt rules per activity: a maximum of attempts (1, N, unlimited), the completed screen on reopening, a
confirmed retake when it would replace a grade, a teacher's reset of one student (scoped to the teacher's course
and link), and a picker that offers only each test's own scores."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiUser
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import constants as c
from tests.lti.test_deep_linking import picker
from tests.lti.test_deep_linking import submit_picker
from tests.speechace.test_embed import open_activity


def _limit(database, max_attempts: int | None, policy: str = "latest") -> None:
    with database.session() as session:
        session.execute(sa.update(Activity).values(max_attempts=max_attempts, attempts_policy=policy))


def _finish(connected, speechace_setup, browser=None) -> None:
    """Open the test (a new Speechace session) and complete that session."""
    page = open_activity(connected, speechace_setup, browser=browser)
    assert 'id="provider-test"' in page.text, page.text[:600]
    token = speechace_setup.emulator.session_for_user(connected.course.learner).token
    assert speechace_setup.emulator.complete(token).status == 200


def _retake(browser, page, confirm: bool):
    (form,) = [form for form in parse_forms(page.text, page.url) if form.attrs.get("data-testid") == "retake-form"]
    return browser.submit(form, {"confirm": "replace"} if confirm else {})


def _tries(database) -> int:
    with database.session() as session:
        return session.scalars(sa.select(Attempt.tries)).one()


def test_one_attempt_reopening_shows_the_completed_screen_and_no_new_test(connected, speechace_setup, database):
    _limit(database, 1)
    _finish(connected, speechace_setup)
    page = open_activity(connected, speechace_setup)
    assert 'data-testid="attempt-done"' in page.text and 'id="provider-test"' not in page.text
    assert "You completed the test on" in page.text and 'data-testid="no-retake"' in page.text
    assert 'data-testid="retake-form"' not in page.text
    launch = re.search(r'data-status-url="/lti/attempt/([^/"]+)/status"', page.text).group(1)
    refused = FormBrowser().post(f"{connected.tool_url}/lti/attempt/{launch}/retake", data={"confirm": "replace"})
    assert refused.status_code == 403 and _tries(database) == 1


def test_n_attempts_allow_retakes_until_n_with_a_confirmation_that_replaces_the_grade(connected, speechace_setup,
                                                                                     database):
    _limit(database, 2)
    _finish(connected, speechace_setup)
    browser = FormBrowser()
    page = open_activity(connected, speechace_setup, browser=browser)
    assert "replaces the grade" in page.text and "Attempt 1 of 2 used" in page.text
    assert _retake(browser, page, confirm=False).status_code == 400 and _tries(database) == 1
    again = _retake(browser, page, confirm=True)
    assert again.status_code == 200 and 'id="provider-test"' in again.text and _tries(database) == 2
    token = speechace_setup.emulator.session_for_user(connected.course.learner).token
    assert speechace_setup.emulator.complete(token).status == 200
    page = open_activity(connected, speechace_setup)
    assert 'data-testid="no-retake"' in page.text and 'data-testid="retake-form"' not in page.text


def test_best_attempt_retake_needs_no_confirmation_and_unlimited_never_runs_out(connected, speechace_setup,
                                                                              database):
    _limit(database, None, policy="best")
    for expected_tries in (2, 3, 4):
        _finish(connected, speechace_setup) if expected_tries == 2 else None
        browser = FormBrowser()
        page = open_activity(connected, speechace_setup, browser=browser)
        assert "replaces the grade" not in page.text
        assert _retake(browser, page, confirm=False).status_code == 200 and _tries(database) == expected_tries
        token = speechace_setup.emulator.session_for_user(connected.course.learner).token
        assert speechace_setup.emulator.complete(token).status == 200


def _latest_launch_of(database, sub: str) -> str:
    with database.session() as session:
        return session.scalars(sa.select(LtiLaunch.id).join(LtiUser, LtiUser.id == LtiLaunch.user_id)
                               .where(LtiUser.sub == sub).order_by(LtiLaunch.expires_at.desc())).first()


def _attempt_id(database) -> str:
    with database.session() as session:
        return session.scalars(sa.select(Attempt.public_id)).one()


def test_a_teacher_resets_one_students_attempt_after_confirming(connected, speechace_setup, database):
    _limit(database, 1)
    _finish(connected, speechace_setup)
    FormBrowser().get(connected.launch_url(sub=connected.course.instructor,
                                           custom={"activity": speechace_setup.activity_public_id}))
    teacher_launch = _latest_launch_of(database, connected.course.instructor)
    url = f"{connected.tool_url}/teacher/link/{teacher_launch}/reset/{_attempt_id(database)}"
    browser = FormBrowser()
    confirm = browser.get(url)
    assert confirm.status_code == 200 and 'data-testid="reset-form"' in confirm.text
    assert browser.post(url, data={}).status_code == 400
    with database.session() as session:
        assert session.scalars(sa.select(Attempt.datetime_reset)).one() is None
    (form,) = [form for form in parse_forms(confirm.text, confirm.url) if form.attrs.get("data-testid") == "reset-form"]
    assert browser.submit(form, {"confirm": "reset"}).status_code == 200  # back on the teacher's page
    page = open_activity(connected, speechace_setup)
    assert 'id="provider-test"' in page.text  # the student takes the test again
    status = FormBrowser().get(connected.tool_url + re.search(r'data-status-url="([^"]+)"', page.text).group(1))
    assert status.json()["state"] in ("reset", "in_progress")


def test_reset_is_refused_to_learners_and_to_teachers_of_another_course(connected, speechace_setup, database):
    _finish(connected, speechace_setup)
    attempt = _attempt_id(database)
    learner_launch = _latest_launch_of(database, connected.course.learner)
    assert FormBrowser().post(f"{connected.tool_url}/teacher/link/{learner_launch}/reset/{attempt}",
                              data={"confirm": "reset"}).status_code == 403
    connected.platform.add_context("other-course", "Other course", "OTHER")
    connected.platform.enrol("other-course", connected.course.instructor, [c.ROLE_INSTRUCTOR])
    FormBrowser().get(connected.platform.begin_launch(connected.client.client_id, connected.course.instructor,
                                                      "other-course", resource_link_id="link-2"))
    other_launch = _latest_launch_of(database, connected.course.instructor)
    assert FormBrowser().post(f"{connected.tool_url}/teacher/link/{other_launch}/reset/{attempt}",
                              data={"confirm": "reset"}).status_code == 403
    with database.session() as session:
        assert session.scalars(sa.select(Attempt.datetime_reset)).one() is None


def test_the_picker_offers_each_test_only_its_own_scores(connected, speechace_setup, itep_setup, database):
    _, page = picker(connected)
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', page.text, flags=re.S)
    offered = {html.unescape(label): re.findall(r'value="[^":]+:([^"]+)"', body) for label, body in groups}
    speechace = next(values for label, values in offered.items() if "(Speechace)" in label)
    itep = next(values for label, values in offered.items() if "(iTEP)" in label)
    assert speechace == ["overall", "pronunciation", "fluency", "vocab", "grammar"]
    assert itep == ["overall", "grammar", "listening", "reading", "writing", "speaking"]
    assert ": Vocabulary (0–9)" in page.text and ": Vocab " not in page.text  # the provider's own labels


def test_a_wrong_pair_is_refused_with_what_the_test_reports(connected, speechace_setup, database):
    browser, page = picker(connected)
    with database.session() as session:
        assessment = session.scalars(sa.select(Assessment.public_id).where(Assessment.provider == "speechace")).one()
    answer = submit_picker(browser, page, score_choice=f"{assessment}:listening")
    assert answer.status_code == 400 and "reports these scores" in html.unescape(answer.text)


@pytest.mark.parametrize(("value", "message"), [("0", "between 1 and 100"), ("two", "whole number")])
def test_attempts_allowed_must_be_a_sensible_number(connected, speechace_setup, database, value, message):
    browser, page = picker(connected)
    answer = submit_picker(browser, page, max_attempts=value)
    assert answer.status_code == 400 and message in html.unescape(answer.text)


def test_the_picker_stores_the_attempts_allowed(connected, speechace_setup, database):
    browser, page = picker(connected)
    assert submit_picker(browser, page, title="Twice", max_attempts="2").status_code == 200
    with database.session() as session:
        assert session.scalars(sa.select(Activity.max_attempts).where(Activity.title == "Twice")).one() == 2


def test_before_the_test_the_learner_reads_what_it_is_and_how_long_it_takes(connected, speechace_setup, database):
    browser, page = picker(connected)
    assert submit_picker(browser, page, title="Timed", expected_minutes="15").status_code == 200
    with database.session() as session:
        activity = session.scalars(sa.select(Activity).where(Activity.title == "Timed")).one()
        assert activity.expected_minutes == 15
        session.execute(sa.update(Activity).where(Activity.public_id == speechace_setup.activity_public_id)
                        .values(expected_minutes=20))
    page = open_activity(connected, speechace_setup)
    about = re.search(r'<p data-testid="about-test".*?</p>', page.text, re.S).group(0)
    assert "answer each question aloud" in about and "about 20 minutes" in " ".join(about.split())
    refused = submit_picker(*picker(connected), expected_minutes="0")
    assert refused.status_code == 400 and "between 1 and 600 minutes" in html.unescape(refused.text)
