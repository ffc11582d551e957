"""Admin hygiene: login throttling shared by every process, "Are you sure?" before destructive actions, and the
audit log of who changed what."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from lti_tool.admin import throttle
from lti_tool.app import create_app
from lti_tool.db import utcnow
from lti_tool.models import AdminAuditEntry
from lti_tool.models import Assessment
from lti_tool.models import LoginThrottle
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.services import Services
from tests.admin.conftest import PASSWORD
from tests.admin.conftest import USERNAME
from tests.admin.conftest import log_in
from tests.admin.conftest import submit
from tests.admin.conftest import text

WRONG = "not the password at all"


# --- throttling --------------------------------------------------------------------------------------------------

def test_after_five_wrong_passwords_even_the_right_one_is_refused(client, admin_account):
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert log_in(client, USERNAME, WRONG).status_code == 401
    refused = log_in(client, USERNAME, PASSWORD)
    assert refused.status_code == 429
    assert "Too many attempts; try again in 5 minutes." in text(refused)
    assert client.get("/admin").status_code == 303  # not logged in


def test_an_unknown_username_is_throttled_alike(client, admin_account):
    for username in (USERNAME, "mallory"):
        for _ in range(throttle.ACCOUNT_LIMIT):
            log_in(client, username, WRONG)
    known, unknown = log_in(client, USERNAME, PASSWORD), log_in(client, "mallory", PASSWORD)
    assert known.status_code == unknown.status_code == 429
    assert text(known).replace(USERNAME, "mallory") == text(unknown)


def test_failures_count_across_processes(app, client, settings, database, admin_account):
    other_process = create_app(settings, services=Services.from_settings(settings, database=database)).test_client()
    for index in range(throttle.ACCOUNT_LIMIT):
        assert log_in(client if index % 2 else other_process, USERNAME, WRONG).status_code == 401
    assert log_in(other_process, USERNAME, PASSWORD).status_code == 429
    assert log_in(client, USERNAME, PASSWORD).status_code == 429


def test_a_successful_login_resets_the_account_counter(client, admin_account):
    for _ in range(2):
        for _ in range(throttle.ACCOUNT_LIMIT - 1):
            assert log_in(client, USERNAME, WRONG).status_code == 401
        assert log_in(client, USERNAME, PASSWORD).status_code == 303
        client.post("/admin/logout", data={"csrf_token": _csrf(client)})


def _csrf(client) -> str:
    page = text(client.get("/admin"))
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def test_one_address_trying_many_usernames_is_locked_out(client, admin_account):
    for index in range(throttle.ADDRESS_LIMIT):
        assert log_in(client, f"guess{index}", WRONG).status_code == 401
    assert log_in(client, USERNAME, PASSWORD).status_code == 429


def test_each_lock_lasts_longer_than_the_one_before(client, database, admin_account):
    for expected_minutes in (5, 10, 20):
        for _ in range(throttle.ACCOUNT_LIMIT):
            log_in(client, USERNAME, WRONG)
        assert f"try again in {expected_minutes} minutes" in text(log_in(client, USERNAME, PASSWORD))
        with database.session() as session:  # the lock runs out
            session.execute(sa.update(LoginThrottle).values(locked_until=None))
    assert log_in(client, USERNAME, PASSWORD).status_code == 303


def test_failures_older_than_the_window_are_forgotten(client, database, admin_account):
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        log_in(client, USERNAME, WRONG)
    with database.session() as session:
        session.execute(sa.update(LoginThrottle).values(
            window_started_at=utcnow() - throttle.WINDOW - dt.timedelta(seconds=1)))
    log_in(client, USERNAME, WRONG)
    assert log_in(client, USERNAME, PASSWORD).status_code == 303


# --- confirmation ------------------------------------------------------------------------------------------------

def _deployment(session) -> tuple[str, object]:
    row = session.scalars(sa.select(LtiDeployment)).one()
    return f"/admin/deployments/{row.id}/disable", row.status


def _registration(session) -> tuple[str, object]:
    row = session.scalars(sa.select(LtiRegistration)).one()
    return f"/admin/registrations/{row.id}/deactivate", row.is_active


def _assessment(session) -> tuple[str, object]:
    row = session.scalars(sa.select(Assessment)).first()
    if row is None:
        row = Assessment(provider="speechace", title="Placement", settings={"mode": "iframe"})
        session.add(row)
        session.flush()
    return f"/admin/assessments/{row.id}/deactivate", row.is_active


@pytest.mark.parametrize(("page", "target"), [("/admin/deployments", _deployment),
                                              ("/admin/registrations", _registration),
                                              ("/admin/assessments", _assessment)])
def test_destructive_actions_happen_only_once_confirmed(admin_client, connected, database, page, target):
    with database.session() as session:
        action, before = target(session)
    listing = text(admin_client.get(page))
    assert 'button-danger" type="submit" data-testid="' in listing
    question = submit(admin_client, listing, action)
    assert question.status_code == 200 and "Are you sure?" in text(question)
    assert 'data-testid="confirm-button"' in text(question) and f'href="{page}" data-testid="cancel-button"' in \
        text(question)
    with database.session() as session:
        assert target(session)[1] == before  # not yet
        assert session.scalar(sa.select(sa.func.count()).select_from(AdminAuditEntry)) == 0
    done = submit(admin_client, text(question), action)
    assert done.status_code == 303
    with database.session() as session:
        assert target(session)[1] != before


def test_any_username_text_is_counted_and_none_is_stored(client, database, admin_account):
    # A NUL never gets this far: the app refuses control characters in any form field with a 400.
    assert log_in(client, "nul\x00name", WRONG).status_code == 400
    for username in ("x" * 5000, "my secret password"):
        assert log_in(client, username, WRONG).status_code == 401
    with database.session() as session:
        keys = list(session.scalars(sa.select(LoginThrottle.key)))
    assert len(keys) == 3 and not any("secret" in key or "x" * 100 in key for key in keys)
