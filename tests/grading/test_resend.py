"""Exactly once after a crash: a resend carries the timestamp of the first attempt, and a platform that already
holds it (Moodle 409) counts as delivered instead of getting the score a second time; Canvas takes the same
timestamp again, so it gets the same grade twice."""

from __future__ import annotations

import pytest

from lti_tool.models import LtiRegistration
from tests.grading.test_worker import posts_for
from tests.grading.test_worker import stamp


class Killed(BaseException):
    """What SIGKILL does to a worker between the LMS's 200 and the commit of "sent"."""


def send_then_die(worker, monkeypatch):
    def die(*args, **kwargs):
        raise Killed
    monkeypatch.setattr(worker.outbox, "mark_sent", die)
    with pytest.raises(Killed):
        worker.run_once()


def test_the_claim_fixes_the_score_timestamp_in_its_own_write(course, worker, clock):
    submission_id = course.submit()
    [claim] = worker.claim()
    assert course.row(submission_id).score_timestamp == claim.stamped
    clock.advance(61)
    [again] = worker.claim()  # the lease ran out: claimed again, the timestamp stays
    assert course.row(submission_id).score_timestamp == claim.stamped != again.stamped


@pytest.mark.parametrize("flavor", ["moodle", "canvas"])
def test_a_score_sent_by_a_killed_worker_is_not_sent_again(course, make_worker, clock, monkeypatch, database,
                                                           flavor):
    if flavor == "canvas":
        course.platform.flavor = "canvas"
        with database.session() as session:
            session.get_one(LtiRegistration, course.registration_id).product_family_code = "canvas"
    submission_id = course.submit()
    send_then_die(make_worker(), monkeypatch)
    clock.advance(61)  # the lease is over
    survivor = make_worker()
    assert survivor.run_once() == {"claimed": 1, "sent": 1}
    posts = posts_for(course.platform, course.learner)
    # Moodle refuses the repeat (409); Canvas takes a timestamp equal to the stored one: the same grade again.
    repeat = 409 if flavor == "moodle" else 200
    assert [post.status for post in posts] == [200, repeat]
    assert stamp(posts[0]) == stamp(posts[1])
    assert course.row(submission_id).status == "sent"
    assert course.attempt_row(course.row(submission_id).attempt_id).last_score_timestamp == stamp(posts[0])


def test_a_resend_the_platform_never_got_is_stored_under_the_first_timestamp(course, make_worker, clock):
    submission_id = course.submit()
    first = make_worker().claim()[0]
    clock.advance(61)
    assert make_worker().run_once() == {"claimed": 1, "sent": 1}
    [post] = posts_for(course.platform, course.learner)
    assert stamp(post) == first.stamped and post.status == 200
    assert course.row(submission_id).status == "sent"
