"""Accepted launches: the certification's valid instructor and student launches, and what each one stores."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from lti_tool.lti.claims import Claim
from lti_tool.models import LtiContext
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.sandbox.platform import constants as c

INSTRUCTOR_PAGE = 'data-testid="teacher-setup"'
LEARNER_PAGE = 'data-testid="learner-landing"'
ROLE_TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def _launch_with(browser, connected, sub, roles, tamper=None):
    if tamper is not None:
        connected.platform.tamper_next_id_token(tamper)
    return browser.get(connected.launch_url(sub=sub, roles=roles))


def _without(*names):
    def tamper(header, claims):
        for name in names:
            claims.pop(name, None)
    return tamper


@pytest.mark.parametrize(("roles", "page"), [
    pytest.param([c.ROLE_INSTRUCTOR], INSTRUCTOR_PAGE, id="instructor"),
    pytest.param([c.ROLE_INSTRUCTOR, c.ROLE_INST_FACULTY, c.ROLE_CONTENT_DEVELOPER], INSTRUCTOR_PAGE,
                 id="instructor-multiple-roles"),
    pytest.param(["Instructor"], INSTRUCTOR_PAGE, id="instructor-short-role"),
    pytest.param([ROLE_TA], INSTRUCTOR_PAGE, id="teaching-assistant-sub-role"),
    pytest.param([c.ROLE_LEARNER], LEARNER_PAGE, id="learner"),
    pytest.param([c.ROLE_LEARNER, c.ROLE_INST_STUDENT], LEARNER_PAGE, id="learner-multiple-roles"),
    pytest.param(["Learner"], LEARNER_PAGE, id="learner-short-role"),
    pytest.param(["http://purl.imsglobal.org/vocab/lis/v2/membership#Unheardof"], LEARNER_PAGE, id="unknown-role"),
    pytest.param([], LEARNER_PAGE, id="no-role"),
])
def test_role_decides_the_landing_page(browser, connected, database, roles, page):
    response = _launch_with(browser, connected, connected.course.learner, roles)
    assert response.status_code == 200, response.text[:300]
    assert page in response.text
    with database.session() as session:
        membership = session.scalars(sa.select(LtiMembership)).one()
        assert membership.roles == roles


@pytest.mark.parametrize(("tamper", "expected"), [
    pytest.param(_without("name", "given_name", "family_name"), {"email": "alan@example.edu", "name": None},
                 id="email-only"),
    pytest.param(_without("email"), {"email": None, "given_name": "Alan", "family_name": "Turing"}, id="names-only"),
    pytest.param(_without("email", "name", "given_name", "family_name"),
                 {"email": None, "name": None, "given_name": None}, id="no-personal-data"),
    pytest.param(_without(Claim.CONTEXT), {}, id="no-context"),
])
def test_privacy_variants_are_accepted_and_stored_as_sent(browser, connected, database, tamper, expected):
    for role in (c.ROLE_INSTRUCTOR, c.ROLE_LEARNER):
        connected.platform.tamper_next_id_token(tamper)
        response = browser.get(connected.launch_url(roles=[role]))
        assert response.status_code == 200, response.text[:300]
    with database.session() as session:
        user = session.scalars(sa.select(LtiUser)).one()
        for field, value in expected.items():
            assert getattr(user, field) == value, field
        assert user.display_name  # there is always something to show a teacher, at worst the sub


def test_launch_records_course_link_user_and_a_launch_handle(browser, connected, database):
    response = browser.get(connected.launch_url(resource_link_id="speaking-1", resource_link_title="Unit 3 test",
                                                with_lineitem=True))
    assert response.status_code == 200
    assert "Unit 3 test" in response.text
    with database.session() as session:
        context = session.scalars(sa.select(LtiContext)).one()
        assert context.id_on_platform == connected.course.context_id
        assert context.title == "Introduction to Phonetics"
        assert context.lineitems_url and context.memberships_url
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in context.ags_scopes
        link = session.scalars(sa.select(LtiResourceLink)).one()
        assert (link.id_on_platform, link.context_id) == ("speaking-1", context.id)
        assert link.lineitem_url and link.lineitem_url.startswith(connected.platform.base_url)
        user = session.scalars(sa.select(LtiUser)).one()
        assert (user.sub, user.email) == (connected.course.learner, "alan@example.edu")
        record = session.scalars(sa.select(LtiLaunch)).one()
        assert record.resource_link_id == link.id and record.user_id == user.id
        assert len(record.id) >= 40  # the bearer handle must not be guessable
        assert record.login_id  # the login is marked used by the launch that records it


def test_relaunch_updates_rather_than_duplicates(browser, connected, database):
    for _ in range(3):
        assert browser.get(connected.launch_url()).status_code == 200
    connected.platform.tamper_next_id_token(lambda header, claims: claims.update(email="new@example.edu"))
    assert browser.get(connected.launch_url()).status_code == 200
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiUser)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiContext)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 4
        assert session.scalars(sa.select(LtiUser.email)).one() == "new@example.edu"


def test_platform_clock_ahead_within_leeway_is_accepted(browser, connected):
    """pylti1p3 alone refuses a token issued 5 s in the future; the default leeway is 60 s."""
    def tamper(header, claims):
        claims["iat"] = int(time.time()) + 45
        claims["exp"] = claims["iat"] + 300

    connected.platform.tamper_next_id_token(tamper)
    assert browser.get(connected.launch_url()).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"jwt_leeway_seconds": 5}])
def test_leeway_is_configurable(browser, connected, settings_overrides):
    def tamper(header, claims):
        claims["iat"] = int(time.time()) + 45
        claims["exp"] = claims["iat"] + 300

    connected.platform.tamper_next_id_token(tamper)
    response = browser.get(connected.launch_url())
    assert response.status_code == 401
    assert "5 s" in response.text


def test_deep_linking_launch_reaches_the_teacher_picker(browser, connected):
    response = browser.get(connected.platform.begin_launch(
        connected.client.client_id, connected.course.instructor, connected.course.context_id,
        message_type=c.MSG_DEEP_LINKING))
    assert response.status_code == 200, response.text[:300]
    assert 'data-testid="teacher-setup"' in response.text and "Add a speaking test" in response.text


@pytest.mark.parametrize("settings_overrides", [{"auto_approve_deployments": True}])
def test_auto_approval_lets_a_new_deployment_in(browser, connected, database, settings_overrides):
    new_deployment = connected.platform.add_deployment(connected.client.client_id)
    response = browser.get(connected.launch_url(deployment_id=new_deployment))
    assert response.status_code == 200, response.text[:300]


def test_login_by_post_and_per_registration_url(browser, connected):
    """Platforms may POST the login initiation, and may send only iss (the per-registration URL covers that)."""
    url = connected.launch_url()
    _path, query = url.split("?", 1)
    from urllib.parse import parse_qsl

    params = dict(parse_qsl(query))
    params.pop("client_id")
    per_registration = f"{connected.tool_url}/lti/login/{connected.registration.uuid}"
    response = browser.post(per_registration, data=params)
    assert response.status_code == 200, response.text[:300]
    assert LEARNER_PAGE in response.text


def test_state_cookie_is_scoped_and_http_only(browser, connected):
    response = browser.session.get(connected.launch_url(), allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Path=/lti/launch" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("settings_overrides", [{"base_url": "https://tool.example.org"}])
def test_state_cookie_over_https_is_partitioned_for_lms_iframes(app, connected, settings_overrides):
    """Behind a TLS proxy the launch runs in a third-party iframe: SameSite=None; Secure; Partitioned."""
    url = connected.launch_url().replace(connected.tool_url, "")
    response = app.test_client().get(url)
    cookie = response.headers["Set-Cookie"]
    for attribute in ("Secure", "SameSite=None", "Partitioned", "HttpOnly"):
        assert attribute in cookie
    assert response.headers["Location"].startswith(connected.platform.url("/auth"))
    assert "redirect_uri=https%3A%2F%2Ftool.example.org%2Flti%2Flaunch" in response.headers["Location"]
