"""The passback queue page: what it lists, its status filter, and "retry now" (rows are never deleted)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.admin.queue import retry_now
from lti_tool.admin.service import INSTALLATION
from lti_tool.admin.service import NotFound
from lti_tool.db import utcnow
from lti_tool.models import Attempt
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.models import ScoreSubmission
from lti_tool.sandbox.browser import FormBrowser
from tests.admin.conftest import submit
from tests.admin.conftest import text
from tests.conftest import add_bare_activity

LMS_ERROR = "The LMS refused the score: user is not enrolled"


class Queue:
    """A learner's attempt at an activity, and helpers to put score submissions in the outbox."""

    def __init__(self, database, attempt_id: int) -> None:
        self.database = database
        self.attempt_id = attempt_id

    def add(self, **values: Any) -> int:
        defaults = {"score_given": 7.5, "score_maximum": 9.0, "activity_progress": "Completed",
                    "grading_progress": "FullyGraded", "next_attempt_at": utcnow() + dt.timedelta(hours=1)}
        with self.database.session() as session:
            row = ScoreSubmission(attempt_id=self.attempt_id, **{**defaults, **values})
            session.add(row)
            session.flush()
            return row.id

    def row(self, submission_id: int) -> ScoreSubmission:
        with self.database.session() as session:
            return session.get_one(ScoreSubmission, submission_id)

    def count(self) -> int:
        with self.database.session() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(ScoreSubmission))


@pytest.fixture
def queue(connected, database) -> Queue:
    assert FormBrowser().get(connected.launch_url()).status_code == 200
    with database.session() as session:
        link = session.scalars(sa.select(LtiResourceLink)).one()
        learner = session.scalars(sa.select(LtiUser).where(LtiUser.sub == connected.course.learner)).one()
        activity = add_bare_activity(session, "Unit 3 speaking test")
        attempt = Attempt(activity_id=activity.id, registration_id=connected.registration.id,
                          context_id=link.context_id, resource_link_id=link.id, user_id=learner.id,
                          status="grade_failed")
        session.add(attempt)
        session.flush()
        return Queue(database, attempt.id)


def test_queue_lists_submissions_with_learner_activity_and_error(admin_client, queue):
    parked = queue.add(status="parked", tries=3, last_error=LMS_ERROR, last_http_status=422)
    page = text(admin_client.get("/admin/queue"))
    assert f'data-submission="{parked}" data-status="parked"' in page
    for shown in ("Alan Turing", "Unit 3 speaking test", "Introduction to Phonetics", "HTTP 422", LMS_ERROR):
        assert shown in page
    assert 'data-count="queue-parked"><a href="/admin/queue?status=parked">1<' in text(admin_client.get("/admin"))


def test_status_filter(admin_client, queue):
    parked, sent = queue.add(status="parked"), queue.add(status="sent")
    page = text(admin_client.get("/admin/queue", query_string={"status": "parked"}))
    assert f'data-submission="{parked}"' in page and f'data-submission="{sent}"' not in page
    response = admin_client.get("/admin/queue", query_string={"status": "deleted"})
    assert response.status_code == 400 and "Unknown status" in text(response)


def test_retry_now_resets_a_parked_submission(admin_client, queue):
    parked = queue.add(status="parked", tries=3, last_error=LMS_ERROR, claim_token="old-claim",
                       next_attempt_at=utcnow() + dt.timedelta(days=1))
    page = text(admin_client.get("/admin/queue"))
    response = submit(admin_client, page, f"/admin/queue/{parked}/retry")
    assert response.status_code == 303
    assert "next round" in text(admin_client.get(response.headers["Location"]))
    row = queue.row(parked)
    assert row.status == "pending" and row.claim_token is None and row.locked_until is None
    assert row.next_attempt_at <= utcnow()
    assert row.tries == 3 and row.last_error == LMS_ERROR  # history kept until the next outcome
    assert queue.count() == 1


@pytest.mark.parametrize("state", ["sent", "superseded", "leased", "newer score"])
def test_retry_now_refuses_rows_it_would_harm(admin_client, queue, state):
    values: dict[str, Any] = {"status": "sent" if state == "sent" else "superseded"}
    if state == "leased":  # a worker is sending it right now
        values = {"status": "pending", "claim_token": "worker", "locked_until": utcnow() + dt.timedelta(minutes=1)}
    if state == "newer score":
        values = {"status": "parked"}
    target = queue.add(**values)
    if state == "newer score":
        queue.add(status="sent")
    before = queue.row(target)
    page = text(admin_client.get("/admin/queue"))
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = admin_client.post(f"/admin/queue/{target}/retry", data={"csrf_token": token})
    assert response.status_code == 400
    after = queue.row(target)
    assert (after.status, after.claim_token, after.locked_until, after.next_attempt_at) == \
           (before.status, before.claim_token, before.locked_until, before.next_attempt_at)


def test_retry_now_of_an_unknown_submission(database):
    with database.session() as session, pytest.raises(NotFound, match="no score submission 42"):
        retry_now(session, INSTALLATION, 42)
