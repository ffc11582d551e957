"""Admin pages over HTTP (Flask test client against the real app): who gets in, deployments, registrations, CSRF.

Launches go through the emulated LMS over real HTTP; the admin pages are then opened with the recorded handle.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re

import pytest
import sqlalchemy as sa

from lti_tool.admin.accounts import remove_admin
from lti_tool.admin.accounts import set_password
from lti_tool.db import utcnow
from lti_tool.lti import registration_approval
from lti_tool.models import AdminAuditEntry
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import RegistrationInvitation
from lti_tool.models import ReviewStatus
from lti_tool.sandbox.browser import FormBrowser
from tests.admin.conftest import ADMIN_PAGES
from tests.admin.conftest import INSTRUCTOR_ROLE
from tests.admin.conftest import PASSWORD
from tests.admin.conftest import USERNAME
from tests.admin.conftest import launch_handle
from tests.admin.conftest import log_in
from tests.admin.conftest import submit
from tests.admin.conftest import submit_confirmed
from tests.admin.conftest import text


def deployment_status(database, deployment_id: str) -> str:
    with database.session() as session:
        return session.scalars(sa.select(LtiDeployment.status)
                               .where(LtiDeployment.deployment_id == deployment_id)).one()


def only_deployment_pk(database) -> int:
    with database.session() as session:
        return session.scalars(sa.select(LtiDeployment.id)).one()


# --- tool admin login ----------------------------------------------------------------------------------------

def test_login_opens_every_admin_page(admin_client):
    for page in ADMIN_PAGES:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert 'data-testid="admin-nav"' in text(response)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_login_cookie_is_lax_and_http_only(client, admin_account):
    response = log_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "alice" not in cookie and PASSWORD not in cookie


def test_wrong_password_and_unknown_user_get_the_same_refusal(client, admin_account, caplog):
    caplog.set_level(logging.INFO, logger="lti_tool")
    wrong_password = log_in(client, USERNAME, "not the password at all")
    unknown_user = log_in(client, "mallory", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "Unknown username or wrong password." in text(wrong_password)
    assert text(wrong_password).replace(USERNAME, "mallory") == text(unknown_user)
    assert client.get("/admin").status_code == 303  # still not logged in
    refusals = [record.getMessage() for record in caplog.records if "login refused" in record.getMessage()]
    assert len(refusals) == 2 and "'mallory'" in refusals[1]
    assert PASSWORD not in caplog.text and "not the password at all" not in caplog.text


def test_no_credentials_redirect_to_the_login_page(client, connected, database):
    for page in ADMIN_PAGES:
        response = client.get(page)
        assert response.status_code == 303, page
        assert response.headers["Location"].endswith("/admin/login")
    response = client.post(f"/admin/deployments/{only_deployment_pk(database)}/disable")
    assert response.status_code == 303
    assert deployment_status(database, connected.client.deployment_id) == DeploymentStatus.ACTIVE
    assert client.get("/admin/login").status_code == 200


def test_logout_ends_the_login(admin_client):
    page = text(admin_client.get("/admin"))
    assert submit(admin_client, page, "/admin/logout").status_code == 303
    assert admin_client.get("/admin").status_code == 303


@pytest.mark.parametrize("change", ["new password", "account removed"])
def test_a_password_change_or_removed_account_ends_open_logins(admin_client, database, change):
    with database.session() as session:
        if change == "new password":
            set_password(session, USERNAME, "another long password")
        else:
            remove_admin(session, USERNAME)
    assert admin_client.get("/admin").status_code == 303


# --- LMS launches ----------------------------------------------------------------------------------------------

def test_learner_launch_is_refused_on_every_admin_page(client, connected, database):
    handle = launch_handle(connected, database, connected.course.learner)
    for page in ADMIN_PAGES:
        response = client.get(page, query_string={"launch": handle})
        assert response.status_code == 403, page
        assert "Not allowed" in text(response)
    deployment_pk = only_deployment_pk(database)
    response = client.post(f"/admin/deployments/{deployment_pk}/disable", data={"launch": handle})
    assert response.status_code == 403
    assert deployment_status(database, connected.client.deployment_id) == DeploymentStatus.ACTIVE


def test_instructor_launch_is_refused(client, connected, database):
    handle = launch_handle(connected, database, connected.course.instructor, roles=[INSTRUCTOR_ROLE])
    for page in ADMIN_PAGES:
        assert client.get(page, query_string={"launch": handle}).status_code == 403, page


def test_unknown_launch_handle_is_told_to_launch_again(client, connected):
    assert client.get("/admin", query_string={"launch": "no-such-launch"}).status_code == 401


def test_lms_admin_launch_opens_every_page_and_links_carry_the_handle(client, lms_admin_launch):
    for page in ADMIN_PAGES:
        response = client.get(page, query_string={"launch": lms_admin_launch})
        assert response.status_code == 200, page
        assert f'/admin/deployments?launch={lms_admin_launch}"' in text(response)
        assert "Grace Hopper" in text(response)
        assert "X-Frame-Options" not in response.headers  # shown inside the LMS frame


def test_lms_admin_changes_need_no_csrf_token_but_must_be_posted(client, connected, database, lms_admin_launch):
    deployment_pk = only_deployment_pk(database)
    # Another deployment of the same LMS, so that the admin does not disable their own way in.
    new_deployment = connected.platform.add_deployment(connected.client.client_id)
    FormBrowser().get(connected.launch_url(deployment_id=new_deployment))
    assert deployment_status(database, new_deployment) == DeploymentStatus.PENDING
    with database.session() as session:
        pending_pk = session.scalars(sa.select(LtiDeployment.id).where(LtiDeployment.id != deployment_pk)).one()
    assert client.get(f"/admin/deployments/{pending_pk}/approve",
                      query_string={"launch": lms_admin_launch}).status_code == 405
    page = text(client.get("/admin/deployments", query_string={"launch": lms_admin_launch}))
    response = submit(client, page, f"/admin/deployments/{pending_pk}/approve")
    assert response.status_code == 303
    assert f"launch={lms_admin_launch}" in response.headers["Location"]
    assert deployment_status(database, new_deployment) == DeploymentStatus.ACTIVE


def test_lms_admin_loses_access_when_their_deployment_is_disabled(admin_client, client, connected, database,
                                                                  lms_admin_launch):
    page = text(admin_client.get("/admin/deployments"))
    submit_confirmed(admin_client, page, f"/admin/deployments/{only_deployment_pk(database)}/disable")
    assert client.get("/admin", query_string={"launch": lms_admin_launch}).status_code == 403


# --- deployments -------------------------------------------------------------------------------------------------

def test_approve_a_pending_deployment_then_launches_through_it_succeed(admin_client, connected, database):
    new_deployment = connected.platform.add_deployment(connected.client.client_id)
    assert FormBrowser().get(connected.launch_url(deployment_id=new_deployment)).status_code == 403
    page = text(admin_client.get("/admin/deployments"))
    assert new_deployment in page and 'data-status="pending"' in page
    assert 'data-count="deployments-pending"><a href="/admin/deployments">1<' in text(admin_client.get("/admin"))
    with database.session() as session:
        pending_pk = session.scalars(sa.select(LtiDeployment.id)
                                     .where(LtiDeployment.deployment_id == new_deployment)).one()
    response = submit(admin_client, page, f"/admin/deployments/{pending_pk}/approve")
    assert response.status_code == 303
    assert "approved" in text(admin_client.get(response.headers["Location"]))
    assert deployment_status(database, new_deployment) == DeploymentStatus.ACTIVE
    assert FormBrowser().get(connected.launch_url(deployment_id=new_deployment)).status_code == 200


def test_disable_a_deployment_then_launches_are_refused(admin_client, connected, database):
    assert FormBrowser().get(connected.launch_url()).status_code == 200
    page = text(admin_client.get("/admin/deployments"))
    submit_confirmed(admin_client, page, f"/admin/deployments/{only_deployment_pk(database)}/disable")
    assert deployment_status(database, connected.client.deployment_id) == DeploymentStatus.DISABLED
    response = FormBrowser().get(connected.launch_url())
    assert response.status_code == 403 and "disabled" in response.text


def test_unknown_action_is_a_400_unknown_deployment_a_404_and_nothing_changes(admin_client, connected, database):
    page = text(admin_client.get("/admin/deployments"))
    deployment_pk = only_deployment_pk(database)
    token = {"csrf_token": _csrf_of(page)}
    bad_action = admin_client.post(f"/admin/deployments/{deployment_pk}/delete", data=token)
    assert bad_action.status_code == 400 and "Unknown action" in text(bad_action)
    missing = admin_client.post("/admin/deployments/9999/disable", data=token)
    assert missing.status_code == 404
    assert deployment_status(database, connected.client.deployment_id) == DeploymentStatus.ACTIVE


def _csrf_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


# --- CSRF --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "forged-token"])
def test_cookie_login_post_without_the_right_csrf_token_is_refused(admin_client, connected, database, token):
    deployment_pk = only_deployment_pk(database)
    data = {} if token is None else {"csrf_token": token}
    response = admin_client.post(f"/admin/deployments/{deployment_pk}/disable", data=data)
    assert response.status_code == 400
    assert deployment_status(database, connected.client.deployment_id) == DeploymentStatus.ACTIVE


def test_a_refused_form_reads_in_the_admins_language_and_logs_in_english(admin_client, caplog):
    """A Spanish admin's form without this session's token: the 400 page says why in Spanish (in the page's usual
    look), every log line in English."""
    caplog.set_level(logging.INFO, logger="lti_tool")
    response = admin_client.post("/admin/logout", data={"csrf_token": "forged-token"},
                                 headers={"Accept-Language": "es"})
    assert response.status_code == 400
    page = html.unescape(text(response))
    assert "<h1>Solicitud incorrecta</h1>" in page
    assert ("El formulario ha caducado o no procede de este sitio. Vuelva a cargar la página e inténtelo de nuevo."
            in page)
    assert "The form has expired" not in page
    assert "The form has expired or did not come from this site." in caplog.text
    assert "El formulario" not in caplog.text and "Solicitud incorrecta" not in caplog.text
    assert admin_client.get("/admin").status_code == 200  # still logged in: the refused logout changed nothing


def test_login_form_needs_its_csrf_token(client, admin_account):
    client.get("/admin/login")
    response = client.post("/admin/login", data={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin").status_code == 303


# --- registrations -----------------------------------------------------------------------------------------------

def test_registrations_list_and_deactivation_refuses_launches(admin_client, connected, database):
    page = text(admin_client.get("/admin/registrations"))
    registration = connected.registration
    for shown in (registration.issuer, registration.client_id, registration.auth_login_url,
                  registration.auth_token_url, "manual"):
        assert shown in page
    response = submit_confirmed(admin_client, page, f"/admin/registrations/{registration.id}/deactivate")
    assert response.status_code == 303
    with database.session() as session:
        assert session.get(LtiRegistration, registration.id).is_active is False
    assert FormBrowser().get(connected.launch_url()).status_code == 403
    page = text(admin_client.get("/admin/registrations"))
    submit(admin_client, page, f"/admin/registrations/{registration.id}/activate")
    assert FormBrowser().get(connected.launch_url()).status_code == 200
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 1


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_pending_registration_is_approved_or_rejected_on_the_admin_page(admin_client, connected, database,
                                                                          decision):
    registration = connected.registration
    with database.session() as session:
        row = session.get(LtiRegistration, registration.id)
        row.review_status, row.is_active = ReviewStatus.PENDING.value, False
    assert FormBrowser().get(connected.launch_url()).status_code == 403
    page = text(admin_client.get("/admin/registrations"))
    assert "waiting for approval" in page and f"/admin/registrations/{registration.id}/activate" not in page
    act = submit_confirmed if decision == "reject" else submit
    assert act(admin_client, page, f"/admin/registrations/{registration.id}/{decision}").status_code == 303
    with database.session() as session:
        row = session.get(LtiRegistration, registration.id)
        assert (row.review_status, row.is_active) == (
            ("approved", True) if decision == "approve" else ("rejected", False))
    assert FormBrowser().get(connected.launch_url()).status_code == (200 if decision == "approve" else 403)


def test_a_tool_admin_creates_an_invitation_shown_once_and_stored_hashed(admin_client, database):
    page = text(admin_client.get("/admin/registrations"))
    response = submit(admin_client, page, "/admin/registrations/invitations", note="North school", expires_days="3")
    assert response.status_code == 200
    shown = re.search(r"/lti/register/invitation/([\w-]+)", text(response))
    assert shown is not None
    with database.session() as session:
        invitation = session.scalars(sa.select(RegistrationInvitation)).one()
        assert invitation.note == "North school" and invitation.token_hash != shown.group(1)
        assert registration_approval.usable_invitation(session, shown.group(1)) is not None
        assert dt.timedelta(days=2) < invitation.expires_at - utcnow() <= dt.timedelta(days=3)
        assert session.scalars(sa.select(AdminAuditEntry.action)).all() == ["registration-invite"]
    page = text(admin_client.get("/admin/registrations"))
    assert shown.group(1) not in page  # shown once only
    refused = submit(admin_client, page, "/admin/registrations/invitations", expires_days="365")
    assert refused.status_code == 400


def test_an_lms_admin_cannot_invite_a_platform(client, lms_admin_launch, database):
    response = client.post("/admin/registrations/invitations", data={"launch": lms_admin_launch, "expires_days": "7"})
    assert response.status_code == 403
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(RegistrationInvitation)) == 0


def test_an_admin_change_clears_the_process_cache_at_once(admin_client, connected):
    """The tool caches the registration from the first launch; deactivating it on the admin pages refuses the very
    next login, before any launch had to find out."""
    assert FormBrowser().get(connected.launch_url()).status_code == 200
    page = text(admin_client.get("/admin/registrations"))
    submit_confirmed(admin_client, page, f"/admin/registrations/{connected.registration.id}/deactivate")
    login = FormBrowser().session.get(connected.launch_url(), allow_redirects=False)
    assert login.status_code == 403 and "disabled" in login.text


@pytest.mark.parametrize("settings_overrides", [{"lms_admin_access": False}])
def test_lms_admin_access_can_be_turned_off_for_multi_school_installs(client, lms_admin_launch, settings_overrides):
    response = client.get("/admin", query_string={"launch": lms_admin_launch})
    assert response.status_code == 403
    assert "LTI_TOOL_LMS_ADMIN_ACCESS" in text(response)


def test_admin_times_are_in_the_readers_locale(admin_client, connected, database):
    """A registration's time on the admin pages: machine-readable in <time datetime>, shown as the browser's
    locale writes dates, in UTC."""
    created = dt.datetime(2026, 12, 3, 8, 5, tzinfo=dt.UTC)
    with database.session() as session:
        session.execute(sa.update(LtiRegistration).values(datetime_created=created))
        session.commit()
    english = admin_client.get("/admin/registrations").get_data(as_text=True)
    assert '<time datetime="2026-12-03T08:05:00Z">Dec 3, 2026, 8:05\u202fAM UTC</time>' in english
    spanish = admin_client.get("/admin/registrations", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<time datetime="2026-12-03T08:05:00Z">3 dic 2026, 8:05 UTC</time>' in spanish
