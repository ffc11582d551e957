"""One status model (lti_tool/attempt_state.py) for every provider status, through the HTTP endpoints: the
student's status JSON, the student's page on reopening, and the teacher's result page."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lti_tool.db import utcnow
from lti_tool.maintenance import passback_worker
from lti_tool.models import LtiLaunch
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.sandbox.browser import FormBrowser
from tests.itep.test_fulfillment import open_itep
from tests.speechace.test_callback import take_test


def _status_url(page_text: str) -> str:
    return re.search(r'data-status-url="([^"]+)"', page_text).group(1)


class Itep:
    def __init__(self, connected, itep_setup) -> None:
        self.connected, self.setup, self.browser = connected, itep_setup, FormBrowser()
        page = open_itep(connected, itep_setup.gtx_activity, browser=self.browser)
        self.test_id = re.search(r'data-testid="test-id">([^<]+)<', page.text).group(1)
        self.status_url = connected.tool_url + _status_url(page.text)

    def fire(self, status: str, **values) -> None:
        assert self.setup.emulator.fire_webhook(self.test_id, status=status, **values).status == 200

    def status(self) -> dict:
        return self.browser.get(self.status_url).json()

    def reopen(self) -> str:
        return open_itep(self.connected, self.setup.gtx_activity).text

    def teacher_result_page(self) -> str:
        page = FormBrowser().get(self.connected.launch_url(sub=self.connected.course.instructor, custom={
            "activity": self.setup.gtx_activity}, with_lineitem=True))
        link = re.search(r'href="([^"]*/teacher/results/[^"]+)"', page.text).group(1).replace("&amp;", "&")
        return FormBrowser().get(link if link.startswith("http") else self.connected.tool_url + link).text


@pytest.fixture
def itep(connected, itep_setup) -> Itep:
    return Itep(connected, itep_setup)


def _state_on_teacher_page(text: str) -> str:
    return re.search(r'data-testid="attempt-state"\s+data-state="([^"]+)"', text).group(1)


def test_itep_finished_is_awaiting_grading_everywhere(itep):
    itep.fire("Finished")
    status = itep.status()
    assert (status["state"], status["submitted"]) == ("awaiting_grading", True)
    assert "waiting for iTEP's grading" in status["message"] and "score" not in status
    page = itep.reopen()
    assert 'data-state="awaiting_grading"' in page and "Start the test" not in page and "test-id" not in page
    teacher = itep.teacher_result_page()
    assert _state_on_teacher_page(teacher) == "awaiting_grading" and "Graded" not in teacher


def test_itep_complete_is_on_its_way_then_in_the_gradebook(itep, database, settings):
    itep.fire("Complete", overall_level="4.5")
    status = itep.status()
    assert status["state"] == "grade_on_its_way" and status["in_gradebook"] is False
    assert "on its way" in status["message"] and "✓" not in status["message"]
    assert passback_worker(database, settings).run_once()["sent"] == 1
    status = itep.status()
    assert status["state"] == "graded" and status["in_gradebook"] is True
    assert status["message"].endswith("in your course gradebook ✓") and "completed the test on" in status["message"]
    assert status["score"]["text"] == "4.5 of 6 → 45 of 60 points"
    page = itep.reopen()
    assert "4.5 of 6 → 45 of 60 points" in page and "in your course gradebook ✓" in page
    assert "test-id" not in page
    assert _state_on_teacher_page(itep.teacher_result_page()) == "graded"


@pytest.mark.parametrize(("provider_status", "state"), [("Invalidated", "withdrawn"), ("Ready", "reset")])
def test_itep_invalidated_or_reset_is_never_graded(itep, database, settings, provider_status, state):
    itep.fire("Complete")
    passback_worker(database, settings).run_once()
    itep.fire(provider_status)
    status = itep.status()
    assert status["state"] == state and status["provider_said"] == provider_status and "score" not in status
    teacher = itep.teacher_result_page()
    assert _state_on_teacher_page(teacher) == state and provider_status in teacher
    assert "Resend grade" not in teacher and "Graded" not in teacher
    page = itep.reopen()
    if state == "withdrawn":
        assert "iTEP withdrew the result of this test (Invalidated)" in page and "test-id" not in page
    else:  # iTEP put the test back to the start: the learner sees their ticket again
        assert "test-id" in page


@pytest.mark.parametrize("provider_status", ["Review", "Problem"])
def test_itep_review_or_problem_awaits_grading_with_the_providers_word(itep, provider_status):
    itep.fire(provider_status)
    status = itep.status()
    assert status["state"] == "awaiting_grading" and status["provider_said"] == provider_status
    assert _state_on_teacher_page(itep.teacher_result_page()) == "awaiting_grading"


def test_a_grade_the_lms_refused_is_refused_with_its_reason(itep, database):
    itep.fire("Complete")
    with database.session() as session:
        session.execute(sa.update(ScoreSubmission).values(status=SubmissionStatus.PARKED.value,
                                                          last_error="HTTP 422: the user is not in the course"))
    status = itep.status()
    assert status["state"] == "refused" and "has not accepted the grade" in status["message"]
    teacher = itep.teacher_result_page()
    assert _state_on_teacher_page(teacher) == "refused" and "the user is not in the course" in teacher


def test_speechace_completion_is_on_its_way_then_graded(connected, speechace_setup, database, settings):
    browser = FormBrowser()
    page = browser.get(connected.launch_url(custom={"activity": speechace_setup.activity_public_id}))
    status_url = connected.tool_url + _status_url(page.text)
    assert browser.get(status_url).json()["state"] == "in_progress"
    assert take_test(connected, speechace_setup).status == 200
    assert browser.get(status_url).json()["state"] == "grade_on_its_way"
    passback_worker(database, settings).run_once()
    status = browser.get(status_url).json()
    assert status["state"] == "graded" and status["score"]["text"].startswith("6.5 of 9 → ")


def test_an_expired_launch_says_open_the_activity_again(itep, database, app):
    with database.session() as session:
        session.execute(sa.update(LtiLaunch).values(expires_at=utcnow()))
    response = itep.browser.get(itep.status_url)
    assert response.status_code == 410 and "open the activity again from your course" in response.json()["message"]
    unknown = app.test_client().get("/lti/attempt/not-a-real-launch/status")
    assert unknown.status_code == 401 and "open the activity again" in unknown.get_json()["message"]
