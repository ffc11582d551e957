"""Registering the tool: LTI Dynamic Registration against the emulator, and the manual configuration pages."""

from __future__ import annotations

import html

import pytest
import requests
import sqlalchemy as sa

from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.sandbox.browser import FormBrowser


def _register(platform, tool_server) -> requests.Response:
    return FormBrowser().get(platform.begin_dynamic_registration(f"{tool_server.url}/lti/register"))


def test_dynamic_registration_round_trip(app, platform, tool_server, database):
    response = _register(platform, tool_server)
    assert response.status_code == 200, response.text[:500]
    assert 'data-testid="registration-done"' in response.text
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
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in registration.scopes
        deployment = session.scalars(sa.select(LtiDeployment)).one()
        assert deployment.deployment_id == client.deployment_id
        assert deployment.status == DeploymentStatus.PENDING  # the tool's admin has the last word
        deployment.status = DeploymentStatus.ACTIVE.value

    course = platform.add_default_course()
    launch = platform.begin_launch(client.client_id, course.learner, course.context_id, resource_link_id="r1")
    assert FormBrowser().get(launch).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"auto_approve_deployments": True}])
def test_dynamic_registration_with_auto_approval_activates_the_deployment(app, platform, tool_server, database,
                                                                          settings_overrides):
    assert _register(platform, tool_server).status_code == 200
    with database.session() as session:
        assert session.scalars(sa.select(LtiDeployment.status)).one() == DeploymentStatus.ACTIVE


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


def test_unreachable_configuration_gives_a_clear_page(app, tool_server):
    response = requests.get(f"{tool_server.url}/lti/register",
                            params={"openid_configuration": "http://127.0.0.1:9/nothing", "registration_token": "t"},
                            timeout=10)
    assert response.status_code == 502
    assert "Cannot reach" in html.unescape(response.text)


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
