"""The passback worker against the emulated Moodle, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from lti_tool.db import Database
from lti_tool.grading import backoff_delay
from lti_tool.grading.results import supersede_pending
from lti_tool.grading.worker import NO_LINEITEM
from lti_tool.models import Attempt
from lti_tool.models import ScoreSubmission
from lti_tool.models import ToolKey
from tests.sql_capture import statements_sent

ISO_MILLISECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


def posts_for(platform, sub):
    return [post for post in platform.score_posts if post.body.get("userId") == sub]


def stamp(post) -> dt.datetime:
    return dt.datetime.fromisoformat(post.body["timestamp"])


def set_column(database, model, row_id, **values):
    with database.session() as session:
        row = session.get_one(model, row_id)
        for name, value in values.items():
            setattr(row, name, value)


# --- happy path --------------------------------------------------------------------------------------------
def test_score_lands_in_the_gradebook(course, worker, clock):
    attempt_id = course.attempt(status_detail="an old failure")
    submission_id = course.submission(attempt_id, 42.5, comment="Fluent, clear vowels")

    assert worker.run_once() == {"claimed": 1, "sent": 1}

    grade = course.grades()[course.learner]
    assert grade["score"] == pytest.approx(42.5)
    assert grade["comment"] == "Fluent, clear vowels"
    [post] = course.platform.score_posts
    assert post.status == 200
    assert post.body["userId"] == course.learner
    assert (post.body["scoreGiven"], post.body["scoreMaximum"]) == (42.5, 100.0)
    assert (post.body["activityProgress"], post.body["gradingProgress"]) == ("Completed", "FullyGraded")
    assert ISO_MILLISECONDS.fullmatch(post.body["timestamp"])
    assert abs(stamp(post) - clock.now) < dt.timedelta(milliseconds=1)
    assert "https://canvas.instructure.com/lti/submission" not in post.body
    row = course.row(submission_id)
    assert (row.status, row.datetime_sent, row.last_error, row.locked_until) == ("sent", clock.now, None, None)
    attempt = course.attempt_row(attempt_id)
    assert (attempt.status, attempt.status_detail) == ("graded", None)
    assert attempt.last_score_timestamp == stamp(post)


def test_a_score_without_a_grade_omits_score_given_and_comment(course, worker):
    course.submit(score_given=None, activity_progress="Submitted", grading_progress="PendingManual")
    assert worker.run_once()["sent"] == 1
    [post] = course.platform.score_posts
    assert "scoreGiven" not in post.body and "comment" not in post.body
    assert course.grades()[course.learner]["gradingProgress"] == "PendingManual"


# --- access tokens -------------------------------------------------------------------------------------------
def test_one_token_for_many_scores_across_rounds_and_workers(course, make_worker, database):
    learners = [f"learner-{number}" for number in range(5)]
    for sub in learners:
        course.add_learner(sub)
        course.submit(sub)
    first = make_worker()
    for _ in range(3):
        assert first.run_once(limit=1)["sent"] == 1
    other_process = Database(database.url)  # its own engine and pool, as another process would have
    try:
        assert make_worker(db=other_process).run_once()["sent"] == 2
    finally:
        other_process.dispose()
    assert len(course.platform.token_requests) == 1
    assert set(course.grades()) == set(learners)


def test_cached_token_is_renewed_inside_its_safety_margin(course, worker, clock):
    course.platform.token_lifetime = 100  # usable for 90 s (10 % margin)
    attempt_id = course.attempt()
    for wait in (0, 85, 10):
        clock.advance(wait)
        course.submission(attempt_id)
        assert worker.run_once()["sent"] == 1
    assert len(course.platform.token_requests) == 2
    assert [post.status for post in course.platform.score_posts] == [200, 200, 200]  # never sent a stale token


def test_a_revoked_token_is_replaced_by_exactly_one_new_token(course, worker):
    attempt_id = course.attempt()
    course.submission(attempt_id)
    assert worker.run_once()["sent"] == 1
    course.platform.expire_access_tokens()
    course.submission(attempt_id, 90.0)
    assert worker.run_once()["sent"] == 1
    assert len(course.platform.token_requests) == 2
    assert course.grades()[course.learner]["score"] == 90.0


def test_a_single_401_costs_one_new_token(course, worker):
    course.platform.fail_next("/scores", 401)
    submission_id = course.submit()
    assert worker.run_once() == {"claimed": 1, "sent": 1}
    assert len(course.platform.token_requests) == 2
    assert course.row(submission_id).status == "sent"


def test_401_with_a_fresh_token_too_is_retried_later(course, worker, clock):
    course.platform.fail_next("/scores", 401, times=2)
    submission_id = course.submit()
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    row = course.row(submission_id)
    assert (row.status, row.tries, row.last_http_status) == ("pending", 1, 401)
    assert len(course.platform.token_requests) == 2
    clock.advance(10)
    assert worker.run_once()["sent"] == 1


# --- 409: timestamps ---------------------------------------------------------------------------------------
def test_conflict_is_restamped_one_second_later(course, worker, clock, database):
    clock.now = clock.now.replace(microsecond=100_000)
    attempt_id = course.attempt()
    course.submission(attempt_id, 70.0)
    assert worker.run_once()["sent"] == 1
    # The tool lost track of what it sent (a restored backup): "now" is in the same second as the LMS's score.
    set_column(database, Attempt, attempt_id, last_score_timestamp=None)
    clock.advance(0.5)
    course.submission(attempt_id, 90.0)

    assert worker.run_once() == {"claimed": 1, "sent": 1}

    posts = posts_for(course.platform, course.learner)
    assert [post.status for post in posts] == [200, 409, 200]
    stamps = [stamp(post) for post in posts]
    assert stamps[0] < stamps[1] < stamps[2]
    assert stamps[2] - stamps[1] == dt.timedelta(seconds=1)
    assert course.grades()[course.learner]["score"] == 90.0
    assert course.attempt_row(attempt_id).last_score_timestamp == stamps[2]


def test_every_score_of_an_attempt_gets_a_later_second(course, worker, database):
    attempt_id = course.attempt()
    for score in (10.0, 20.0, 30.0):  # all within the same (frozen) second
        course.submission(attempt_id, score)
        assert worker.run_once()["sent"] == 1
    posts = posts_for(course.platform, course.learner)
    assert [post.status for post in posts] == [200, 200, 200]
    seconds = [int(stamp(post).timestamp()) for post in posts]
    assert seconds[0] < seconds[1] < seconds[2]
    assert course.grades()[course.learner]["score"] == 30.0


def test_persistent_conflict_backs_off_after_three_restamps(course, worker, clock):
    course.platform.fail_next("/scores", 409, times=4)
    attempt_id = course.attempt()
    submission_id = course.submission(attempt_id)
    first_try = clock.now
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    row = course.row(submission_id)
    assert (row.status, row.tries, row.last_http_status) == ("pending", 1, 409)
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=10)
    remembered = course.attempt_row(attempt_id).last_score_timestamp
    assert remembered is not None and remembered - first_try > dt.timedelta(seconds=2.9)
    clock.advance(10)
    assert worker.run_once()["sent"] == 1


# --- refusals: parked, never retried -----------------------------------------------------------------------
def test_a_non_learner_is_parked_with_the_lms_message(course, worker, clock, connected):
    attempt_id = course.attempt(sub=connected.course.instructor)
    submission_id = course.submission(attempt_id)
    assert worker.run_once() == {"claimed": 1, "parked": 1}
    row = course.row(submission_id)
    assert (row.status, row.last_http_status) == ("parked", 400)
    assert "Incorrect score received" in row.last_error
    attempt = course.attempt_row(attempt_id)
    assert (attempt.status, attempt.status_detail) == ("grade_failed", row.last_error)
    clock.advance(7200)
    assert worker.run_once() == {"claimed": 0}
    assert len(course.platform.score_posts) == 1


@pytest.mark.parametrize("status", [403, 404, 422])
def test_refusals_are_parked_with_the_lms_text(course, worker, clock, status):
    course.platform.fail_next("/scores", status, body=f"Refused ({status}): the line item is locked")
    submission_id = course.submit()
    assert worker.run_once() == {"claimed": 1, "parked": 1}
    row = course.row(submission_id)
    assert (row.status, row.last_http_status) == ("parked", status)
    assert row.last_error == f"Refused ({status}): the line item is locked"
    clock.advance(7200)
    assert worker.run_once() == {"claimed": 0}
    assert [event for event in course.platform.events if event.startswith("injected")] == [
        f"injected {status} on /contexts/{course.connected.course.context_id}/lineitems/{course.lineitem_id}/scores"]


def test_an_attempt_without_a_gradebook_column_is_parked_without_any_request(course, worker):
    attempt_id = course.attempt(lineitem_url=None)
    submission_id = course.submission(attempt_id)
    assert worker.run_once() == {"claimed": 1, "parked": 1}
    assert course.row(submission_id).last_error == NO_LINEITEM
    assert course.attempt_row(attempt_id).status_detail == NO_LINEITEM
    assert course.platform.token_requests == [] and course.platform.score_posts == []


# --- outages: backoff, then sent once ----------------------------------------------------------------------
def test_lms_down_backs_off_then_sends_once(course, worker, clock):
    submission_id = course.submit()
    course.platform.set_down(True)
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    row = course.row(submission_id)
    assert (row.status, row.tries, row.last_http_status, row.locked_until) == ("pending", 1, 503, None)
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=10)  # base 10 s, jitter factor 1.0
    assert worker.run_once() == {"claimed": 0}  # not due yet

    clock.advance(10)
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    row = course.row(submission_id)
    assert (row.tries, row.next_attempt_at) == (2, clock.now + dt.timedelta(seconds=20))

    course.platform.set_down(False)
    clock.advance(20)
    assert worker.run_once() == {"claimed": 1, "sent": 1}
    clock.advance(3600)
    assert worker.run_once() == {"claimed": 0}
    assert len(course.platform.score_posts) == 1
    assert course.row(submission_id).status == "sent"


def test_server_error_keeps_the_lms_text_and_retries(course, worker, clock):
    course.platform.fail_next("/scores", 502, body="Bad gateway: moodle is restarting")
    submission_id = course.submit()
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    row = course.row(submission_id)
    assert row.last_http_status == 502 and "moodle is restarting" in row.last_error
    clock.advance(10)
    assert worker.run_once()["sent"] == 1


def test_a_timeout_is_retried_later(course, make_worker, clock):
    worker = make_worker(timeout=0.3)
    attempt_id = course.attempt()
    course.submission(attempt_id)
    assert worker.run_once()["sent"] == 1  # the token is cached: the slow request is the score itself
    submission_id = course.submission(attempt_id, 95.0)
    course.platform.delay_seconds = 1.0
    try:
        assert worker.run_once() == {"claimed": 1, "retrying": 1}
    finally:
        course.platform.delay_seconds = 0.0
    row = course.row(submission_id)
    assert row.last_http_status is None and "Timeout" in row.last_error
    clock.advance(10)
    assert worker.run_once()["sent"] == 1
    time.sleep(1)  # let the slow request the emulator is still serving finish
    assert course.grades()[course.learner]["score"] == 95.0


def test_an_unexpected_error_keeps_the_row_for_later(course, worker, database, clock):
    submission_id = course.submit()
    with database.session() as session:
        session.execute(sa.delete(ToolKey))  # no key to sign the client assertion with
    assert worker.run_once() == {"claimed": 1, "retrying": 1}
    row = course.row(submission_id)
    assert (row.status, row.tries, row.locked_until) == ("pending", 1, None)
    assert row.last_error.startswith("internal error (NoSigningKeyError)")
    assert course.platform.token_requests == []


def test_backoff_grows_to_an_hour_with_jitter():
    assert backoff_delay(0, lambda: 0.5) == dt.timedelta(seconds=10)
    assert backoff_delay(3, lambda: 0.0) == dt.timedelta(seconds=40)
    assert backoff_delay(3, lambda: 1.0) == dt.timedelta(seconds=120)
    assert backoff_delay(12, lambda: 0.5) == dt.timedelta(hours=1)
    assert backoff_delay(500, lambda: 1.0) == dt.timedelta(hours=1.5)


# --- leases and concurrency ---------------------------------------------------------------------------------
def test_a_claim_abandoned_by_a_killed_worker_is_sent_once_after_the_lease(course, make_worker, clock):
    submission_id = course.submit()
    killed = make_worker()
    claims = killed.claim()
    assert [claim.submission_id for claim in claims] == [submission_id]
    survivor = make_worker()
    assert survivor.run_once() == {"claimed": 0}  # leased
    clock.advance(61)
    assert survivor.run_once() == {"claimed": 1, "sent": 1}
    # Had the first worker only been paused, waking up must not make it send a second time.
    assert killed.process(claims[0]) == "lost"
    assert len(course.platform.score_posts) == 1
    assert course.row(submission_id).status == "sent"


def test_a_paused_worker_does_not_resend_a_row_taken_over_and_pending_again(course, make_worker, clock):
    submission_id = course.submit()
    paused = make_worker()
    [stale] = paused.claim()
    clock.advance(61)
    course.platform.set_down(True)
    survivor = make_worker()
    assert survivor.run_once() == {"claimed": 1, "retrying": 1}
    course.platform.set_down(False)
    assert paused.process(stale) == "lost"  # the row is pending again, but under the survivor's claim
    assert course.platform.score_posts == []
    clock.advance(10)
    assert survivor.run_once() == {"claimed": 1, "sent": 1}
    assert len(course.platform.score_posts) == 1
    assert course.row(submission_id).status == "sent"


def test_a_submission_superseded_after_the_claim_is_not_sent(course, worker, database):
    submission_id = course.submit()
    [claim] = worker.claim()
    set_column(database, ScoreSubmission, submission_id, status="superseded")
    assert worker.process(claim) == "lost"
    assert course.platform.score_posts == []
    assert course.row(submission_id).status == "superseded"


def test_a_newer_score_does_not_supersede_the_one_a_worker_is_sending(course, worker, database, clock):
    """The lease guard: a row under a live claim is on its way to the LMS; marking it superseded would leave
    the worker's answer unrecorded and let the two scores race. Only rows nobody is sending are replaced."""
    attempt_id = course.attempt()
    in_flight = course.submission(attempt_id, 40.0)
    [claim] = worker.claim()
    waiting = course.submission(attempt_id, 50.0)
    with database.session() as session:
        supersede_pending(session, attempt_id, clock.now)
    assert (course.row(in_flight).status, course.row(waiting).status) == ("pending", "superseded")
    assert worker.process(claim) == "sent"
    clock.advance(61)  # once the lease has run out, a row left pending is replaced like any other
    late = course.submission(attempt_id, 60.0)
    set_column(database, ScoreSubmission, late, locked_until=clock.now - dt.timedelta(seconds=1))
    with database.session() as session:
        supersede_pending(session, attempt_id, clock.now)
    assert course.row(late).status == "superseded"


def test_a_batch_read_before_its_lease_ran_out_is_read_again_before_sending(course, make_worker, clock):
    submission_id = course.submit()
    paused = make_worker()
    claims = paused.claim()
    jobs = paused.outbox.load(claims)
    assert set(jobs) == {submission_id}
    clock.advance(61)
    assert make_worker().run_once() == {"claimed": 1, "sent": 1}
    assert paused.process(claims[0], jobs[submission_id]) == "lost"  # the lease it read under is gone
    assert len(course.platform.score_posts) == 1


def test_a_round_reads_its_batch_once_and_writes_once_per_score(course, worker, database):
    """Per round: a read of the platforms' breakers, the claim and one read of the whole batch; per score: one
    transaction recording it (the token is remembered in memory after the first score); sends run side by side,
    so their statements interleave."""
    course.submit()
    assert worker.run_once()["sent"] == 1  # gets the token
    for sub in ("learner-a", "learner-b", "learner-c"):
        course.add_learner(sub)
        course.submit(sub)
    with statements_sent(database.engine) as sent:
        assert worker.run_once() == {"claimed": 3, "sent": 3}
    statements = [" ".join(statement.split()[:2]).rstrip(",") for statement in sent]
    claim = ["SELECT score_submission.id", "UPDATE score_submission"] if database.is_postgresql else \
        ["UPDATE score_submission"]
    head = ["SELECT platform_breaker.registration_id", *claim, "SELECT score_submission.id"]
    assert statements[:len(head)] == head
    assert sorted(statements[len(head):]) == ["UPDATE attempt"] * 3 + ["UPDATE score_submission"] * 3
    assert len(course.platform.token_requests) == 1


def test_two_scores_of_one_attempt_in_one_round_get_increasing_seconds(course, worker, database):
    attempt_id = course.attempt()
    course.submission(attempt_id, 60.0)
    course.submission(attempt_id, 75.0)  # e.g. the older one failed earlier and both are due now
    assert worker.run_once() == {"claimed": 2, "sent": 2}
    posts = posts_for(course.platform, course.learner)
    assert [post.status for post in posts] == [200, 200]  # the second was read again after the first was sent
    assert int(stamp(posts[1]).timestamp()) > int(stamp(posts[0]).timestamp())
    assert course.grades()[course.learner]["score"] == 75.0


# --- order: the newest score of an attempt is the one that stays ---------------------------------------------
def test_a_newer_score_waits_while_an_older_one_of_the_attempt_is_in_flight(course, make_worker):
    attempt_id = course.attempt()
    course.submission(attempt_id, 60.0)
    first, second = make_worker(), make_worker()
    [in_flight] = first.claim(limit=1)
    course.submission(attempt_id, 75.0)  # enqueued meanwhile; the enqueue leaves a leased row alone
    assert second.run_once() == {"claimed": 0}
    assert first.process(in_flight) == "sent"
    assert second.run_once() == {"claimed": 1, "sent": 1}
    assert [post.body["scoreGiven"] for post in course.platform.score_posts] == [60.0, 75.0]
    assert course.grades()[course.learner]["score"] == 75.0


def test_an_older_score_is_not_sent_once_a_newer_one_went_out(course, worker, database):
    attempt_id = course.attempt()
    older = course.submission(attempt_id, 60.0)
    [claim] = worker.claim(limit=1)
    newer = course.submission(attempt_id, 75.0)
    set_column(database, ScoreSubmission, newer, status="sent")  # another worker won the race
    assert worker.process(claim) == "superseded"
    assert course.platform.score_posts == []
    assert course.row(older).status == "superseded"


def test_a_conflict_on_an_older_score_is_not_restamped_over_a_newer_one(course, make_worker, clock):
    attempt_id = course.attempt()
    older = course.submission(attempt_id, 60.0)
    worker = make_worker()
    [claim] = worker.claim(limit=1)
    course.submission(attempt_id, 75.0)
    course.platform.fail_next("/scores", 409)
    assert worker.process(claim) == "superseded"
    assert course.row(older).status == "superseded"
    assert make_worker().run_once() == {"claimed": 1, "sent": 1}
    assert course.grades()[course.learner]["score"] == 75.0


def test_workers_side_by_side_send_every_score_exactly_once(course, make_worker):
    learners = [f"learner-{number:02d}" for number in range(24)]
    for number, sub in enumerate(learners):
        course.add_learner(sub)
        course.submit(sub, score_given=float(number))
    workers = [make_worker() for _ in range(4)]
    start = threading.Barrier(len(workers))
    outcomes: list[Counter[str]] = [Counter() for _ in workers]
    errors: list[BaseException] = []

    def drain(index: int) -> None:
        start.wait()
        try:
            while (counts := workers[index].run_once(limit=3)).get("claimed"):
                outcomes[index].update(counts)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(index,)) for index in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    posted = Counter(post.body["userId"] for post in course.platform.score_posts)
    assert posted == dict.fromkeys(learners, 1)
    assert {post.status for post in course.platform.score_posts} == {200}
    total = sum(outcomes, Counter())
    assert total == {"claimed": len(learners), "sent": len(learners)}  # no row was ever claimed twice
    assert sum(1 for counts in outcomes if counts["sent"]) >= 2, "the workers did not actually run side by side"
    grades = course.grades()
    assert [grades[sub]["score"] for sub in learners] == pytest.approx([float(n) for n in range(len(learners))])


def test_wake_starts_a_round_at_once(course, worker, clock):
    submission_id = course.submit(next_attempt_at=clock.now + dt.timedelta(seconds=5))
    stop = threading.Event()
    loop = worker.start_thread(stop, poll_seconds=60)
    try:
        time.sleep(0.3)  # the first round finds nothing due and starts a 60 s wait
        clock.advance(5)
        worker.wake()
        deadline = time.monotonic() + 10
        while course.row(submission_id).status != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert course.row(submission_id).status == "sent"
    finally:
        stop.set()
        worker.wake()
        loop.join(timeout=5)
    assert not loop.is_alive()
