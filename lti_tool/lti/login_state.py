"""Stateless OIDC login state: the ``state`` parameter is a signed, timed token and the nonce is derived from it.

The login writes nothing to the database. What the database kept before is now carried or derived:

- the login id, registration and login parameters travel inside the signed ``state`` (itsdangerous, HMAC-SHA256
  under the tool's secret key, with a timestamp checked against the login's lifetime);
- the nonce is an HMAC of the login id, so the launch recomputes it instead of looking it up;
- single use is enforced by the launch row, which stores the login id under a unique constraint
  (see :mod:`lti_tool.launch.rows`);
- the browser binding is a cookie named after the login id, holding the login id; or, when the platform offers
  platform storage (``lti_storage_target``), the state and nonce the login page stored in the platform's frame
  under keys named after the login id (see :func:`lti_tool.lti.launch.read_login_state`, static/lti-launch.js).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer

from lti_tool.lti.errors import OPEN_AGAIN
from lti_tool.lti.errors import LaunchError
from lti_tool.translatable import N_

STATE_COOKIE_PREFIX = "lti-tool-state-"
STORAGE_STATE_KEY_PREFIX = "lti-tool-state-"
STORAGE_NONCE_KEY_PREFIX = "lti-tool-nonce-"
# A state is a few hundred bytes; a larger one was not issued by us and is refused before any signature check.
MAX_STATE_LENGTH = 8 * 1024
EXPIRED_REASON = N_("This launch has expired or was already used. Open the activity again from the course page.")


@dataclass(frozen=True)
class LoginState:
    """One OIDC login in progress: what the launch needs to finish it."""

    login_id: str
    registration_id: int
    # The login request, to restart it in a new window when the browser blocks the state cookie.
    login_params: Mapping[str, str]
    # The platform-storage frame the login offered (lti_storage_target), or None: the launch may read the state
    # back from it when the cookie is missing.
    storage_target: str | None = None

    @property
    def cookie_name(self) -> str:
        return STATE_COOKIE_PREFIX + self.login_id

    @property
    def storage_state_key(self) -> str:
        return STORAGE_STATE_KEY_PREFIX + self.login_id

    @property
    def storage_nonce_key(self) -> str:
        return STORAGE_NONCE_KEY_PREFIX + self.login_id

    @classmethod
    def new(cls, registration_id: int, login_params: Mapping[str, str],
            storage_target: str | None = None) -> LoginState:
        return cls(login_id=secrets.token_urlsafe(16), registration_id=registration_id,
                   login_params=dict(login_params), storage_target=storage_target)


class LoginStates:
    """Issues and reads signed login states, and derives their nonces, under the tool's secret key."""

    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self.ttl_seconds = ttl_seconds
        self._serializer = URLSafeTimedSerializer(secret_key, salt="lti-tool.login-state",
                                                  signer_kwargs={"digest_method": hashlib.sha256})
        # A key of its own for nonces, so that a nonce can never be mistaken for a signature made elsewhere.
        self._nonce_key = hmac.new(secret_key.encode(), b"lti-tool.login-nonce", hashlib.sha256).digest()

    def issue(self, state: LoginState) -> str:
        """The signed ``state`` parameter sent to the platform."""
        payload: dict[str, Any] = {"l": state.login_id, "r": state.registration_id, "p": dict(state.login_params)}
        if state.storage_target:
            payload["t"] = state.storage_target
        token = str(self._serializer.dumps(payload))
        if len(token) > MAX_STATE_LENGTH:
            # Huge login hints: keep the login working and give up only the new-window retry they serve.
            token = str(self._serializer.dumps({**payload, "p": {}}))
        return token

    def read(self, token: str) -> LoginState:
        """The login a ``state`` parameter belongs to.

        :raise LaunchError: 400 for an oversized state; 401 for an expired, altered or foreign one.
        """
        if len(token) > MAX_STATE_LENGTH:
            raise LaunchError(400, N_("The launch's state parameter is larger than 8 KB."))
        try:
            payload: Any = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired as exc:
            raise _expired() from exc
        except BadSignature as exc:  # also what a token signed under another secret key gives
            raise _expired() from exc
        try:
            target = payload.get("t")
            return LoginState(login_id=str(payload["l"]), registration_id=int(payload["r"]),
                              login_params={str(k): str(v) for k, v in dict(payload["p"]).items()},
                              storage_target=str(target) if target else None)
        except (KeyError, TypeError, ValueError) as exc:  # signed by us, so only an older format gets here
            raise _expired() from exc

    def nonce(self, login_id: str) -> str:
        """The nonce sent to the platform for this login; the id_token must carry it back."""
        return hmac.new(self._nonce_key, login_id.encode(), hashlib.sha256).hexdigest()


def _expired() -> LaunchError:
    return LaunchError(401, EXPIRED_REASON, title=OPEN_AGAIN)
