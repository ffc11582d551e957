"""Passback to the emulated Canvas: the submission extension, and 422 for people who are not students."""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.models import LtiRegistration
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import create_platform_app

CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"


@pytest.fixture
def platform(platform_server) -> PlatformEmulator:
    """Overrides the Moodle emulator of tests/conftest.py for this module."""
    emulator = PlatformEmulator(issuer=platform_server.url, base_url=platform_server.url, flavor="canvas")
    platform_server.start(create_platform_app(emulator))
    return emulator


@pytest.fixture
def canvas_course(course, database):
    with database.session() as session:
        session.get_one(LtiRegistration, course.registration_id).product_family_code = "canvas"
    return course


def test_canvas_scores_carry_the_submission_extension(canvas_course, worker, settings):
    submission_id = canvas_course.submit(score_given=64.0)
    assert worker.run_once() == {"claimed": 1, "sent": 1}
    [post] = canvas_course.platform.score_posts
    extension = post.body[CANVAS_SUBMISSION]
    assert extension == {"new_submission": True, "submission_type": "basic_lti_launch",
                         "submission_data": settings.url("/lti/launch"), "submitted_at": post.body["timestamp"]}
    grade = canvas_course.grades()[canvas_course.learner]
    assert grade["score"] == pytest.approx(64.0)
    assert grade["submission"] == extension  # Canvas kept it: SpeedGrader shows a submission
    assert canvas_course.row(submission_id).status == "sent"


def test_canvas_refuses_a_teacher_with_422_and_the_score_is_parked(canvas_course, worker, connected, clock):
    attempt_id = canvas_course.attempt(sub=connected.course.instructor)
    submission_id = canvas_course.submission(attempt_id)
    assert worker.run_once() == {"claimed": 1, "parked": 1}
    row = canvas_course.row(submission_id)
    assert (row.status, row.last_http_status) == ("parked", 422)
    assert "not a learner" in row.last_error
    assert canvas_course.attempt_row(attempt_id).status_detail == row.last_error
    clock.advance(dt.timedelta(hours=2).total_seconds())
    assert worker.run_once() == {"claimed": 0}
    assert len(canvas_course.platform.score_posts) == 1
