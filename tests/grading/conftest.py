"""Grade passback fixtures: a launched course with a gradebook column, a factory for attempts and outbox rows,
an injectable clock and worker builders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.grading import PassbackWorker
from lti_tool.http import HttpSession
from lti_tool.models import Attempt
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.models import ScoreSubmission
from lti_tool.sandbox.platform import constants as c
from tests.conftest import add_bare_activity


class FakeClock:
    """The workers' and token cache's notion of now; tests move it forward instead of sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Course:
    """The launched course: one resource link with a line item, and helpers to fill the outbox."""

    connected: Any
    database: Database
    registration_id: int
    context_id: int
    resource_link_id: int
    lineitem_url: str
    activity_id: int

    @property
    def platform(self) -> Any:
        return self.connected.platform

    @property
    def lineitem_id(self) -> str:
        return self.lineitem_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def learner(self) -> str:
        return self.connected.course.learner

    def grades(self) -> dict[str, dict[str, Any]]:
        """sub -> grade of our line item in the LMS gradebook."""
        return self.platform.gradebook(self.connected.course.context_id).get(self.lineitem_id, {})

    def add_learner(self, sub: str) -> None:
        """A learner the LMS knows and grades, as a launch would have recorded them."""
        self.platform.add_user(sub, "Learner", sub)
        self.platform.enrol(self.connected.course.context_id, sub, [c.ROLE_LEARNER])
        with self.database.session() as session:
            session.add(LtiUser(registration_id=self.registration_id, sub=sub))

    def attempt(self, sub: str | None = None, lineitem_url: str | bool | None = True, **values: Any) -> int:
        sub = sub or self.learner
        with self.database.session() as session:
            user_id = session.scalar(sa.select(LtiUser.id).where(LtiUser.sub == sub))
            if user_id is None:  # e.g. the instructor, who did not launch
                user = LtiUser(registration_id=self.registration_id, sub=sub)
                session.add(user)
                session.flush()
                user_id = user.id
            attempt = Attempt(activity_id=self.activity_id, registration_id=self.registration_id,
                              context_id=self.context_id, resource_link_id=self.resource_link_id, user_id=user_id,
                              lineitem_url=self.lineitem_url if lineitem_url is True else lineitem_url or None,
                              status="submitted", **values)
            session.add(attempt)
            session.flush()
            return attempt.id

    def submission(self, attempt_id: int, score_given: float | None = 80.0, **values: Any) -> int:
        defaults = {"score_maximum": 100.0, "activity_progress": "Completed", "grading_progress": "FullyGraded",
                    "next_attempt_at": utcnow() - dt.timedelta(hours=1)}
        with self.database.session() as session:
            row = ScoreSubmission(attempt_id=attempt_id, score_given=score_given, **{**defaults, **values})
            session.add(row)
            session.flush()
            return row.id

    def submit(self, sub: str | None = None, score_given: float | None = 80.0, **values: Any) -> int:
        """An attempt with one pending submission; returns the submission id."""
        return self.submission(self.attempt(sub), score_given, **values)

    def row(self, submission_id: int) -> ScoreSubmission:
        with self.database.session() as session:
            return session.get_one(ScoreSubmission, submission_id)

    def attempt_row(self, attempt_id: int) -> Attempt:
        with self.database.session() as session:
            return session.get_one(Attempt, attempt_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def course(connected, database, browser) -> Course:
    """A real learner launch with a line item, then an assessment and an activity placed on the link."""
    response = browser.get(connected.launch_url(with_lineitem=True))
    assert response.status_code == 200, response.text[:300]
    with database.session() as session:
        link = session.scalars(sa.select(LtiResourceLink)).one()
        activity = add_bare_activity(session, "Unit 3 speaking")
        link.activity_id = activity.id
        assert link.lineitem_url
        return Course(connected=connected, database=database, registration_id=connected.registration.id,
                      context_id=link.context_id, resource_link_id=link.id, lineitem_url=link.lineitem_url,
                      activity_id=activity.id)


@pytest.fixture
def make_worker(database, settings, clock):
    def make(db: Database | None = None, timeout: float = 5.0, **kwargs: Any) -> PassbackWorker:
        options = {"clock": clock, "random": lambda: 0.5, **kwargs}
        return PassbackWorker(db or database, HttpSession(timeout=timeout), settings, **options)
    return make


@pytest.fixture
def worker(make_worker) -> PassbackWorker:
    return make_worker()
