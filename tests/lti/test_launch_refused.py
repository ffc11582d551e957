"""Refused launches: the 1EdTech certification's known-bad payloads and the attacks the Security Framework names.

Each launch goes over HTTP: emulated LMS → tool login → LMS authorization → tool launch. The emulator's one-shot
tamper hook changes the id_token just before it is signed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from lti_tool.db import utcnow
from lti_tool.lti.claims import Claim
from lti_tool.maintenance import PURGE_GRACE
from lti_tool.maintenance import housekeeping
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.sandbox.browser import FormBrowser

LTI_CLAIM_PREFIX = "https://purl.imsglobal.org/spec/"


def launch(browser: FormBrowser, connected, tamper=None, **kwargs: Any) -> requests.Response:
    if tamper is not None:
        connected.platform.tamper_next_id_token(tamper)
    return browser.get(connected.launch_url(**kwargs))


def assert_refused(response: requests.Response, status: int, *reason_parts: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert 'data-testid="launch-error"' in response.text
    text = html.unescape(response.text)
    for part in reason_parts:
        assert part in text, f"{part!r} not in the error page"
    assert "Traceback" not in response.text


def no_launch_recorded(database) -> bool:
    with database.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- the certification suite's known-bad payloads -----------------------------------------------------------

def _drop_header(name):
    def tamper(header, claims):
        header.pop(name, None)
    return tamper


def _set_header(name, value):
    def tamper(header, claims):
        header[name] = value
    return tamper


def _set_claim(name, value):
    def tamper(header, claims):
        claims[name] = value
    return tamper


def _drop_claim(name):
    def tamper(header, claims):
        claims.pop(name, None)
    return tamper


def _drop_all_lti_claims(header, claims):
    for name in [name for name in claims if name.startswith(LTI_CLAIM_PREFIX)]:
        del claims[name]


def _drop_resource_link_id(header, claims):
    claims[Claim.RESOURCE_LINK] = {"title": "no id here"}


def _issued_in_the_future(header, claims):
    now = int(time.time())
    claims["iat"], claims["exp"] = now + 3600, now + 3900


def _expired(header, claims):
    now = int(time.time())
    claims["iat"], claims["exp"] = now - 3900, now - 3600


KNOWN_BAD = [
    pytest.param(_drop_header("kid"), 401, "no 'kid' header", id="no-kid"),
    pytest.param(_set_header("kid", "not-a-published-key"), 401, "no RS256 key with kid", id="wrong-kid"),
    pytest.param(_set_claim(Claim.VERSION, "1.2.0"), 400, "version", id="wrong-lti-version"),
    pytest.param(_drop_claim(Claim.VERSION), 400, "version", id="no-lti-version"),
    pytest.param(_set_claim(Claim.MESSAGE_TYPE, "LtiUnknownRequest"), 400, "does not handle", id="invalid-message"),
    pytest.param(_drop_all_lti_claims, 400, "message_type", id="missing-lti-claims"),
    pytest.param(_issued_in_the_future, 401, "issued in the future", id="iat-in-future"),
    pytest.param(_expired, 401, "expired", id="exp-in-past"),
    pytest.param(_drop_claim(Claim.MESSAGE_TYPE), 400, "no message_type", id="message-type-missing"),
    pytest.param(_drop_claim(Claim.ROLES), 400, "Roles", id="roles-missing"),
    pytest.param(_drop_claim(Claim.DEPLOYMENT_ID), 400, "deployment_id", id="deployment-id-missing"),
    pytest.param(_drop_resource_link_id, 400, "Resource Link", id="resource-link-id-missing"),
    pytest.param(_drop_claim("sub"), 400, "sub", id="sub-missing"),
    pytest.param(_set_claim("aud", "another-tool"), 401, "audience", id="wrong-aud"),
    pytest.param(_set_claim("azp", "another-tool"), 401, "azp", id="wrong-azp"),
    pytest.param(_set_claim("iss", "https://evil.example"), 401, "issuer", id="wrong-iss"),
    pytest.param(_drop_claim("nonce"), 401, "nonce", id="nonce-missing"),
    pytest.param(_set_claim("nonce", "made-up"), 401, "nonce", id="nonce-of-another-login"),
]


@pytest.mark.parametrize(("tamper", "status", "reason"), KNOWN_BAD)
def test_known_bad_payload_is_refused_with_its_reason(browser, connected, database, tamper, status, reason):
    response = launch(browser, connected, tamper)
    assert_refused(response, status, reason)
    assert no_launch_recorded(database)


def test_several_audiences_without_azp_are_refused(browser, connected, database):
    def tamper(header, claims):
        claims["aud"] = [connected.client.client_id, "someone-else"]
        claims.pop("azp", None)

    assert_refused(launch(browser, connected, tamper), 401, "azp")
    assert no_launch_recorded(database)


def test_alg_none_is_refused(browser, connected, database):
    def tamper(header, claims):
        unsigned_header = {**header, "alg": "none"}
        return f"{_b64(json.dumps(unsigned_header).encode())}.{_b64(json.dumps(claims).encode())}."

    assert_refused(launch(browser, connected, tamper), 401, "'none'", "RS256")
    assert no_launch_recorded(database)


def test_hs256_signed_with_the_platform_public_key_is_refused(browser, connected, database):
    """The classic key-confusion attack: HMAC with the public key as secret."""
    public_pem = _platform_public_pem(connected)

    def tamper(header, claims):
        forged_header = {**header, "alg": "HS256"}
        signing_input = f"{_b64(json.dumps(forged_header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    assert_refused(launch(browser, connected, tamper), 401, "'HS256'")
    assert no_launch_recorded(database)


def _platform_public_pem(connected) -> bytes:
    from joserfc.jwk import RSAKey

    jwk = connected.platform.public_jwks()["keys"][-1]
    return RSAKey.import_key(jwk).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_signature_by_another_key_with_the_platform_kid_is_refused(browser, connected, database):
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import RSAKey

    intruder = RSAKey.generate_key(2048)

    def tamper(header, claims):
        return jose_jwt.encode(header, claims, intruder, algorithms=["RS256"])

    assert_refused(launch(browser, connected, tamper), 401, "signature")
    assert no_launch_recorded(database)


# --- replay -------------------------------------------------------------------------------------------------

def _posted_launch(browser: FormBrowser) -> dict[str, str]:
    posts = [r for r in browser.history if r.request.method == "POST" and r.url.endswith("/lti/launch")]
    assert posts, "the browser never posted to the launch URL"
    body = posts[-1].request.body
    fields = parse_qs(body if isinstance(body, str) else body.decode())
    return {name: values[0] for name, values in fields.items()}


def test_replayed_id_token_is_refused(browser, connected, database):
    first = launch(browser, connected)
    assert first.status_code == 200, first.text[:300]
    posted = _posted_launch(browser)
    replay = browser.session.post(f"{connected.tool_url}/lti/launch", data=posted)
    assert_refused(replay, 401, "already used")
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 1


def test_old_id_token_with_a_fresh_state_is_refused(browser, connected, database):
    """An attacker who captured an id_token starts a new login to get a state: the nonce does not match."""
    assert launch(browser, connected).status_code == 200
    captured = _posted_launch(browser)
    attacker = FormBrowser()
    fresh_state = _start_login(attacker, connected)
    replay = attacker.session.post(f"{connected.tool_url}/lti/launch",
                                   data={"id_token": captured["id_token"], "state": fresh_state})
    assert_refused(replay, 401, "nonce")


def test_concurrent_replays_of_one_state_record_one_launch(connected, database):
    """Two posts of the same id_token+state racing each other: exactly one wins (single-use state)."""
    from concurrent.futures import ThreadPoolExecutor

    browser = FormBrowser()
    connected.platform.tamper_next_id_token(lambda header, claims: None)
    login = browser.session.get(connected.launch_url(), allow_redirects=True)
    form = _autosubmit_fields(login.text)
    url = f"{connected.tool_url}/lti/launch"
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: browser.session.post(url, data=form).status_code, range(4)))
    assert statuses.count(200) == 1, statuses
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 1


def _start_login(browser: FormBrowser, connected) -> str:
    """Do the tool's half of a login only; return the state it handed to the platform."""
    to_platform = browser.session.get(connected.launch_url(), allow_redirects=False)
    assert to_platform.status_code == 302, to_platform.text[:300]
    return parse_qs(to_platform.headers["Location"].split("?", 1)[1])["state"][0]


def _autosubmit_fields(html: str) -> dict[str, str]:
    from lti_tool.sandbox.browser import parse_forms

    forms = parse_forms(html)
    assert len(forms) == 1
    return forms[0].fields


# --- cookies, deployments, registrations -------------------------------------------------------------------

def test_launch_without_the_state_cookie_offers_a_new_window(connected, database):
    class CookieBlockingBrowser(FormBrowser):
        def _send(self, method, url, **kwargs):
            self.session.cookies.clear()
            return super()._send(method, url, **kwargs)

    response = CookieBlockingBrowser().get(connected.launch_url())
    assert_refused(response, 401, "new window")
    assert "/lti/login?" in response.text and 'target="_blank"' in response.text
    assert no_launch_recorded(database)


def test_unknown_deployment_is_recorded_pending_and_refused_until_approved(browser, connected, database):
    new_deployment = connected.platform.add_deployment(connected.client.client_id)
    response = launch(browser, connected, deployment_id=new_deployment)
    assert_refused(response, 403, "waiting for approval", new_deployment)
    with database.session() as session:
        deployment = session.scalars(sa.select(LtiDeployment).where(
            LtiDeployment.deployment_id == new_deployment)).one()
        assert deployment.status == DeploymentStatus.PENDING
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 0
        deployment.status = DeploymentStatus.ACTIVE.value
    assert launch(FormBrowser(), connected, deployment_id=new_deployment).status_code == 200


def test_disabled_deployment_is_refused(browser, connected, database):
    with database.session() as session:
        deployment = session.scalars(sa.select(LtiDeployment)).one()
        deployment.status = DeploymentStatus.DISABLED.value
    assert_refused(launch(browser, connected), 403, "disabled")


def test_unregistered_platform_is_told_to_register(browser, tool_server, app):
    response = browser.session.get(f"{tool_server.url}/lti/login",
                                   params={"iss": "https://unknown.example", "login_hint": "x", "client_id": "y"})
    assert_refused(response, 400, "not registered", "https://unknown.example")


def test_login_without_login_hint_is_refused(browser, connected):
    response = browser.session.get(f"{connected.tool_url}/lti/login", params={"iss": connected.platform.issuer})
    assert_refused(response, 400, "login_hint")


def test_launch_without_id_token_is_refused(browser, connected):
    assert_refused(browser.session.post(f"{connected.tool_url}/lti/launch", data={"state": "x"}), 400, "id_token")


def test_garbage_id_token_is_refused_without_stack_trace(browser, connected, database):
    assert launch(browser, connected).status_code == 200  # leaves a valid cookie jar
    state = _start_login(browser, connected)
    response = browser.session.post(f"{connected.tool_url}/lti/launch", data={"id_token": "not.a.jwt", "state": state})
    assert_refused(response, 400, "not a valid JWT")
    with database.session() as session:  # the refused launch did not use up the login
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiLaunch)) == 1


def test_refused_launch_stores_no_user(browser, connected, database):
    launch(browser, connected, _set_claim("iss", "https://evil.example"))
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiUser)) == 0


# --- stateless login: the signed state, its lifetime, and what the directory caches ------------------------------

def _authorized_form(browser: FormBrowser, connected, **kwargs: Any) -> dict[str, str]:
    """Log in and let the LMS authorize; return the form its page would post to the tool (not posted yet)."""
    page = browser.session.get(connected.launch_url(**kwargs), allow_redirects=True)
    assert page.status_code == 200, page.text[:300]
    return _autosubmit_fields(page.text)


def _post_launch(browser: FormBrowser, connected, form: dict[str, str]) -> requests.Response:
    return browser.session.post(f"{connected.tool_url}/lti/launch", data=form)


@pytest.mark.parametrize("alter", [
    pytest.param(lambda state: state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB"), id="signature"),
    pytest.param(lambda state: "e" + state[1:] if not state.startswith("e") else "f" + state[1:], id="payload"),
])
def test_an_altered_state_is_refused(browser, connected, database, alter):
    form = _authorized_form(browser, connected)
    response = _post_launch(browser, connected, {**form, "state": alter(form["state"])})
    assert_refused(response, 401, "expired or was already used")
    assert no_launch_recorded(database)


def test_the_state_of_another_login_is_refused(browser, connected, database):
    """A state is tied to its own nonce: the id_token of one login does not complete another."""
    first = _authorized_form(browser, connected)
    second = _authorized_form(browser, connected)
    response = _post_launch(browser, connected, {**first, "state": second["state"]})
    assert_refused(response, 401, "nonce")
    assert no_launch_recorded(database)


@pytest.mark.parametrize("settings_overrides", [{"login_state_ttl_seconds": 1}])
def test_an_expired_login_is_refused(browser, connected, database, settings_overrides):
    form = _authorized_form(browser, connected)
    time.sleep(2.1)  # itsdangerous counts whole seconds: the state is now at least 2 s old, over its 1 s
    assert_refused(_post_launch(browser, connected, form), 401, "expired or was already used")
    assert no_launch_recorded(database)


def _count(database, model) -> int:
    with database.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)))


def test_disabling_a_deployment_counts_at_once_though_the_process_cached_it(browser, connected, database):
    assert launch(browser, connected).status_code == 200  # the tool now holds the deployment as active
    with database.session() as session:
        session.execute(sa.update(LtiDeployment).values(status=DeploymentStatus.DISABLED.value))
    response = launch(FormBrowser(), connected, sub=connected.course.instructor)
    assert_refused(response, 403, "disabled deployment")
    assert (_count(database, LtiLaunch), _count(database, LtiUser)) == (1, 1)  # the refused write was rolled back


def test_disabling_a_registration_counts_at_once_though_the_process_cached_it(browser, connected, database):
    assert launch(browser, connected).status_code == 200  # the tool now holds the registration as active
    with database.session() as session:
        session.execute(sa.update(LtiRegistration).values(is_active=False))
    response = launch(FormBrowser(), connected, sub=connected.course.instructor)
    assert_refused(response, 403, "registration with this platform has been disabled")
    assert (_count(database, LtiLaunch), _count(database, LtiUser)) == (1, 1)
    # The refusal cleared the process's cache: the next login is refused at once, before the LMS is involved.
    login = FormBrowser().session.get(connected.launch_url(), allow_redirects=False)
    assert_refused(login, 403, "disabled")


def test_housekeeping_keeps_an_expired_launch_long_enough_to_refuse_its_replay(browser, connected, database):
    assert launch(browser, connected).status_code == 200
    posted = _posted_launch(browser)
    with database.session() as session:
        session.execute(sa.update(LtiLaunch).values(expires_at=utcnow() - dt.timedelta(minutes=5)))
    assert housekeeping(database)["launches"] == 0
    assert_refused(browser.session.post(f"{connected.tool_url}/lti/launch", data=posted), 401, "already used")
    with database.session() as session:
        session.execute(sa.update(LtiLaunch).values(expires_at=utcnow() - PURGE_GRACE - dt.timedelta(minutes=1)))
    assert housekeeping(database)["launches"] == 1
