"""The per-platform circuit breaker: a down LMS gets a probe now and then, not one request per queued score."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from lti_tool.grading.breaker import Breakers
from lti_tool.grading.breaker import parse_retry_after
from lti_tool.models import Attempt
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.models import PlatformBreaker
from lti_tool.models import ScoreSubmission


@pytest.fixture
def serial_worker(make_worker, database, clock):
    """One send at a time, a breaker that opens after 3 failures: the counts below are exact."""
    def make():
        worker = make_worker(breakers=Breakers(database, clock, threshold=3))
        worker.concurrency = 1
        return worker
    return make


def learners(course, count):
    ids = []
    for index in range(count):
        sub = f"learner-{index}"
        course.add_learner(sub)
        ids.append(course.submit(sub))
    return ids


def breaker_row(database, registration_id):
    with database.session() as session:
        return session.get(PlatformBreaker, registration_id)


def test_the_breaker_opens_after_repeated_failures_and_the_rest_is_not_sent(course, serial_worker, database):
    learners(course, 8)
    course.platform.set_down(True)
    worker = serial_worker()
    assert worker.run_once() == {"claimed": 8, "retrying": 3, "released": 5}
    assert course.platform.requests_while_down == 3  # three token requests, then nothing
    row = breaker_row(database, course.registration_id)
    assert row.opened_at is not None and row.last_http_status == 503
    with database.session() as session:
        rows = session.execute(sa.select(ScoreSubmission.status, ScoreSubmission.locked_until)).all()
    assert {(status, locked) for status, locked in rows} == {("pending", None)}  # released, not leased


def test_an_open_platform_is_probed_at_most_once_a_second_and_after_its_retry_after(
        course, serial_worker, clock):
    learners(course, 6)
    course.platform.set_down(True)
    course.platform.down_retry_after = 5
    worker, other = serial_worker(), serial_worker()
    worker.run_once()
    sent = course.platform.requests_while_down
    for _ in range(4):  # 4 s: Retry-After (5 s) not yet over, whichever worker asks
        clock.advance(1)
        assert worker.run_once().get("probes", 0) == 0 and other.run_once().get("probes", 0) == 0
    assert course.platform.requests_while_down == sent
    clock.advance(1.1)
    assert worker.run_once()["probes"] == 1
    assert other.run_once().get("probes", 0) == 0  # the probe was taken: one per interval for all workers
    assert course.platform.requests_while_down == sent + 1
    course.platform.down_retry_after = None  # now the breaker's own interval (2 s) paces the probes
    clock.advance(5.1)
    assert worker.run_once()["probes"] == 1
    clock.advance(1)
    assert worker.run_once().get("probes", 0) == 0
    clock.advance(1.1)
    assert worker.run_once()["probes"] == 1
    assert course.platform.requests_while_down == sent + 3


def test_a_successful_probe_closes_the_breaker_and_makes_every_score_due_at_once(
        course, serial_worker, clock, database):
    ids = learners(course, 6)
    course.platform.set_down(True)
    course.platform.down_retry_after = None
    worker = serial_worker()
    worker.run_once()
    clock.advance(2.1)
    worker.run_once()  # a probe, refused
    course.platform.set_down(False)
    clock.advance(2.1)
    assert worker.run_once() == {"claimed": 1, "probes": 1, "sent": 1}
    assert breaker_row(database, course.registration_id).opened_at is None
    # The rows that failed earlier were backing off (10 s and more): they are due now, not in minutes.
    assert worker.run_once() == {"claimed": 5, "sent": 5}
    assert {course.row(submission_id).status for submission_id in ids} == {"sent"}
    assert set(course.grades()) == {f"learner-{index}" for index in range(6)}


def test_one_platforms_outage_does_not_delay_another(course, serial_worker, database, clock):
    with database.session() as session:
        ours = session.get_one(LtiRegistration, course.registration_id)
        down = LtiRegistration(name="Another school", issuer="https://down.example", client_id="elsewhere",
                               auth_login_url=ours.auth_login_url, auth_token_url="http://127.0.0.1:9/token",
                               key_set_url=ours.key_set_url)
        session.add(down)
        session.flush()
        user = LtiUser(registration_id=down.id, sub="far-away")
        session.add(user)
        session.flush()
        attempt = Attempt(activity_id=course.activity_id, registration_id=down.id, context_id=course.context_id,
                          resource_link_id=course.resource_link_id, user_id=user.id,
                          lineitem_url="http://127.0.0.1:9/lineitems/1", status="submitted")
        session.add(attempt)
        session.flush()
        down_id, down_attempt = down.id, attempt.id
    breakers = Breakers(database, clock, threshold=3)
    for _ in range(3):
        breakers.record_failure(down_id, "ConnectionError", None, None)
    stuck = course.submission(down_attempt)
    ids = learners(course, 3)
    assert serial_worker().run_once() == {"claimed": 3, "sent": 3}  # the open platform's row is not claimed
    assert {course.row(submission_id).status for submission_id in ids} == {"sent"}
    assert course.row(stuck).locked_until is None and course.row(stuck).tries == 0


def test_a_platform_that_answers_between_failures_never_opens(course, serial_worker, database, clock):
    learners(course, 2)
    worker = serial_worker()
    breakers = worker.breakers
    breakers.record_failure(course.registration_id, "HTTP 502", 502, None)
    breakers.record_failure(course.registration_id, "HTTP 502", 502, None)
    assert worker.run_once()["sent"] == 2
    row = breaker_row(database, course.registration_id)
    assert (row.failures, row.opened_at) == (0, None)  # the success forgot the failures
    breakers.record_failure(course.registration_id, "HTTP 502", 502, None)
    clock.advance(61)  # failures older than the window do not add up
    assert not breakers.record_failure(course.registration_id, "HTTP 502", 502, None)
    assert not breakers.record_failure(course.registration_id, "HTTP 502", 502, None)
    assert breakers.record_failure(course.registration_id, "HTTP 502", 502, None)


def test_retry_after_is_read_as_seconds_or_a_date_and_bounded():
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7", now) == dt.timedelta(seconds=7)
    assert parse_retry_after("Wed, 02 Dec 2026 12:00:30 GMT", now) == dt.timedelta(seconds=30)
    assert parse_retry_after("Wed, 02 Dec 2026 11:00:00 GMT", now) == dt.timedelta(0)
    assert parse_retry_after("999999", now) == dt.timedelta(hours=1)
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_two_workers_asking_for_the_same_probe_get_it_once(course, database, clock):
    first, second = Breakers(database, clock, threshold=1), Breakers(database, clock, threshold=1)
    assert first.record_failure(course.registration_id, "HTTP 503", 503, None)
    clock.advance(2.1)
    # Both read the breaker as due (their round's snapshot); only one wins the probe.
    assert [first.take_probe(course.registration_id), second.take_probe(course.registration_id)] == [True, False]
    clock.advance(1)
    assert not second.take_probe(course.registration_id)
    clock.advance(1.1)
    assert second.take_probe(course.registration_id)


def test_scores_to_one_platform_go_out_side_by_side_but_never_more_than_the_limit(course, make_worker, monkeypatch):
    learners(course, 12)
    in_flight, most = [0], [0]
    lock = threading.Lock()
    post_score = course.platform.ags.post_score

    def slow_post_score(*args, **kwargs):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(0.05)
            return post_score(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(course.platform.ags, "post_score", slow_post_score)
    worker = make_worker()
    worker.concurrency = 3
    assert worker.run_once() == {"claimed": 12, "sent": 12}
    assert most[0] == 3


def test_a_probe_that_never_reached_the_platform_does_not_close_its_breaker(course, serial_worker, database, clock):
    worker = serial_worker()
    for _ in range(3):
        worker.breakers.record_failure(course.registration_id, "HTTP 503", 503, None)
    course.submission(course.attempt(lineitem_url=None))  # parked without a request: no gradebook column
    clock.advance(2.1)
    assert worker.run_once() == {"claimed": 1, "probes": 1, "parked": 1}
    assert breaker_row(database, course.registration_id).opened_at is not None
