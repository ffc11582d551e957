"""Registering the tool: LTI Dynamic Registration against the emulator, and the manual configuration pages."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from lti_tool.db import utcnow
from lti_tool.lti import registration_approval
from lti_tool.lti.registration import LTI_TOOL_CONFIGURATION
from lti_tool.lti.registration import UNREADABLE_PLATFORM
from lti_tool.lti.registration import ToolUrls
from lti_tool.lti.registration import platform_name
from lti_tool.lti.registration import tool_registration_request
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import RegistrationInvitation
from lti_tool.models import ReviewStatus
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import create_platform_app


def _register(platform, tool_server) -> requests.Response:
    return FormBrowser().get(platform.begin_dynamic_registration(f"{tool_server.url}/lti/register"))


def _invite(database, expires=dt.timedelta(days=7)) -> str:
    with database.session() as session:
        return registration_approval.create_invitation(session, expires, created_by="test").token


def _launch_status(platform, client) -> requests.Response:
    course = platform.add_default_course()
    launch = platform.begin_launch(client.client_id, course.learner, course.context_id, resource_link_id="r1")
    return FormBrowser().get(launch)


def test_uninvited_registration_waits_for_the_tool_admin_then_launches(app, platform, tool_server, database):
    response = _register(platform, tool_server)
    assert response.status_code == 200, response.text[:500]
    assert 'data-testid="registration-done"' in response.text
    assert 'data-testid="registration-pending"' in response.text
    assert "org.imsglobal.lti.close" in response.text
    (client,) = platform.tools.values()
    assert client.oidc_initiation_url == f"{tool_server.url}/lti/login"
    assert client.redirect_uris == [f"{tool_server.url}/lti/launch"]
    assert client.jwks_uri == f"{tool_server.url}/lti/jwks"
    with database.session() as session:
        registration = session.scalars(sa.select(LtiRegistration)).one()
        assert (registration.issuer, registration.client_id) == (platform.issuer, client.client_id)
        assert registration.auth_token_url == platform.url("/token")
        assert registration.key_set_url == platform.url("/jwks")
        assert registration.registered_via == "dynamic"
        assert (registration.review_status, registration.is_active) == (ReviewStatus.PENDING, False)
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in registration.scopes
        deployment = session.scalars(sa.select(LtiDeployment)).one()
        assert deployment.deployment_id == client.deployment_id
        assert deployment.status == DeploymentStatus.PENDING
        registration_pk = registration.id

    refused = _launch_status(platform, client)
    assert refused.status_code == 403
    assert "waiting for the tool administrator" in html.unescape(refused.text).lower()

    with database.session() as session:
        registration_approval.review(session, registration_pk, approve=True)
    app.extensions["lti_tool.services"].configuration_changed()
    assert _launch_status(platform, client).status_code == 200
    with database.session() as session:
        assert session.scalars(sa.select(LtiDeployment.status)).one() == DeploymentStatus.ACTIVE


def test_a_rejected_registration_stays_refused(app, platform, tool_server, database):
    assert _register(platform, tool_server).status_code == 200
    (client,) = platform.tools.values()
    with database.session() as session:
        registration_approval.review(session, session.scalars(sa.select(LtiRegistration.id)).one(), approve=False)
    app.extensions["lti_tool.services"].configuration_changed()
    refused = _launch_status(platform, client)
    assert refused.status_code == 403
    assert "disabled" in html.unescape(refused.text)


@pytest.mark.parametrize("settings_overrides", [{"auto_approve_deployments": True}])
def test_auto_approval_does_not_approve_a_registration_nobody_invited(app, platform, tool_server, database,
                                                                      settings_overrides):
    assert _register(platform, tool_server).status_code == 200
    with database.session() as session:
        assert session.scalars(sa.select(LtiDeployment.status)).one() == DeploymentStatus.PENDING
        assert session.scalars(sa.select(LtiRegistration.is_active)).one() is False


def test_a_stranger_registering_again_replaces_its_pending_request(app, platform, tool_server, database):
    for _ in range(4):
        assert _register(platform, tool_server).status_code == 200
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiRegistration)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiDeployment)) == 1


def test_an_invitation_registers_active_at_once_and_only_once(app, platform, tool_server, database):
    token = _invite(database)
    url = f"{tool_server.url}/lti/register/invitation/{token}"
    first = FormBrowser().get(platform.begin_dynamic_registration(url))
    assert first.status_code == 200, first.text[:500]
    assert 'data-testid="registration-pending"' not in first.text
    (client,) = platform.tools.values()
    assert _launch_status(platform, client).status_code == 200
    again = FormBrowser().get(platform.begin_dynamic_registration(url))
    assert again.status_code == 403
    assert "already used" in html.unescape(again.text)
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiRegistration)) == 1
        invitation = session.scalars(sa.select(RegistrationInvitation)).one()
        assert invitation.used_at is not None and invitation.token_hash != token  # only its hash is kept


@pytest.mark.parametrize("token_kind", ["expired", "unknown"])
def test_an_expired_or_unknown_invitation_is_refused_before_the_platform_is_called(app, platform, tool_server,
                                                                                   database, token_kind):
    token = _invite(database, expires=dt.timedelta(seconds=1)) if token_kind == "expired" else "no-such-token"
    if token_kind == "expired":
        with database.session() as session:
            session.execute(sa.update(RegistrationInvitation).values(
                expires_at=utcnow() - dt.timedelta(minutes=1)))
    url = f"{tool_server.url}/lti/register/invitation/{token}"
    response = FormBrowser().get(platform.begin_dynamic_registration(url))
    assert response.status_code == 403
    assert not platform.tools
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiRegistration)) == 0


def test_reused_registration_token_is_refused_and_stores_nothing(app, platform, tool_server, database):
    url = platform.begin_dynamic_registration(f"{tool_server.url}/lti/register")
    assert FormBrowser().get(url).status_code == 200
    second = FormBrowser().get(url)
    assert second.status_code == 502
    assert "registration-error" in second.text and "401" in html.unescape(second.text)
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiRegistration)) == 1


def test_issuer_not_matching_the_configuration_url_is_refused(app, platform, tool_server, database):
    platform.issuer = "https://elsewhere.example"
    response = _register(platform, tool_server)
    assert response.status_code == 400
    assert "does not match" in html.unescape(response.text)
    assert not platform.tools
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiRegistration)) == 0


def test_unreachable_configuration_gives_one_generic_page(app, tool_server):
    response = requests.get(f"{tool_server.url}/lti/register",
                            params={"openid_configuration": "http://127.0.0.1:9/nothing", "registration_token": "t"},
                            timeout=10)
    assert response.status_code == 502
    assert UNREADABLE_PLATFORM in html.unescape(response.text)
    assert "127.0.0.1:9" not in html.unescape(response.text) and "refused" not in response.text.lower()


@pytest.mark.parametrize("url", ["http://[::1", "not a url", "ftp://example.org/x"])
def test_a_malformed_configuration_url_is_a_400(app, tool_server, url):
    response = requests.get(f"{tool_server.url}/lti/register",
                            params={"openid_configuration": url, "registration_token": "t"}, timeout=10)
    assert response.status_code == 400


@pytest.mark.parametrize("settings_overrides", [{"allow_private_urls": False}])
def test_with_private_urls_disallowed_the_emulated_lms_on_loopback_is_never_contacted(
        app, platform, tool_server, database, settings_overrides):
    response = _register(platform, tool_server)
    assert response.status_code == 502
    assert UNREADABLE_PLATFORM in html.unescape(response.text)
    assert not platform.tools
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiRegistration)) == 0


def test_register_without_parameters_explains_what_to_paste(app, tool_server):
    response = requests.get(f"{tool_server.url}/lti/register", timeout=10)
    assert response.status_code == 200
    assert f"{tool_server.url}/lti/register" in response.text


def test_canvas_developer_key_json(app, tool_server):
    config = requests.get(f"{tool_server.url}/lti/config/canvas.json", timeout=10).json()
    assert config["oidc_initiation_url"] == f"{tool_server.url}/lti/login"
    assert config["target_link_uri"] == f"{tool_server.url}/lti/launch"
    assert config["public_jwk_url"] == f"{tool_server.url}/lti/jwks"
    placements = {p["placement"]: p for p in config["extensions"][0]["settings"]["placements"]}
    assert set(placements) == {"assignment_selection", "link_selection"}
    assert all(p["message_type"] == "LtiDeepLinkingRequest" for p in placements.values())
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem" in config["scopes"]


def test_moodle_manual_values_page(app, tool_server):
    page = html.unescape(requests.get(f"{tool_server.url}/lti/config/moodle", timeout=10).text)
    for expected in (f"{tool_server.url}/lti/login", f"{tool_server.url}/lti/jwks", f"{tool_server.url}/lti/launch",
                     "grade sync and column management", "lti-tool register"):
        assert expected in page


# --- Canvas ---------------------------------------------------------------------------------------------------
def test_the_picker_comes_first_and_canvas_gets_its_placements_and_extensions():
    urls = ToolUrls("https://t/lti/login", "https://t/lti/launch", "https://t/lti/jwks", "https://t/lti/register",
                    "https://t/lti/config/canvas.json")
    moodle = tool_registration_request(urls, "moodle")[LTI_TOOL_CONFIGURATION]
    assert [message["type"] for message in moodle["messages"]] == ["LtiDeepLinkingRequest", "LtiResourceLinkRequest",
                                                                 "LtiSubmissionReviewRequest"]
    assert not any(name.startswith("https://canvas.instructure.com/") for name in moodle)
    canvas = tool_registration_request(urls, "canvas")[LTI_TOOL_CONFIGURATION]
    # Canvas keeps the first message per placement, and gives a message without placements link_selection.
    (picker,) = canvas["messages"]
    assert (picker["type"], picker["placements"]) == ("LtiDeepLinkingRequest", ["link_selection",
                                                                                "assignment_selection"])
    assert (picker["https://canvas.instructure.com/lti/launch_width"],
            picker["https://canvas.instructure.com/lti/launch_height"]) == (900, 700)
    assert canvas["https://canvas.instructure.com/lti/privacy_level"] == "public"
    assert canvas["https://canvas.instructure.com/lti/tool_id"] == "lti-speaking-tests"


@pytest.mark.parametrize(("configuration", "name"), [
    ({"product_family_code": "canvas", "https://canvas.instructure.com/lti/account_name": "  Northwind\nCollege "},
     "Northwind College"),
    ({"product_family_code": "canvas", "https://canvas.instructure.com/lti/account_name": ""}, "canvas"),
    ({"product_family_code": "moodle"}, "moodle"),
    ({}, None),
])
def test_a_canvas_school_is_named_by_its_account(configuration, name):
    assert platform_name(configuration) == name


@pytest.fixture
def canvas_platform(platform_server) -> PlatformEmulator:
    """Canvas whose configuration is served from its issuer's host and whose registration endpoint is the school's
    own domain (two host names for one server): as hosted Canvas does it."""
    issuer = platform_server.url.replace("127.0.0.1", "localhost")
    emulator = PlatformEmulator(issuer=issuer, base_url=platform_server.url, flavor="canvas")
    platform_server.start(create_platform_app(emulator))
    return emulator


@pytest.mark.parametrize("flavor", ["canvas", "moodle"])
def test_canvas_may_register_on_the_schools_domain_from_its_issuers_configuration(
        app, canvas_platform, tool_server, database, flavor):
    canvas_platform.flavor = flavor
    start = urlsplit(canvas_platform.begin_dynamic_registration(f"{tool_server.url}/lti/register"))
    params = {key: values[0] for key, values in parse_qs(start.query).items()}
    on_issuer_host = params["openid_configuration"].replace(canvas_platform.base_url, canvas_platform.issuer)
    response = FormBrowser().get(f"{tool_server.url}/lti/register?" + urlencode(
        {"openid_configuration": on_issuer_host, "registration_token": params["registration_token"]}))
    if flavor == "canvas":
        assert response.status_code == 200, response.text[:500]
        assert len(canvas_platform.tools) == 1
    else:  # anyone else must register where its configuration came from
        assert response.status_code == 400
        assert "not on the same site" in html.unescape(response.text)
        assert not canvas_platform.tools


def test_the_moodle_page_in_spanish_keeps_moodles_own_names_marked_as_english(app, tool_server):
    """Moodle's menu, field and button names stay as its screens show them, inside the reader's language, and say
    they are English (WCAG 3.1.2), so a screen reader reads them as English."""
    page = requests.get(f"{tool_server.url}/lti/config/moodle", headers={"Accept-Language": "es"}, timeout=10).text
    assert '<html lang="es"' in page
    for name in ("Tool URL", "Add LTI Advantage", "configure a tool manually", "View configuration details"):
        assert f'<span lang="en">{name}</span>' in page
    assert '<em lang="en">Site administration' in page and '<td lang="en">' in page
