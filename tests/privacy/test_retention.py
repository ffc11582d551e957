"""Retention: the worker's housekeeping removes what learners did N days after its last activity, never a score
still on its way to the gradebook, nothing recent, and nothing at all when retention is off."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.config import load_settings
from lti_tool.db import utcnow
from lti_tool.maintenance import housekeeping
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import LtiContext
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.privacy import retention

DAYS = 30
OLD = utcnow() - dt.timedelta(days=DAYS + 5)
RECENT = utcnow() - dt.timedelta(days=DAYS - 5)
HOUR = dt.timedelta(hours=1)


def settings(days: int) -> Any:
    return load_settings({"env": "testing", "retention_days": days}, environ={})


class School:
    """A registration with one course, one link and one activity, and helpers to add learners' histories."""

    def __init__(self, session) -> None:
        self.session = session
        registration = LtiRegistration(name="School", issuer="https://lms.example", client_id="c1",
                                       auth_login_url="https://lms.example/auth", auth_token_url="https://lms.example/t")
        session.add(registration)
        session.flush()
        deployment = LtiDeployment(registration_id=registration.id, deployment_id="d1", status="active")
        session.add(deployment)
        session.flush()
        context = LtiContext(deployment_id=deployment.id, id_on_platform="course")
        session.add(context)
        session.flush()
        link = LtiResourceLink(context_id=context.id, id_on_platform="link")
        assessment = Assessment(provider="speechace", title="Test", settings={})
        session.add_all([link, assessment])
        session.flush()
        activity = Activity(assessment_id=assessment.id, title="Speaking test")
        session.add(activity)
        session.flush()
        self.registration, self.deployment, self.context, self.link, self.activity = (
            registration, deployment, context, link, activity)

    def learner(self, sub: str, seen: dt.datetime, attempt_at: dt.datetime | None = None,
                result_at: dt.datetime | None = None, submission: tuple[str, dt.datetime] | None = None,
                launch_expires_at: dt.datetime | None = None) -> int:
        """A user seen at ``seen`` with a membership, and optionally an attempt, its result, its score and a
        launch. Returns the user's pk."""
        session = self.session
        user = LtiUser(registration_id=self.registration.id, sub=sub, name=f"Name of {sub}", datetime_updated=seen)
        session.add(user)
        session.flush()
        session.add(LtiMembership(context_id=self.context.id, user_id=user.id, roles=["Learner"],
                                  datetime_updated=seen))
        if launch_expires_at is not None:
            session.add(LtiLaunch(id=f"launch-{sub}", registration_id=self.registration.id,
                                  deployment_id=self.deployment.id, user_id=user.id,
                                  message_type="LtiResourceLinkRequest", claims={"sub": sub},
                                  expires_at=launch_expires_at))
        if attempt_at is not None:
            attempt = Attempt(activity_id=self.activity.id, registration_id=self.registration.id,
                              context_id=self.context.id, resource_link_id=self.link.id, user_id=user.id,
                              datetime_started=attempt_at, datetime_updated=attempt_at)
            session.add(attempt)
            session.flush()
            if result_at is not None:
                result = Result(attempt_id=attempt.id, external_id=f"r-{sub}", scores={"overall": 5},
                                scale_maximum=9, payload={"userId": sub}, datetime_received=result_at)
                session.add(result)
                session.flush()
                if submission is not None:
                    status, at = submission
                    session.add(ScoreSubmission(
                        attempt_id=attempt.id, result_id=result.id, score_given=50, score_maximum=100,
                        activity_progress="Completed", grading_progress="FullyGraded", status=status,
                        datetime_created=at, datetime_sent=at if status == "sent" else None, next_attempt_at=at))
        session.flush()
        return user.id


def remaining(database) -> dict[str, set[str]]:
    """The subs that still have a user row, an attempt, a result, a submission, a launch."""
    with database.session() as session:
        def subs(query: sa.Select[Any]) -> set[str]:
            return set(session.scalars(query))
        return {
            "users": subs(sa.select(LtiUser.sub)),
            "memberships": subs(sa.select(LtiUser.sub).join(LtiMembership, LtiMembership.user_id == LtiUser.id)),
            "attempts": subs(sa.select(LtiUser.sub).join(Attempt, Attempt.user_id == LtiUser.id)),
            "results": subs(sa.select(LtiUser.sub).join(Attempt, Attempt.user_id == LtiUser.id)
                            .join(Result, Result.attempt_id == Attempt.id)),
            "submissions": subs(sa.select(LtiUser.sub).join(Attempt, Attempt.user_id == LtiUser.id)
                                .join(ScoreSubmission, ScoreSubmission.attempt_id == Attempt.id)),
            "launches": subs(sa.select(LtiUser.sub).join(LtiLaunch, LtiLaunch.user_id == LtiUser.id)),
        }


@pytest.fixture
def histories(database) -> None:
    with database.session() as session:
        school = School(session)
        school.learner("old-sent", OLD, OLD, OLD, ("sent", OLD))
        school.learner("old-parked", OLD, OLD, OLD, ("parked", OLD))
        school.learner("old-pending", OLD, OLD, OLD, ("pending", OLD))  # the LMS has been down for weeks
        school.learner("old-no-result", OLD, OLD)
        school.learner("recent-result", OLD, OLD, RECENT, ("sent", RECENT))  # an old attempt, graded lately
        school.learner("recent", RECENT, RECENT, RECENT, ("sent", RECENT), launch_expires_at=utcnow() + HOUR)
        school.learner("old-teacher", OLD)  # a user with nothing but a membership
        school.learner("recent-teacher", RECENT)


def test_old_histories_go_pending_scores_and_recent_ones_stay(database, histories):
    purged = housekeeping(database, settings(DAYS))
    assert purged["retention_attempts"] == 3
    left = remaining(database)
    assert left["attempts"] == left["results"] == {"old-pending", "recent-result", "recent"}
    assert left["submissions"] == {"old-pending", "recent-result", "recent"}
    assert left["launches"] == {"recent"}  # still usable: retention leaves launches to their own expiry
    # Users with nothing left and not seen for the period go, with their old memberships.
    assert left["users"] == {"old-pending", "recent-result", "recent", "recent-teacher"}
    assert left["memberships"] == {"recent", "recent-teacher"}


def test_retention_off_keeps_everything(database, histories):
    before = remaining(database)
    for setting in (settings(0), None):
        purged = housekeeping(database, setting)
        assert not any(key.startswith("retention_") for key in purged)
    assert remaining(database) == before


def test_a_pending_score_keeps_its_attempt_until_it_is_delivered(database, histories):
    housekeeping(database, settings(DAYS))
    with database.session() as session:
        submission = session.scalars(sa.select(ScoreSubmission).join(Attempt).join(LtiUser).where(
            LtiUser.sub == "old-pending")).one()
        submission.status, submission.datetime_sent = "sent", OLD  # delivered (long ago, as far as the clock says)
    housekeeping(database, settings(DAYS))
    assert "old-pending" not in remaining(database)["attempts"]


def test_large_backlogs_go_in_batches(database, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    with database.session() as session:
        school = School(session)
        for number in range(5):
            school.learner(f"old-{number}", OLD, OLD, OLD, ("sent", OLD))
    counts = [housekeeping(database, settings(DAYS)).get("retention_attempts", 0) for _ in range(4)]
    assert counts == [2, 2, 1, 0]
    assert remaining(database)["users"] == set()  # once their attempts were gone, the users followed


def test_the_worker_applies_the_retention_setting(env, database, monkeypatch):
    from click.testing import CliRunner

    from lti_tool.cli import main

    with database.session() as session:
        School(session).learner("old-sent", OLD, OLD, OLD, ("sent", OLD))
    kept = CliRunner().invoke(main, ["worker", "--once"], catch_exceptions=False)
    assert kept.exit_code == 0 and "retention" not in kept.output and remaining(database)["attempts"] == {"old-sent"}
    monkeypatch.setenv("LTI_TOOL_RETENTION_DAYS", str(DAYS))
    removed = CliRunner().invoke(main, ["worker", "--once"], catch_exceptions=False)
    assert removed.exit_code == 0 and "'retention_attempts': 1" in removed.output, removed.output
    assert remaining(database)["users"] == set()


def test_attempts_are_found_by_their_last_activity_through_an_index(database):
    """Each round looks attempts up by ``datetime_updated < cutoff``: without an index that is a scan of the table
    (tests/test_migrations.py keeps the models' declaration and the migrations in step). Users' and memberships'
    are not indexed on purpose: every launch rewrites them (see the models)."""
    leading = [index["column_names"][0] for index in sa.inspect(database.engine).get_indexes("attempt")]
    assert "datetime_updated" in leading


# Foreign keys a deletion may walk without an index, and why that stays cheap.
UNINDEXED_FOREIGN_KEYS = {
    # Every launch inserts a row; the table holds only the last hours' launches (housekeeping removes the rest).
    ("lti_launch", "user_id"), ("lti_launch", "context_id"), ("lti_launch", "resource_link_id"),
    ("lti_launch", "registration_id"), ("lti_launch", "deployment_id"),
    # Followed only when a whole course, activity, assessment or school is removed: one scan for all its rows.
    ("attempt", "activity_id"), ("attempt", "context_id"), ("attempt", "registration_id"),
    ("lti_resource_link", "activity_id"), ("activity", "assessment_id"), ("provider_account", "deployment_id"),
    ("registration_invitation", "registration_id"), ("platform_breaker", "registration_id"),
}


def test_what_deleting_a_user_or_a_result_cascades_to_is_found_through_an_index(database):
    """A privacy deletion or a retention round deletes users and attempts (with their results) in batches; the
    database's cascade then looks each deleted row's dependants up by the foreign key, which without an index is a
    scan of the whole table per deleted row. Every other foreign key must be the leading column of an index."""
    inspector = sa.inspect(database.engine)
    unindexed = set()
    for table in inspector.get_table_names():
        leading = {tuple(index["column_names"][:1]) for index in inspector.get_indexes(table)}
        leading |= {tuple(unique["column_names"][:1]) for unique in inspector.get_unique_constraints(table)}
        for key in inspector.get_foreign_keys(table):
            if tuple(key["constrained_columns"][:1]) not in leading:
                unindexed.add((table, key["constrained_columns"][0]))
    assert {("attempt", "user_id"), ("lti_membership", "user_id"), ("score_submission", "result_id")} \
        .isdisjoint(unindexed)
    assert unindexed <= UNINDEXED_FOREIGN_KEYS, sorted(unindexed - UNINDEXED_FOREIGN_KEYS)
