"""Passback to Canvas as Canvas's code behaves: the submission extension per case, and Canvas's answers.

The score bodies are checked on their own first (no LMS), then the worker runs against the emulator's Canvas mode,
which enforces attempt limits, stale timestamps (400), throttling (403) and its 422 refusals.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lti_tool.db import utcnow
from lti_tool.grading.ags import AgsError
from lti_tool.grading.ags import AgsRejectedError
from lti_tool.grading.ags import AgsThrottledError
from lti_tool.grading.ags import ScoreConflictError
from lti_tool.grading.ags import error_for
from lti_tool.grading.breaker import Breakers
from lti_tool.grading.policy import requeue_grade
from lti_tool.grading.scores import ScoreJob
from lti_tool.grading.scores import build_score
from lti_tool.models import Attempt
from lti_tool.models import LtiRegistration
from lti_tool.models import Result
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import create_platform_app
from tests.grading.test_resend import send_then_die

CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"
LAUNCH = "https://tool.example/lti/launch"
FINISHED = dt.datetime(2026, 11, 30, 9, 15, 42, 123456, tzinfo=dt.UTC)
SENT_AT = dt.datetime(2026, 12, 3, 8, 0, 0, 456789, tzinfo=dt.UTC)


# --- the score body, case by case ------------------------------------------------------------------------------
def job(family: str = "canvas", **values) -> ScoreJob:
    fields = {"submission_id": 1, "attempt_id": 1, "tries": 0, "lineitem_url": "https://lms/li/1", "user_sub": "u1",
              "registration": LtiRegistration(product_family_code=family), "score_given": 64.0,
              "score_maximum": 100.0, "activity_progress": "Completed", "grading_progress": "FullyGraded",
              "comment": "Speechace overall 64 / 100", "last_score_timestamp": None, "finished_at": FINISHED}
    return ScoreJob(**{**fields, **values})


def test_an_attempts_first_grade_is_a_new_submission_dated_when_the_learner_finished():
    body = build_score(job(), SENT_AT, LAUNCH)
    assert body["timestamp"] == "2026-12-03T08:00:00.456+00:00"  # milliseconds, as Canvas asks
    assert body[CANVAS_SUBMISSION] == {"new_submission": True, "submission_type": "basic_lti_launch",
                                       "submission_data": LAUNCH, "submitted_at": "2026-11-30T09:15:42.123+00:00"}
    assert body["submission"] == {"submittedAt": "2026-11-30T09:15:42.123+00:00"}
    assert body["comment"] == "Speechace overall 64 / 100"


def test_an_automatic_resend_asks_for_no_new_attempt_and_leaves_a_teachers_grade_alone():
    body = build_score(job(graded_before=True, comment="Speechace overall 70 / 100"), SENT_AT, LAUNCH)
    extension = body[CANVAS_SUBMISSION]
    assert (extension["new_submission"], extension["prioritize_non_tool_grade"]) == (False, True)
    assert extension["submitted_at"] == "2026-11-30T09:15:42.123+00:00"  # the same finish, whenever sent
    assert body["comment"] == "Speechace overall 70 / 100"  # a new result: its own comment


def test_a_teachers_send_again_of_the_same_result_carries_no_comment_and_overrides():
    body = build_score(job(graded_before=True, result_sent_before=True), SENT_AT + dt.timedelta(days=3), LAUNCH)
    assert "comment" not in body
    assert body[CANVAS_SUBMISSION]["new_submission"] is False
    assert "prioritize_non_tool_grade" not in body[CANVAS_SUBMISSION]
    assert body["submission"] == {"submittedAt": "2026-11-30T09:15:42.123+00:00"}


@pytest.mark.parametrize(("progress", "graded_before"), [(("Submitted", "Pending"), False),
                                                           (("Initialized", "NotReady"), True)])
def test_waiting_and_withdrawn_scores_never_start_an_attempt(progress, graded_before):
    activity, grading = progress
    body = build_score(job(score_given=None, activity_progress=activity, grading_progress=grading,
                           graded_before=graded_before), SENT_AT, LAUNCH)
    assert body[CANVAS_SUBMISSION]["new_submission"] is False
    assert "scoreGiven" not in body
    assert body[CANVAS_SUBMISSION].get("prioritize_non_tool_grade", False) is graded_before


def test_without_a_recorded_finish_no_submission_time_is_invented():
    body = build_score(job(finished_at=None), SENT_AT, LAUNCH)
    assert "submitted_at" not in body[CANVAS_SUBMISSION] and "submission" not in body


def test_other_platforms_get_no_extension_and_keep_their_comment_on_a_resend():
    body = build_score(job("moodle", graded_before=True, result_sent_before=True), SENT_AT, LAUNCH)
    assert CANVAS_SUBMISSION not in body and "submission" not in body
    assert body["comment"] == "Speechace overall 64 / 100"  # Moodle replaces its feedback with what it gets


# --- Canvas's answers, classified -----------------------------------------------------------------------------
class Answer:
    def __init__(self, status: int, body: str, content_type: str = "application/json") -> None:
        self.status_code, self.text, self.url = status, body, "https://canvas/scores"
        self.headers = {"Content-Type": content_type, "Retry-After": "30"}

    def json(self):
        import json
        return json.loads(self.text)


def classified(status: int, body: str, content_type: str = "application/json") -> AgsError:
    return error_for(Answer(status, body, content_type))  # type: ignore[arg-type]


def test_canvas_answers_are_classified():
    stale = classified(400, '{"errors": {"type": "bad_request", "message": "Provided timestamp of x before last '
                            'updated timestamp of y"}}')
    assert isinstance(stale, ScoreConflictError)
    throttled = classified(403, "403 Forbidden (Rate Limit Exceeded)\n", "text/plain")
    assert isinstance(throttled, AgsThrottledError) and throttled.retry_after == "30"
    forbidden = classified(403, "403 Forbidden (User-Agent header is required)\n", "text/plain")
    assert type(forbidden) is AgsRejectedError
    student = classified(422, '{"errors": {"message": "User not found in course or is not a student"}}')
    assert type(student) is AgsRejectedError
    assert student.detail.startswith("Canvas accepts grades only for students of the course")
    assert student.detail.endswith("(Canvas said: User not found in course or is not a student)")
    other = classified(422, '{"errors": {"message": "ScoreMaximum not supplied"}}')
    assert other.detail == "ScoreMaximum not supplied"


# --- the worker against the emulated Canvas ----------------------------------------------------------------------
@pytest.fixture
def platform(platform_server) -> PlatformEmulator:
    """Overrides the Moodle emulator of tests/conftest.py for this module: hosted Canvas's shared issuer."""
    emulator = PlatformEmulator(issuer="https://canvas.instructure.com", base_url=platform_server.url,
                                flavor="canvas")
    platform_server.start(create_platform_app(emulator))
    return emulator


@pytest.fixture
def canvas_course(course, database):
    with database.session() as session:
        session.get_one(LtiRegistration, course.registration_id).product_family_code = "canvas"
    return course


def new_result(database, attempt_id: int, external_id: str) -> int:
    with database.session() as session:
        result = Result(attempt_id=attempt_id, external_id=external_id, scores={"overall": 1}, scale_maximum=1)
        session.add(result)
        session.flush()
        return result.id


def extension(post) -> dict:
    return post.body[CANVAS_SUBMISSION]


def test_one_attempt_in_canvas_however_often_the_grade_changes(canvas_course, worker, database, clock):
    canvas_course.platform.limit_attempts(canvas_course.lineitem_id, 1)
    finished = utcnow().replace(microsecond=250000) - dt.timedelta(days=2)
    attempt_id = canvas_course.attempt(datetime_finished=finished)
    first = new_result(database, attempt_id, "r1")
    canvas_course.submission(attempt_id, score_given=60.0, result_id=first, comment="first result")
    assert worker.run_once() == {"claimed": 1, "sent": 1}
    canvas_course.platform.grade_by_teacher(canvas_course.lineitem_id, canvas_course.learner, 75.0)
    retake = new_result(database, attempt_id, "r2")
    canvas_course.submission(attempt_id, score_given=80.0, result_id=retake, comment="retake")
    assert worker.run_once() == {"claimed": 1, "sent": 1}  # no second attempt asked for: no 422
    grade = canvas_course.grades()[canvas_course.learner]
    assert (grade["attempts"], grade["score"]) == (1, 75.0)  # the teacher's grade stands
    assert grade["submitted_at"] == finished.isoformat(timespec="milliseconds")
    with database.session() as session:  # the teacher asks the tool to send its grade again
        assert requeue_grade(session, session.get_one(Attempt, attempt_id))
    clock.advance(5)  # the requeued row is due by the wall clock
    assert worker.run_once() == {"claimed": 1, "sent": 1}
    grade = canvas_course.grades()[canvas_course.learner]
    assert (grade["score"], grade["comments"]) == (80.0, ["first result", "retake"])  # no comment twice
    posts = canvas_course.platform.score_posts
    assert [extension(post)["new_submission"] for post in posts] == [True, False, False]
    assert [extension(post).get("prioritize_non_tool_grade") for post in posts] == [None, True, None]
    assert {extension(post)["submitted_at"] for post in posts} == {grade["submitted_at"]}


def test_the_submission_time_is_the_learners_even_when_the_grade_comes_days_later(canvas_course, worker, clock):
    finished = clock.now - dt.timedelta(days=3)
    attempt_id = canvas_course.attempt(datetime_finished=finished)
    canvas_course.submission(attempt_id)
    canvas_course.platform.fail_next("/scores", 503)
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    clock.advance(3600)
    assert worker.run_once() == {"claimed": 1, "sent": 1}
    [sent] = canvas_course.platform.score_posts
    assert sent.body["submission"] == {"submittedAt": finished.isoformat(timespec="milliseconds")}
    assert canvas_course.grades()[canvas_course.learner]["submitted_at"] == finished.isoformat(
        timespec="milliseconds")


def test_a_stale_timestamp_400_is_restamped_like_moodles_409(canvas_course, worker, clock):
    canvas_course.submit()
    assert worker.run_once()["sent"] == 1
    held = canvas_course.platform.grades[canvas_course.lineitem_id][canvas_course.learner]
    held.parsed_timestamp += dt.timedelta(seconds=1, milliseconds=500)  # Canvas holds a newer timestamp
    submission_id = canvas_course.submission(canvas_course.row(1).attempt_id, score_given=90.0)
    assert worker.run_once() == {"claimed": 1, "sent": 1}
    assert [post.status for post in canvas_course.platform.score_posts] == [200, 400, 200]
    assert canvas_course.row(submission_id).status == "sent"
    held = canvas_course.platform.grades[canvas_course.lineitem_id][canvas_course.learner]
    held.parsed_timestamp += dt.timedelta(hours=1)
    stuck = canvas_course.submission(canvas_course.row(1).attempt_id, score_given=95.0)
    assert worker.run_once() == {"claimed": 1, "retrying": 1}  # never parked: a later round stamps afresh
    row = canvas_course.row(stuck)
    assert (row.status, row.last_http_status) == ("pending", 400)
    assert "HTTP 400" in row.last_error


def test_throttling_is_retried_with_backoff_and_counts_for_the_breaker(canvas_course, worker, clock, database):
    submission_id = canvas_course.submit()
    canvas_course.platform.throttle_next()
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    row = canvas_course.row(submission_id)
    assert (row.status, row.tries, row.last_http_status) == ("pending", 1, 403)
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=10)
    assert Breakers(database, clock).snapshot()[canvas_course.registration_id].failures == 1
    clock.advance(10)
    assert worker.run_once() == {"claimed": 1, "sent": 1}


def test_a_throttled_token_request_is_retried_and_counts_for_the_breaker(canvas_course, worker, clock, database):
    submission_id = canvas_course.submit()
    canvas_course.platform.throttle_next(path_substring="/token")
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    assert canvas_course.row(submission_id).last_http_status == 403
    assert Breakers(database, clock).snapshot()[canvas_course.registration_id].failures == 1
    clock.advance(10)
    assert worker.run_once() == {"claimed": 1, "sent": 1}


def test_canvas_refuses_a_teacher_with_422_and_the_score_is_parked(canvas_course, worker, connected, clock):
    attempt_id = canvas_course.attempt(sub=connected.course.instructor)
    submission_id = canvas_course.submission(attempt_id)
    assert worker.run_once() == {"claimed": 1, "parked": 1}
    row = canvas_course.row(submission_id)
    assert (row.status, row.last_http_status) == ("parked", 422)
    assert row.last_error.startswith("Canvas accepts grades only for students of the course")
    assert canvas_course.attempt_row(attempt_id).status_detail == row.last_error
    clock.advance(dt.timedelta(hours=2).total_seconds())
    assert worker.run_once() == {"claimed": 0}
    assert len(canvas_course.platform.score_posts) == 1


def test_a_concluded_course_parks_the_score_with_what_to_do(canvas_course, worker, clock):
    canvas_course.platform.conclude_course(canvas_course.connected.course.context_id)
    submission_id = canvas_course.submit()
    assert worker.run_once() == {"claimed": 1, "parked": 1}
    assert "Reopen the course" in canvas_course.row(submission_id).last_error
    clock.advance(7200)
    assert worker.run_once() == {"claimed": 0}


def test_a_resend_after_a_crash_grades_the_attempt_canvas_already_has(canvas_course, make_worker, clock,
                                                                       monkeypatch):
    canvas_course.platform.limit_attempts(canvas_course.lineitem_id, 1)
    submission_id = canvas_course.submit()
    send_then_die(make_worker(), monkeypatch)  # Canvas took the grade and made the attempt
    clock.advance(61)
    assert make_worker().run_once() == {"claimed": 1, "sent": 1}
    posts = canvas_course.platform.score_posts
    assert [(post.status, extension(post)["new_submission"]) for post in posts] == [
        (200, True), (422, True), (200, False)]
    assert canvas_course.grades()[canvas_course.learner]["attempts"] == 1
    assert canvas_course.row(submission_id).status == "sent"

