"""Key rotation on both sides: the platform rotates mid-life; the tool rotates with an overlap period."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import requests
import sqlalchemy as sa
from joserfc import jws
from joserfc import jwt
from joserfc.jwk import RSAKey

from lti_tool.db import utcnow
from lti_tool.keys import purge_retired_keys
from lti_tool.keys import rotate_keys
from lti_tool.keys import signing_key
from lti_tool.models import ToolKey
from lti_tool.sandbox.browser import FormBrowser


def test_platform_key_rotation_mid_life_is_followed(connected):
    assert FormBrowser().get(connected.launch_url()).status_code == 200  # the tool now caches the old key set
    new_kid = connected.platform.rotate_key()
    connected.platform.tamper_next_id_token(lambda header, claims: None)
    browser = FormBrowser()
    response = browser.get(connected.launch_url())
    assert response.status_code == 200, response.text[:300]
    connected.platform.retire_old_keys()
    assert FormBrowser().get(connected.launch_url()).status_code == 200
    assert new_kid in {key["kid"] for key in connected.platform.public_jwks()["keys"]}


def _client_assertion(connected, database) -> str:
    with database.session() as session:
        key = signing_key(session)
    now = int(time.time())
    claims = {"iss": connected.client.client_id, "sub": connected.client.client_id,
              "aud": connected.platform.url("/token"), "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, RSAKey.import_key(key.private_key_pem))


def _token_request(connected, assertion: str) -> requests.Response:
    return requests.post(connected.platform.url("/token"), data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    }, timeout=10)


def _published_kids(connected) -> set[str]:
    return {key["kid"] for key in requests.get(f"{connected.tool_url}/lti/jwks", timeout=10).json()["keys"]}


def test_tool_key_rotation_keeps_old_assertions_verifiable_during_the_overlap(connected, database):
    old_assertion = _client_assertion(connected, database)
    old_kid = jws.extract_compact(old_assertion.encode()).protected["kid"]
    with database.session() as session:
        new_key = rotate_keys(session, dt.timedelta(days=7))
    assert _published_kids(connected) == {old_kid, new_key.kid}
    # The platform verifies both: one signed before the rotation, one after.
    assert _token_request(connected, old_assertion).status_code == 200
    new_assertion = _client_assertion(connected, database)
    assert jws.extract_compact(new_assertion.encode()).protected["kid"] == new_key.kid
    assert _token_request(connected, new_assertion).status_code == 200


def test_tool_key_leaves_the_jwks_after_the_overlap(connected, database):
    old_assertion = _client_assertion(connected, database)
    old_kid = jws.extract_compact(old_assertion.encode()).protected["kid"]
    with database.session() as session:
        new_key = rotate_keys(session, dt.timedelta(days=7))
        session.execute(sa.update(ToolKey).where(ToolKey.kid == old_kid)
                        .values(publish_until=utcnow() - dt.timedelta(seconds=1)))
    assert _published_kids(connected) == {new_key.kid}
    with database.session() as session:
        assert purge_retired_keys(session) == 1
        assert session.scalars(sa.select(ToolKey.kid)).all() == [new_key.kid]


def test_jwks_publishes_only_public_material(connected):
    response = requests.get(f"{connected.tool_url}/lti/jwks", timeout=10)
    assert "max-age" in response.headers["Cache-Control"]
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
