"""OIDC third-party initiated login (LTI 1.3 §5.1.1): issue a signed state and its nonce, send the browser to the
platform's authorization endpoint. Nothing is written: see :mod:`lti_tool.lti.login_state`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import orm

from lti_tool.inputs import has_control
from lti_tool.lti.directory import PlatformDirectory
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.login_state import LoginState
from lti_tool.lti.login_state import LoginStates

# Parameters a platform sends to start a login; kept to restart it in a new window.
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")

MAX_PARAM_CHARS = 2000  # an issuer, a hint or a URL; the values are signed into the state, never stored


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: LoginState
    ttl_seconds: int


def start_login(session: orm.Session, directory: PlatformDirectory, login_states: LoginStates,
                params: Mapping[str, str], redirect_uri: str, registration_uuid: str | None = None) -> LoginRedirect:
    """Validate the login request and build the authorization request URL; the session is used only when the
    registration is not in the directory's cache."""
    for key in LOGIN_PARAMS:
        value = params.get(key, "")
        if has_control(value) or len(value) > MAX_PARAM_CHARS:
            raise LaunchError(400, f"The login request's {key} holds control characters or is longer than "
                                   f"{MAX_PARAM_CHARS} characters.")
    issuer = params.get("iss", "")
    if not issuer:
        raise LaunchError(400, "The login request has no issuer (iss). The LMS must send it.")
    if not params.get("login_hint"):
        raise LaunchError(400, "The login request has no login_hint. The LMS must send it.")
    registration = directory.registration(session, issuer, params.get("client_id") or None, registration_uuid)
    state = LoginState.new(registration.id, {key: params[key] for key in LOGIN_PARAMS if params.get(key)})
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "state": login_states.issue(state),
        "nonce": login_states.nonce(state.login_id),
        "login_hint": params["login_hint"],
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in registration.auth_login_url else "?"
    return LoginRedirect(url=registration.auth_login_url + separator + urlencode(query), state=state,
                         ttl_seconds=login_states.ttl_seconds)
