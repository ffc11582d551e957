"""Launch and login values that PostgreSQL or a column cannot hold: display values are cleaned so the learner
still launches; ids are refused with a 400 that says why; nothing is half-stored."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from lti_tool.inputs import column_length
from lti_tool.lti.claims import Claim
from lti_tool.models import LtiContext
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiUser
from lti_tool.sandbox.platform import constants as c

LEARNER_PAGE = 'data-testid="learner-landing"'
NAME_LIMIT = column_length(LtiUser.name)


def _launch(browser, connected, tamper):
    connected.platform.tamper_next_id_token(tamper)
    return browser.get(connected.launch_url(sub=connected.course.learner, roles=[c.ROLE_LEARNER]))


def test_a_learner_whose_lms_name_holds_nul_and_controls_still_launches(browser, connected, database):
    def tamper(header, claims):
        claims.update(name="Ada\x00 Love\x07lace", given_name="Ada\x00", family_name="Love\x1flace",
                      email="ada\x00@example.edu")
        claims[Claim.CONTEXT]["title"] = "English\x00 B2"
    response = _launch(browser, connected, tamper)
    assert response.status_code == 200, response.text[:300]
    assert LEARNER_PAGE in response.text
    with database.session() as session:
        user = session.scalars(sa.select(LtiUser).where(LtiUser.sub == connected.course.learner)).one()
        assert (user.name, user.given_name, user.family_name, user.email) == \
               ("Ada Love lace", "Ada", "Love lace", "ada @example.edu")
        assert session.scalars(sa.select(LtiContext.title)).one() == "English B2"


def test_a_name_longer_than_its_column_is_cut_not_refused(browser, connected, database):
    response = _launch(browser, connected, lambda header, claims: claims.update(name="N" * (NAME_LIMIT + 50)))
    assert response.status_code == 200, response.text[:300]
    with database.session() as session:
        assert session.scalars(sa.select(LtiUser.name)).one() == "N" * NAME_LIMIT


def _set_link_id(value):
    def tamper(header, claims):
        claims[Claim.RESOURCE_LINK]["id"] = value
    return tamper


def _set_context_id(value):
    def tamper(header, claims):
        claims[Claim.CONTEXT]["id"] = value
    return tamper


@pytest.mark.parametrize(("tamper", "reason"), [
    pytest.param(_set_link_id("link\x00-1"), "resource link id contains control characters", id="nul-link-id"),
    pytest.param(_set_context_id("c" * 501), "context id is longer than 500", id="long-context-id"),
    pytest.param(_set_link_id("l" * 501), "resource link id is longer than 500", id="long-link-id"),
])
def test_an_id_that_cannot_be_stored_is_a_400_and_stores_nothing(browser, connected, database, tamper, reason):
    response = _launch(browser, connected, tamper)
    assert response.status_code == 400, response.text[:300]
    assert reason in response.text
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 0


@pytest.mark.parametrize("params", [
    pytest.param({"iss": "https://lms.example\x00", "login_hint": "x"}, id="nul-in-iss"),
    pytest.param({"iss": "https://lms.example", "login_hint": "x\x01"}, id="control-in-login-hint"),
    pytest.param({"iss": "https://lms.example/" + "i" * 3000, "login_hint": "x"}, id="very-long-iss"),
])
def test_login_values_with_control_characters_or_too_long_are_400(app, params):
    for method in ("get", "post"):
        client = app.test_client()
        response = client.get("/lti/login", query_string=params) if method == "get" else \
            client.post("/lti/login", data=params)
        assert response.status_code == 400, (method, response.status_code)


@pytest.mark.parametrize("path", ["/lti/attempt/%00", "/teacher/results/%00x", "/lti/attempt/a%01b",
                                  "/callbacks/%00"])
def test_control_characters_in_a_path_are_400(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 400
    assert "control characters" in response.get_data(as_text=True)


def test_a_header_value_http_cannot_carry_is_400(app, tool_server):
    response = app.test_client().post("/lti/register", headers={"registration_token": "tök€n"})
    assert response.status_code == 400
    plain = requests.get(f"{tool_server.url}/healthz", headers={"X-Test": "caf\xe9".encode().decode("latin-1")},
                         timeout=10)
    assert plain.status_code == 200  # latin-1 bytes are what HTTP carries: accepted


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"])
def test_control_characters_in_the_query_of_any_post_are_400(app, content_type):
    """Whatever the body is (a JSON callback's is not a form), the query is still checked."""
    response = app.test_client().post("/callbacks/speechace", query_string={"course": "1\x00"}, data=b"{}",
                                      content_type=content_type)
    assert response.status_code == 400
    assert "control characters" in response.get_data(as_text=True)
