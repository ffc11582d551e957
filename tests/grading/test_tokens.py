"""Service access tokens: client assertions, the shared database cache, expiry and errors, against the emulator."""

from __future__ import annotations

import datetime as dt
import threading
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import RSAKey

from lti_tool.db import Database
from lti_tool.grading import AccessTokenError
from lti_tool.grading import AccessTokens
from lti_tool.grading.tokens import scope_key
from lti_tool.grading.tokens import usable_lifetime
from lti_tool.http import USER_AGENT
from lti_tool.http import HttpSession
from lti_tool.models import ServiceAccessToken
from lti_tool.models import ToolKey
from tests.grading.support import RecordingHttp

SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


def get_token(tokens, database, registration, scopes=(SCORE,)):
    with database.sessionmaker() as session:
        return tokens.get(session, registration, scopes)


def decoded_assertion(database, response):
    form = dict(parse_qsl(response.request.body))
    with database.session() as session:
        public_jwk = session.scalars(sa.select(ToolKey.public_jwk)).one()
    return form, jwt.decode(form["client_assertion"], RSAKey.import_key(public_jwk), algorithms=["RS256"])


def test_token_request_is_a_form_post_with_a_signed_client_assertion(connected, database):
    http = RecordingHttp()
    token = get_token(AccessTokens(http), database, connected.registration)

    [response] = http.responses
    assert response.request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert response.request.headers["User-Agent"] == USER_AGENT
    form, assertion = decoded_assertion(database, response)
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == SCORE
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    with database.session() as session:
        assert assertion.header["kid"] == session.scalars(sa.select(ToolKey.kid)).one()
    assert assertion.header["alg"] == "RS256"
    claims = assertion.claims
    client_id = connected.registration.client_id
    assert (claims["iss"], claims["sub"], claims["aud"]) == (client_id, client_id, connected.platform.url("/token"))
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["jti"]
    assert token in connected.platform.access_tokens


def test_every_assertion_has_a_new_jti(connected, database):
    http = RecordingHttp()
    tokens = AccessTokens(http)
    first = get_token(tokens, database, connected.registration)
    with database.sessionmaker() as session:
        tokens.invalidate(session, connected.registration, [SCORE], first)
    assert get_token(tokens, database, connected.registration) != first
    jtis = {decoded_assertion(database, response)[1].claims["jti"] for response in http.responses}
    assert len(jtis) == 2  # the emulator refuses a replayed jti, as real platforms do


def test_a_declared_audience_goes_beside_the_token_url_in_aud(connected, database):
    http = RecordingHttp()
    registration = connected.registration
    registration.auth_audience = connected.platform.issuer  # Brightspace-style: the audience is not the token URL
    assert get_token(AccessTokens(http), database, registration)
    assert decoded_assertion(database, http.responses[0])[1].claims["aud"] == [
        connected.platform.url("/token"), connected.platform.issuer]


def test_canvas_bare_host_authorization_server_still_gets_a_token(connected, database):
    """Canvas declares authorization_server as a bare host and refuses an aud without its token endpoint URL."""
    connected.platform.flavor = "canvas"
    http = RecordingHttp()
    registration = connected.registration
    registration.auth_audience = "sso.canvaslms.com"
    assert get_token(AccessTokens(http), database, registration)
    assert decoded_assertion(database, http.responses[0])[1].claims["aud"] == [
        connected.platform.url("/token"), "sso.canvaslms.com"]


def test_tokens_are_cached_per_registration_and_scope_set(connected, database, clock):
    tokens = AccessTokens(HttpSession(5.0), clock=clock)
    both = get_token(tokens, database, connected.registration, [SCORE, LINEITEM])
    assert get_token(tokens, database, connected.registration, [LINEITEM, SCORE, LINEITEM]) == both
    assert get_token(tokens, database, connected.registration, [SCORE]) != both
    assert len(connected.platform.token_requests) == 2
    with database.session() as session:
        rows = {row.scopes: row.expires_at for row in session.scalars(sa.select(ServiceAccessToken))}
    assert rows == {" ".join(sorted([SCORE, LINEITEM])): clock.now + dt.timedelta(seconds=3540),
                    SCORE: clock.now + dt.timedelta(seconds=3540)}


def test_the_cache_is_shared_by_processes(connected, database):
    other_process = Database(database.url)
    try:
        first = get_token(AccessTokens(HttpSession(5.0)), database, connected.registration)
        assert get_token(AccessTokens(HttpSession(5.0)), other_process, connected.registration) == first
    finally:
        other_process.dispose()
    assert len(connected.platform.token_requests) == 1


def test_a_token_is_replaced_before_it_expires(connected, database, clock):
    connected.platform.token_lifetime = 100
    tokens = AccessTokens(HttpSession(5.0), clock=clock)
    first = get_token(tokens, database, connected.registration)
    clock.advance(89)
    assert get_token(tokens, database, connected.registration) == first
    clock.advance(2)  # inside the 10 s safety margin
    assert get_token(tokens, database, connected.registration) != first
    assert len(connected.platform.token_requests) == 2


def test_invalidate_forgets_only_the_refused_token(connected, database):
    tokens = AccessTokens(HttpSession(5.0))
    first = get_token(tokens, database, connected.registration)
    with database.sessionmaker() as session:
        tokens.invalidate(session, connected.registration, [SCORE], "a-token-someone-else-replaced")
    assert get_token(tokens, database, connected.registration) == first
    with database.sessionmaker() as session:
        tokens.invalidate(session, connected.registration, [SCORE], first)
    assert get_token(tokens, database, connected.registration) != first
    assert len(connected.platform.token_requests) == 2


def test_concurrent_requests_in_a_process_share_one_token_request(connected, database):
    connected.platform.delay_seconds = 0.3  # keep the first request in flight while the others arrive
    results: list[str] = []
    start = threading.Barrier(6)

    def fetch() -> None:
        start.wait()
        results.append(get_token(AccessTokens(HttpSession(5.0)), database, connected.registration))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 6 and len(set(results)) == 1
    assert len(connected.platform.token_requests) == 1


def test_a_token_got_in_its_own_transaction_is_committed(connected, database):
    tokens = AccessTokens(HttpSession(5.0))
    with database.sessionmaker() as session:
        tokens.get(session, connected.registration, [SCORE])
        assert not session.in_transaction()  # nothing held open during the caller's HTTP request
    with database.session() as other:
        assert other.scalar(sa.select(sa.func.count()).select_from(ServiceAccessToken)) == 1


def test_the_cache_is_its_own_unit_of_work_and_leaves_the_callers_transaction_alone(connected, database):
    """The cache neither commits nor rolls back the caller's work: it stores the token in a transaction of its own,
    and the caller's rollback does not take the token with it."""
    tokens = AccessTokens(HttpSession(5.0))
    with database.sessionmaker() as session, session.begin():
        session.execute(sa.select(sa.func.count()).select_from(ServiceAccessToken))  # the caller's open transaction
        transaction = session.get_transaction()
        tokens.get(session, connected.registration, [SCORE])
        assert session.get_transaction() is transaction and transaction is not None and transaction.is_active
        session.rollback()
    with database.session() as other:
        assert other.scalar(sa.select(sa.func.count()).select_from(ServiceAccessToken)) == 1


@pytest.mark.parametrize(("status", "body", "expected"), [
    (500, "down for maintenance", "down for maintenance"),
    (400, '{"error": "invalid_scope"}', "invalid_scope"),
    (200, "<html>please log in</html>", "unusable token response"),
])
def test_token_endpoint_errors_keep_status_and_text(connected, database, status, body, expected):
    connected.platform.fail_next("/token", status, body=body)
    with pytest.raises(AccessTokenError) as raised:
        get_token(AccessTokens(HttpSession(5.0)), database, connected.registration)
    assert raised.value.status == status
    assert expected in str(raised.value)
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ServiceAccessToken)) == 0


def test_an_unknown_client_is_reported_with_the_platforms_words(connected, database):
    connected.registration.client_id = "not-registered-here"
    with pytest.raises(AccessTokenError) as raised:
        get_token(AccessTokens(HttpSession(5.0)), database, connected.registration)
    assert raised.value.status == 401
    assert "invalid_client" in raised.value.text


def test_an_unreachable_token_endpoint_has_no_status(connected, database):
    connected.registration.auth_token_url = "http://127.0.0.1:9/token"  # discard port: connection refused
    with pytest.raises(AccessTokenError) as raised:
        get_token(AccessTokens(HttpSession(2.0)), database, connected.registration)
    assert raised.value.status is None
    assert "ConnectionError" in raised.value.text


def test_scope_key_and_usable_lifetime():
    assert scope_key([SCORE, LINEITEM, SCORE]) == f"{LINEITEM} {SCORE}"
    assert usable_lifetime(3600) == dt.timedelta(seconds=3540)
    assert usable_lifetime(100) == dt.timedelta(seconds=90)
    assert usable_lifetime(5) == dt.timedelta(seconds=4.5)
