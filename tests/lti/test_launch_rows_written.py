"""What a launch writes to the course and link rows a whole class shares: the LMS's values when they change, and
nothing when they are the ones already stored, even for two launches of a new course racing each other."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.launch.rows import LaunchRows
from lti_tool.launch.rows import WrittenRows
from lti_tool.launch.rows import write_launch_rows
from lti_tool.models import LtiContext
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiResourceLink
from tests.conftest import add_bare_activity

AGS_SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]


@pytest.fixture
def school(database: Database) -> tuple[int, int]:
    with database.session() as session:
        registration = LtiRegistration(name="School", issuer="https://lms.example", client_id="c1",
                                       auth_login_url="https://lms.example/auth",
                                       auth_token_url="https://lms.example/token")
        session.add(registration)
        session.flush()
        deployment = LtiDeployment(registration_id=registration.id, deployment_id="d1", status="active")
        session.add(deployment)
        session.flush()
        return registration.id, deployment.id


def _rows(school: tuple[int, int], sub: str, now: dt.datetime, **changes: Any) -> LaunchRows:
    registration_id, deployment_id = school
    context = {"deployment_id": deployment_id, "id_on_platform": "course-1", "title": "English 2",
               "label": "EN2", "memberships_url": "https://lms.example/nrps", "lineitems_url": "https://lms.example/li",
               "ags_scopes": AGS_SCOPES, "datetime_updated": now}
    link = {"id_on_platform": "link-1", "title": "Speaking test", "lineitem_url": "https://lms.example/li/1",
            "datetime_updated": now}
    context |= {name[len("context_"):]: value for name, value in changes.items() if name.startswith("context_")}
    link |= {name[len("link_"):]: value for name, value in changes.items() if name.startswith("link_")}
    return LaunchRows(
        user={"registration_id": registration_id, "sub": sub, "name": None, "given_name": None,
              "family_name": None, "email": None, "datetime_updated": now},
        context=context, resource_link=link, membership={"roles": [], "datetime_updated": now},
        launch={"id": secrets.token_urlsafe(16), "registration_id": registration_id, "deployment_id": deployment_id,
                "message_type": "LtiResourceLinkRequest", "roles": [], "claims": {},
                "expires_at": now + dt.timedelta(hours=1), "login_id": secrets.token_urlsafe(16)})


def _launch(database: Database, rows: LaunchRows) -> WrittenRows:
    with database.session() as session:
        written = write_launch_rows(session, rows)
    assert written is not None
    return written


def _stored(database: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    """The course's and the link's row, with PostgreSQL's row version (xmin) when there is one."""
    version = sa.literal_column("xmin::text") if database.is_postgresql else sa.literal(None)
    with database.session() as session:
        context = session.execute(sa.select(LtiContext.__table__, version.label("version"))).one()._asdict()
        link = session.execute(sa.select(LtiResourceLink.__table__, version.label("version"))).one()._asdict()
    return context, link


def test_a_launch_with_the_stored_values_leaves_the_course_and_link_rows_untouched(database, school):
    first_at = utcnow() - dt.timedelta(minutes=5)
    first = _launch(database, _rows(school, "learner-1", first_at))
    context_before, link_before = _stored(database)
    second = _launch(database, _rows(school, "learner-2", utcnow()))
    context_after, link_after = _stored(database)
    assert (second.context_id, second.resource_link_id) == (first.context_id, first.resource_link_id)
    # Not rewritten: same values, same time of last change, and on PostgreSQL the same row version.
    assert context_after == context_before and link_after == link_before
    assert context_after["datetime_updated"] == first_at
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 2


@pytest.mark.parametrize("change", [
    {"context_title": "English 2 (spring)"}, {"context_label": None}, {"context_lineitems_url": None},
    {"context_ags_scopes": [*AGS_SCOPES, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"]},
    {"context_memberships_url": "https://lms.example/nrps/2"},
    {"link_title": "Speaking test, unit 4"}, {"link_lineitem_url": "https://lms.example/li/2"},
], ids=lambda change: next(iter(change)))
def test_a_value_the_lms_changed_is_written(database, school, change):
    first = _launch(database, _rows(school, "learner-1", utcnow() - dt.timedelta(minutes=5)))
    later = utcnow()
    second = _launch(database, _rows(school, "learner-2", later, **change))
    context, link = _stored(database)
    assert (second.context_id, second.resource_link_id) == (first.context_id, first.resource_link_id)
    for name, value in change.items():
        table, column = name.split("_", 1)
        assert (context if table == "context" else link)[column] == value
    changed_row = context if next(iter(change)).startswith("context_") else link
    assert changed_row["datetime_updated"] == later


def test_the_links_activity_is_returned_whether_or_not_the_link_is_written(database, school):
    first = _launch(database, _rows(school, "learner-1", utcnow()))
    assert first.link_activity_id is None
    with database.session() as session:
        activity_id = add_bare_activity(session, "Unit 3").id
        session.execute(sa.update(LtiResourceLink).values(activity_id=activity_id))
    assert _launch(database, _rows(school, "learner-2", utcnow())).link_activity_id == activity_id
    assert _launch(database, _rows(school, "learner-3", utcnow(), link_title="New")).link_activity_id == activity_id


def test_two_first_launches_of_a_new_course_racing_both_land_on_one_course_row(database, school):
    """The second launch's snapshot cannot see the first's uncommitted course: it must wait for it and take its
    row, not fail and not make a second one."""
    if not database.is_postgresql:
        pytest.skip("SQLite runs one writer at a time: there is no race to lose")
    first_session = database.sessionmaker()
    first = write_launch_rows(first_session, _rows(school, "learner-1", utcnow()))  # not committed yet
    outcome: dict[str, Any] = {}

    def second_launch() -> None:
        try:
            outcome["written"] = _launch(database, _rows(school, "learner-2", utcnow()))
        except Exception as error:  # reported by the assertion below
            outcome["error"] = error

    racing = threading.Thread(target=second_launch)
    racing.start()
    racing.join(timeout=1.0)
    assert racing.is_alive(), "the second launch should wait for the first one's course row"
    first_session.commit()
    first_session.close()
    racing.join(timeout=10)
    assert "error" not in outcome, outcome
    assert first is not None
    assert (outcome["written"].context_id, outcome["written"].resource_link_id) == (first.context_id,
                                                                                    first.resource_link_id)
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiContext)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 2
