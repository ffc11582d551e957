"""Launch validation to the letter of the 1EdTech Security Framework 1.0 §5.1.3.

joserfc verifies the token; pylti1p3's public message validators check the LTI message claims. pylti1p3's
``MessageLaunch`` is not used: its state, nonce, signature and registration steps are what this module replaces,
and overriding them meant reaching into its private attributes. What pylti1p3 lacks is added here: the signed
state and its derived nonce are bound together and to the browser, ``iat``/``exp`` get a configurable leeway,
``aud`` and ``azp`` are checked, only RS256 is accepted, and the platform's key set is re-fetched on an unknown
kid. Single use is enforced when the launch is recorded (:func:`lti_tool.launch.recording.record_launch`).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from pylti1p3.exception import LtiException
from pylti1p3.message_validators import get_validators
from sqlalchemy import orm

from lti_tool.lti.claims import SUPPORTED_MESSAGE_TYPES
from lti_tool.lti.claims import Claim
from lti_tool.lti.directory import ActiveRegistration
from lti_tool.lti.directory import PlatformDirectory
from lti_tool.lti.errors import OPEN_AGAIN
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.login_state import LoginState
from lti_tool.lti.login_state import LoginStates
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.lti.platform_keys import PlatformKeyError
from lti_tool.translatable import N_

MAX_ID_TOKEN_LENGTH = 64 * 1024
# One per message type (resource link, deep linking, privacy, submission review); they keep no state.
MESSAGE_VALIDATORS = tuple(get_validators())  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class LaunchInput:
    """What the browser posted to the launch URL, and the cookies it carried."""

    id_token: str
    state: str
    cookies: Mapping[str, str]
    # What the tool's launch page read back from platform storage (only the same-origin completion posts these).
    stored_state: str | None = None
    stored_nonce: str | None = None
    # An OIDC error response instead of an id_token (OpenID Connect Core §3.1.2.6: ``error``, ``error_description``),
    # e.g. Canvas's "launch_no_longer_valid" for a launch already consumed or expired.
    platform_error: str | None = None


@dataclass(frozen=True)
class ValidatedLaunch:
    registration: ActiveRegistration
    claims: dict[str, Any]
    login_state: LoginState

    @property
    def deployment_id(self) -> str:
        return str(self.claims[Claim.DEPLOYMENT_ID])

    @property
    def message_type(self) -> str:
        return str(self.claims[Claim.MESSAGE_TYPE])


def validated_claims(launch: LaunchInput, expected_nonce: str, registration: ActiveRegistration,
                     keys: PlatformKeyCache, leeway_seconds: int) -> dict[str, Any]:
    """The id_token's claims once its header, signature, standard claims, nonce and LTI message all check out."""
    header = _header(launch.id_token)
    try:
        claims: dict[str, Any] = jose_jwt.decode(launch.id_token, _public_key(header, registration, keys),
                                                 algorithms=["RS256"]).claims
    except BadSignatureError as exc:
        raise LaunchError(401, N_("The id_token's signature does not verify with the platform's published "
                                  "key.")) from exc
    except (JoseError, ValueError) as exc:
        raise LaunchError(401, N_("The id_token was refused: %(problem)s."), problem=str(exc)) from exc
    check_id_token_claims(claims, registration, leeway_seconds)
    _check_authorized_party(claims, registration.client_id)
    _check_nonce(claims, expected_nonce)
    check_message(claims)
    return claims


def _header(id_token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = dict(jws.extract_compact(id_token.encode()).protected)
    except (JoseError, ValueError) as exc:
        raise LaunchError(400, N_("The id_token is not a valid JWT: %(problem)s"), problem=str(exc)) from exc
    alg = header.get("alg")
    if alg != "RS256":
        raise LaunchError(401, N_("The id_token is signed with %(algorithm)s; LTI 1.3 requires RS256."),
                          algorithm=repr(alg))
    if not header.get("kid"):
        raise LaunchError(401, N_("The id_token has no 'kid' header, so the platform's signing key cannot be "
                                  "identified. The platform must sign with a key published in its JWKS."))
    return header


def _public_key(header: Mapping[str, Any], registration: ActiveRegistration, keys: PlatformKeyCache) -> RSAKey:
    kid = str(header["kid"])
    try:
        if registration.key_set_url:
            return keys.get_key(registration.key_set_url, kid)
        if registration.key_set:
            return keys.keys_from_inline_set(dict(registration.key_set), kid)
    except PlatformKeyError as exc:
        raise LaunchError(401, N_("The platform's signing key cannot be found: %(problem)s."),
                          problem=str(exc)) from exc
    raise LaunchError(401, N_("The registration has neither a key set URL nor keys; an admin must complete it."))


def _check_authorized_party(claims: Mapping[str, Any], client_id: str) -> None:
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise LaunchError(401, N_("The id_token has several audiences but no authorized party (azp)."))
    if azp is not None and azp != client_id:
        raise LaunchError(401, N_("The id_token's authorized party (azp) %(azp)s is not this tool's client_id."),
                          azp=repr(azp))


def _check_nonce(claims: Mapping[str, Any], expected_nonce: str) -> None:
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), expected_nonce.encode()):
        raise LaunchError(401, N_("The id_token's nonce does not belong to this login: the token was replayed "
                                  "or issued for another launch."))


def check_message(claims: dict[str, Any]) -> None:
    """The LTI message claims, by pylti1p3's public message validators (one per message type)."""
    message_type = claims.get(Claim.MESSAGE_TYPE)
    if not message_type:
        raise LaunchError(400, N_("The launch has no message_type claim."))
    if message_type not in SUPPORTED_MESSAGE_TYPES:
        raise LaunchError(400, N_("This tool does not handle %(message_type)s messages."),
                          message_type=repr(message_type))
    if not claims.get(Claim.DEPLOYMENT_ID):
        raise LaunchError(400, N_("The launch has no deployment_id claim."))
    validators = [validator for validator in MESSAGE_VALIDATORS if validator.can_validate(claims)]
    try:
        if len(validators) != 1 or not validators[0].validate(claims):
            raise LtiException(f"no single validator for {message_type}")
    except LtiException as exc:
        raise LaunchError(400, N_("The launch is missing required LTI data: %(problem)s."), problem=str(exc)) \
            from exc


def check_id_token_claims(claims: dict[str, Any], registration: ActiveRegistration, leeway: int) -> None:
    """Security Framework §5.1.3: issuer, audience, lifetime (with ``leeway`` seconds of clock skew), nonce."""
    for name in ("iss", "aud", "exp", "iat", "nonce"):
        if name not in claims:
            raise LaunchError(401, N_("The id_token lacks the required claim %(claim)s."), claim=repr(name))
    now = time.time()
    expires, issued = claims["exp"], claims["iat"]
    if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in (expires, issued)):
        raise LaunchError(401, N_("The id_token's exp and iat must be numbers (seconds since 1970)."))
    if expires < now - leeway:
        raise LaunchError(401, N_("The id_token has expired (exp). Check that the LMS server's clock is right, "
                                  "then open the activity again."))
    if issued > now + leeway:
        raise LaunchError(401, N_("The id_token was issued in the future (iat) by more than the allowed clock skew "
                                  "of %(leeway)s s. Check the LMS server's clock."), leeway=leeway)
    if claims["iss"] != registration.issuer:
        raise LaunchError(401, N_("The id_token's issuer (iss) is not %(issuer)s, the platform this login started "
                                  "with."), issuer=repr(registration.issuer))
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if registration.client_id not in audiences:
        raise LaunchError(401, N_("The id_token's audience (aud) does not contain this tool's client_id "
                                  "%(client_id)s on this platform."), client_id=repr(registration.client_id))


class StateCookieMissing(LaunchError):
    """The browser did not send the state cookie back: the launch must be bound another way (platform storage, or
    a new window)."""

    def __init__(self, login_state: LoginState) -> None:
        super().__init__(
            401,
            N_("Your browser did not send back the cookie this tool set a moment ago, so the launch cannot be tied "
               "to you. This happens when the browser blocks cookies inside the course page. Open the activity in "
               "a new window to continue."),
            title=N_("Open the activity in a new window"),
            retry_query=urlencode(dict(login_state.login_params)) if login_state.login_params else None,
        )
        self.login_state = login_state


def read_login_state(login_states: LoginStates, launch: LaunchInput) -> LoginState:
    """The login this launch completes, bound to this browser: by the state cookie, or by the state and nonce the
    login page stored in the platform's storage frame and the launch page read back.

    :raise StateCookieMissing: neither binding holds.
    """
    if not launch.id_token and launch.platform_error:
        raise LaunchError(400, N_("The LMS refused this launch: %(error)s. Open the activity again from the course "
                                  "page."), title=OPEN_AGAIN, error=launch.platform_error)
    if not launch.id_token:
        raise LaunchError(400, N_("The launch request has no id_token. The LMS must post it to this URL."))
    if len(launch.id_token) > MAX_ID_TOKEN_LENGTH:
        raise LaunchError(400, N_("The id_token is larger than 64 KB."))
    if not launch.state:
        raise LaunchError(400, N_("The launch request has no state parameter."))
    login_state = login_states.read(launch.state)
    cookie = launch.cookies.get(login_state.cookie_name, "")
    if hmac.compare_digest(cookie.encode(), login_state.login_id.encode()):
        return login_state
    if launch.stored_state is not None or launch.stored_nonce is not None:
        if login_state.storage_target is None:
            raise LaunchError(401, N_("This launch did not start with platform storage, so it cannot be "
                                      "completed from it. Open the activity again from the course page."))
        state_matches = hmac.compare_digest((launch.stored_state or "").encode(), launch.state.encode())
        nonce_matches = hmac.compare_digest((launch.stored_nonce or "").encode(),
                                            login_states.nonce(login_state.login_id).encode())
        if not (state_matches and nonce_matches):
            raise LaunchError(401, N_("The LMS's storage does not hold this launch's state and nonce, so the "
                                      "launch cannot be tied to you. Open the activity again from the course page."),
                              title=OPEN_AGAIN)
        return login_state
    raise StateCookieMissing(login_state)


def validate_launch(session: orm.Session, directory: PlatformDirectory, login_states: LoginStates,
                    launch: LaunchInput, keys: PlatformKeyCache, leeway_seconds: int) -> ValidatedLaunch:
    """Check everything about an incoming id_token; raise :class:`LaunchError` with the reason if anything fails.

    The login is not marked used here: :func:`lti_tool.launch.recording.record_launch` does that with the statement that
    records the launch, so two concurrent replays cannot both succeed.
    """
    login_state = read_login_state(login_states, launch)
    registration = directory.registration_by_id(session, login_state.registration_id)
    claims = validated_claims(launch, login_states.nonce(login_state.login_id), registration, keys, leeway_seconds)
    return ValidatedLaunch(registration=registration, claims=claims, login_state=login_state)
