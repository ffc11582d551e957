"""OIDC third-party initiated login (LTI 1.3 §5.1.1): remember a state and its nonce, send the browser to the
platform's authorization endpoint."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.launch import STATE_COOKIE_PREFIX
from lti_tool.models import LoginState
from lti_tool.models import LtiRegistration

# Parameters a platform sends to start a login; kept to restart it in a new window.
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: str
    ttl_seconds: int

    @property
    def cookie_name(self) -> str:
        return STATE_COOKIE_PREFIX + self.state


def start_login(session: orm.Session, params: Mapping[str, str], redirect_uri: str, ttl_seconds: int,
                registration_uuid: str | None = None) -> LoginRedirect:
    """Validate the login request, store state+nonce, and build the authorization request URL."""
    issuer = params.get("iss", "")
    if not issuer:
        raise LaunchError(400, "The login request has no issuer (iss). The LMS must send it.")
    if not params.get("login_hint"):
        raise LaunchError(400, "The login request has no login_hint. The LMS must send it.")
    registration = find_registration(session, issuer, params.get("client_id") or None, registration_uuid)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    session.execute(sa.insert(LoginState).values(
        state=state,
        nonce=nonce,
        registration_id=registration.id,
        login_params={key: params[key] for key in LOGIN_PARAMS if params.get(key)},
        expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds),
    ))
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": nonce,
        "login_hint": params["login_hint"],
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in registration.auth_login_url else "?"
    return LoginRedirect(url=registration.auth_login_url + separator + urlencode(query), state=state,
                         ttl_seconds=ttl_seconds)


def find_registration(session: orm.Session, issuer: str, client_id: str | None,
                      registration_uuid: str | None) -> LtiRegistration:
    query = sa.select(LtiRegistration).where(LtiRegistration.issuer == issuer)
    if registration_uuid:
        query = query.where(LtiRegistration.uuid == registration_uuid)
    if client_id:
        query = query.where(LtiRegistration.client_id == client_id)
    candidates = list(session.scalars(query.limit(2)))
    if not candidates:
        described = f"{issuer!r}" + (f" with client_id {client_id!r}" if client_id else "")
        raise LaunchError(400, f"This tool is not registered with the platform {described}. An LMS admin must "
                               "register it first (see the tool's admin guide).", title="Tool not registered")
    if len(candidates) > 1:
        raise LaunchError(400, f"Several registrations share the issuer {issuer!r} and the LMS sent no client_id. "
                               "Use the per-registration login URL shown on the tool's registration page.")
    registration = candidates[0]
    if not registration.is_active:
        raise LaunchError(403, "The tool's registration with this platform has been disabled by an admin.")
    return registration
