"""OIDC third-party initiated login (LTI 1.3 §5.1.1): issue a signed state and its nonce, send the browser to the
platform's authorization endpoint. Nothing is written: see :mod:`lti_tool.lti.login_state`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode
from urllib.parse import urlsplit

from sqlalchemy import orm

from lti_tool.inputs import has_control
from lti_tool.lti.directory import PlatformDirectory
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.login_state import LoginState
from lti_tool.lti.login_state import LoginStates
from lti_tool.translatable import N_

# Parameters a platform sends to start a login; kept to restart it in a new window.
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")

MAX_PARAM_CHARS = 2000  # an issuer, a hint or a URL; the values are signed into the state, never stored
# A frame name (Canvas: "post_message_forwarding", Blackboard: "lti_storage_frame") or "_parent".
STORAGE_TARGET = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: LoginState
    ttl_seconds: int
    # The origin of the platform's OIDC authorization endpoint: platform-storage messages go to it only.
    platform_origin: str
    # The state and nonce sent to the platform (the login page stores them in platform storage when offered).
    state_token: str
    nonce: str

    @property
    def restart_query(self) -> str:
        """The login request again, without platform storage: what a new window starts with."""
        return urlencode(dict(self.state.login_params))


def start_login(session: orm.Session, directory: PlatformDirectory, login_states: LoginStates,
                params: Mapping[str, str], redirect_uri: str, registration_uuid: str | None = None) -> LoginRedirect:
    """Validate the login request and build the authorization request URL; the session is used only when the
    registration is not in the directory's cache."""
    for key in LOGIN_PARAMS:
        value = params.get(key, "")
        if has_control(value) or len(value) > MAX_PARAM_CHARS:
            raise LaunchError(400, N_("The login request's %(parameter)s holds control characters or is longer "
                                      "than %(limit)s characters."), parameter=key, limit=MAX_PARAM_CHARS)
    issuer = params.get("iss", "")
    if not issuer:
        raise LaunchError(400, N_("The login request has no issuer (iss). The LMS must send it."))
    if not params.get("login_hint"):
        raise LaunchError(400, N_("The login request has no login_hint. The LMS must send it."))
    storage_target = params.get("lti_storage_target") or None
    if storage_target is not None and not STORAGE_TARGET.fullmatch(storage_target):
        raise LaunchError(400, N_("The login request's lti_storage_target is not a frame name (letters, digits, "
                                  "'_', '.', '-'; at most 64 characters)."))
    registration = directory.registration(session, issuer, params.get("client_id") or None, registration_uuid)
    state = LoginState.new(registration.id, {key: params[key] for key in LOGIN_PARAMS if params.get(key)},
                           storage_target)
    state_token, nonce = login_states.issue(state), login_states.nonce(state.login_id)
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "state": state_token,
        "nonce": nonce,
        "login_hint": params["login_hint"],
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in registration.auth_login_url else "?"
    return LoginRedirect(url=registration.auth_login_url + separator + urlencode(query), state=state,
                         ttl_seconds=login_states.ttl_seconds, platform_origin=origin_of(registration.auth_login_url),
                         state_token=state_token, nonce=nonce)


def origin_of(url: str) -> str:
    """The origin a browser reports for pages at ``url`` (``event.origin``): lower case, no default port."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(scheme)
    port = "" if parts.port in (None, default_port) else f":{parts.port}"
    return f"{scheme}://{host}{port}"
