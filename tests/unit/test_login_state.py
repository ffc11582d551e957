"""Signed login states: round trip, tampering, expiry, size, and the nonce derived from the login id."""

from __future__ import annotations

import secrets
import time

import pytest
from itsdangerous import TimestampSigner

from lti_tool.lti.errors import LaunchError
from lti_tool.lti.login_state import MAX_STATE_LENGTH
from lti_tool.lti.login_state import LoginState
from lti_tool.lti.login_state import LoginStates

SECRET = "s" * 48


def _state(**params: str) -> LoginState:
    return LoginState.new(7, params or {"iss": "https://lms.example", "login_hint": "u1"})


def test_a_state_reads_back_as_issued():
    states = LoginStates(SECRET, ttl_seconds=600)
    state = _state()
    token = states.issue(state)
    assert states.read(token) == state
    assert state.login_id not in (states.nonce(state.login_id), token)


def test_every_login_gets_its_own_id():
    assert len({LoginState.new(1, {}).login_id for _ in range(50)}) == 50


def test_an_altered_state_is_refused():
    states = LoginStates(SECRET, ttl_seconds=600)
    token = states.issue(_state())
    _payload, timestamp, signature = token.rsplit(".", 2)
    forged_payload = LoginStates(SECRET, 600).issue(LoginState("attacker-login", 7, {})).rsplit(".", 2)[0]
    for altered in (f"{forged_payload}.{timestamp}.{signature}", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
                    "garbage", ""):
        with pytest.raises(LaunchError) as refused:
            states.read(altered)
        assert refused.value.status == 401
        assert "expired or was already used" in refused.value.reason


def test_a_state_signed_under_another_secret_is_refused():
    token = LoginStates("another secret " * 3, ttl_seconds=600).issue(_state())
    with pytest.raises(LaunchError) as refused:
        LoginStates(SECRET, ttl_seconds=600).read(token)
    assert refused.value.status == 401


def test_an_expired_state_is_refused(monkeypatch):
    states = LoginStates(SECRET, ttl_seconds=600)
    token = states.issue(_state())
    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 599)
    assert states.read(token).registration_id == 7
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 602)
    with pytest.raises(LaunchError) as refused:
        states.read(token)
    assert refused.value.status == 401
    assert refused.value.title == "Please open the activity again"


def test_an_oversized_state_is_refused_before_its_signature_is_checked():
    with pytest.raises(LaunchError) as refused:
        LoginStates(SECRET, ttl_seconds=600).read("a" * (MAX_STATE_LENGTH + 1))
    assert refused.value.status == 400


def test_huge_login_parameters_are_dropped_rather_than_issuing_a_state_the_launch_would_refuse():
    states = LoginStates(SECRET, ttl_seconds=600)
    state = _state(lti_message_hint=secrets.token_urlsafe(MAX_STATE_LENGTH))  # random: zlib cannot shrink it
    token = states.issue(state)
    assert len(token) <= MAX_STATE_LENGTH
    read = states.read(token)
    assert (read.login_id, read.login_params) == (state.login_id, {})


def test_the_nonce_differs_per_login_and_per_secret_and_is_stable():
    states = LoginStates(SECRET, ttl_seconds=600)
    assert states.nonce("a") == states.nonce("a") == LoginStates(SECRET, ttl_seconds=1).nonce("a")
    assert states.nonce("a") != states.nonce("b")
    assert states.nonce("a") != LoginStates("t" * 48, ttl_seconds=600).nonce("a")
    assert len(states.nonce("a")) == 64


def test_the_cookie_is_named_after_the_login():
    assert LoginState("abc", 1, {}).cookie_name == "lti-tool-state-abc"
