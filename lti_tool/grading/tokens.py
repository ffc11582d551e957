"""OAuth 2 access tokens for a platform's services (AGS, NRPS), shared by every web and worker process.

The tool authenticates with the client-credentials grant and a ``private_key_jwt`` client assertion signed with its
own key (LTI Security Framework §4.1). Tokens are cached in the ``service_access_token`` table, keyed by registration
and scope set, so a fleet of processes asks the platform for one token per hour instead of one per score; each
:class:`AccessTokens` also remembers the tokens it used until they expire, so a score costs no database read for its
token. A token the platform refuses (401) is forgotten in memory and in the table; another process that still
remembers it gets its own 401 and does the same, then takes the new token from the table.

The cache is a unit of work of its own: it reads and writes the table in short transactions on its own session
(bound like the caller's), never inside the caller's transaction, and it asks the token endpoint with no
transaction open. So it never commits, rolls back or holds open the caller's work.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import sqlalchemy as sa
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey
from sqlalchemy import orm

from lti_tool.db import upsert
from lti_tool.db import utcnow
from lti_tool.http import HttpSession
from lti_tool.keys import SigningKey
from lti_tool.keys import signing_key
from lti_tool.models import LtiRegistration
from lti_tool.models import ServiceAccessToken

log = logging.getLogger(__name__)

# The assertion only has to survive the trip to the token endpoint; platforms refuse long-lived ones.
ASSERTION_LIFETIME_SECONDS = 300
# When a platform omits expires_in (RFC 6749 only recommends it), assume a short life: a spare request is cheap.
DEFAULT_TOKEN_LIFETIME_SECONDS = 600
MAX_SAFETY_MARGIN_SECONDS = 60
MAX_ERROR_TEXT = 500

# Process-wide, so that every AccessTokens instance (web app, worker threads) waits for one token request.
_LOCKS: dict[tuple[int, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class AccessTokenError(Exception):
    """The platform did not grant a token. ``status`` is None when it could not be reached at all."""

    def __init__(self, status: int | None, text: str, token_url: str, retry_after: str | None = None) -> None:
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"token request to {token_url} failed ({where}): {text}")
        self.status = status
        self.text = text
        self.token_url = token_url
        self.retry_after = retry_after  # the platform's Retry-After header, as sent


def scope_key(scopes: Iterable[str]) -> str:
    """The cache key of a scope set: sorted and space-joined, so the order callers list them in does not matter."""
    return " ".join(sorted(set(scopes)))


def usable_lifetime(expires_in: float) -> dt.timedelta:
    """How long to use a token: its lifetime minus a margin (10 %, at most 60 s) for clock skew and slow requests."""
    margin = min(MAX_SAFETY_MARGIN_SECONDS, expires_in * 0.1)
    return dt.timedelta(seconds=max(expires_in - margin, 0))


class AccessTokens:
    """Gets, caches and invalidates service access tokens.

    Database work goes through the caller's session. When :meth:`get` or :meth:`invalidate` is the one that opened
    the session's transaction, it also commits it: the new token is shared with other processes at once and the
    caller sends its HTTP request without holding a transaction. Inside a caller's transaction nothing is committed.
    """

    def __init__(self, http: HttpSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.http = http
        self.clock = clock
        self._remembered: dict[tuple[int, str], tuple[str, dt.datetime]] = {}

    def get(self, session: orm.Session, registration: LtiRegistration, scopes: Iterable[str]) -> str:
        """A live access token for ``scopes``, from memory, the shared cache, or freshly requested.

        :raise AccessTokenError: the token endpoint refused or could not be reached.
        """
        key = scope_key(scopes)
        remembered = self._remembered_token(registration.id, key)
        if remembered is not None:
            return remembered
        # One request per registration and scope set in this process; other processes may race us, harmlessly.
        with self._lock_for(registration.id, key):
            remembered = self._remembered_token(registration.id, key)  # another thread may have got one meanwhile
            if remembered is not None:
                return remembered
            with _own_unit_of_work(session) as own:
                cached = self._cached(own, registration.id, key)
                key_pair = signing_key(own) if cached is None else None
            if key_pair is not None:
                token, expires_in = self._request_token(registration, key, key_pair)
                with _own_unit_of_work(session) as own:
                    cached = token, self._store(own, registration.id, key, token, expires_in)
            assert cached is not None
            self._remembered[(registration.id, key)] = cached
            return cached[0]

    def invalidate(self, session: orm.Session, registration: LtiRegistration, scopes: Iterable[str],
                   token: str) -> None:
        """Forget ``token`` (the platform refused it). A newer token another process stored is kept."""
        key = (registration.id, scope_key(scopes))
        remembered = self._remembered.get(key)
        if remembered is not None and remembered[0] == token:
            self._remembered.pop(key, None)
        with _own_unit_of_work(session) as own:
            own.execute(sa.delete(ServiceAccessToken).where(
                ServiceAccessToken.registration_id == registration.id,
                ServiceAccessToken.scopes == scope_key(scopes),
                ServiceAccessToken.access_token == token,
            ))

    # --- cache -------------------------------------------------------------------------------------------
    def _remembered_token(self, registration_id: int, key: str) -> str | None:
        remembered = self._remembered.get((registration_id, key))
        if remembered is None or remembered[1] <= self.clock():
            return None
        return remembered[0]

    def _cached(self, session: orm.Session, registration_id: int, key: str) -> tuple[str, dt.datetime] | None:
        row = session.execute(sa.select(ServiceAccessToken.access_token, ServiceAccessToken.expires_at).where(
            ServiceAccessToken.registration_id == registration_id,
            ServiceAccessToken.scopes == key,
            ServiceAccessToken.expires_at > self.clock(),
        )).first()
        return None if row is None else (row[0], row[1])

    def _store(self, session: orm.Session, registration_id: int, key: str, token: str,
               expires_in: float) -> dt.datetime:
        expires_at = self.clock() + usable_lifetime(expires_in)
        upsert(session, ServiceAccessToken, ["registration_id", "scopes"], {
            "registration_id": registration_id,
            "scopes": key,
            "access_token": token,
            "expires_at": expires_at,
        })
        return expires_at

    @staticmethod
    def _lock_for(registration_id: int, key: str) -> threading.Lock:
        with _LOCKS_GUARD:
            return _LOCKS.setdefault((registration_id, key), threading.Lock())

    # --- token endpoint ----------------------------------------------------------------------------------
    def _request_token(self, registration: LtiRegistration, key: str, key_pair: SigningKey) -> tuple[str, float]:
        token_url = registration.auth_token_url
        client = OAuth2Client(session=self.http, client_id=registration.client_id)
        client.register_compliance_hook("access_token_response", lambda response: _refuse_errors(response, token_url))
        auth = OAuth2ClientAuth(registration.client_id, RSAKey.import_key(key_pair.private_key_pem),
                                _client_assertion(registration, key_pair.kid))
        try:
            granted: dict[str, Any] = client.fetch_token(token_url, grant_type="client_credentials", scope=key,
                                                         auth=auth)
        except AccessTokenError:
            raise
        except requests.RequestException as exc:
            raise AccessTokenError(None, _describe(exc), token_url) from exc
        except (AuthlibBaseError, ValueError) as exc:  # a 200 answer that is not a token: the platform's fault
            raise AccessTokenError(200, f"unusable token response: {exc}", token_url) from exc
        token = granted.get("access_token")
        if not isinstance(token, str) or not token:
            raise AccessTokenError(200, "the token response has no access_token", token_url)
        log.info("access token granted by %s for registration %s (%s), expires in %s s", token_url,
                 registration.id, key, granted.get("expires_in"))
        return token, _expires_in(granted)


def _client_assertion(registration: LtiRegistration, kid: str) -> PrivateKeyJWT:
    """A fresh authlib signer per request: it adds the ``jti`` into the claims dict it is given."""
    # Wall-clock time, not the injected clock: the platform checks iat/exp against its own clock.
    issued_at = int(time.time())
    claims = {"iat": issued_at, "exp": issued_at + ASSERTION_LIFETIME_SECONDS, "jti": secrets.token_urlsafe(24)}
    claims["aud"] = assertion_audience(registration)
    return PrivateKeyJWT(token_endpoint=registration.auth_token_url, claims=claims, headers={"kid": kid},
                         alg="RS256")


def assertion_audience(registration: LtiRegistration) -> str | list[str]:
    """The client assertion's ``aud``: the token endpoint, and beside it the platform's declared audience.

    Canvas's dynamic registration declares ``authorization_server`` as a bare host (``sso.canvaslms.com``) while
    its token endpoint accepts an assertion only if ``aud`` holds the endpoint's URL; Brightspace's audience is
    a URL of its own. A list satisfies every reading (RFC 7519: the token is for each of its audiences).
    """
    token_url = registration.auth_token_url
    declared = registration.auth_audience
    if not declared or declared == token_url:
        return token_url
    return [token_url, declared]


def _refuse_errors(response: requests.Response, token_url: str) -> requests.Response:
    """authlib turns error answers into exceptions without the status; keep the platform's own words."""
    if response.status_code != 200:
        raise AccessTokenError(response.status_code, error_text(response), token_url,
                               response.headers.get("Retry-After"))
    return response


def _expires_in(granted: dict[str, Any]) -> float:
    value = granted.get("expires_in")
    if isinstance(value, str) and value.isdigit():  # some platforms send a string
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return DEFAULT_TOKEN_LIFETIME_SECONDS
    return float(value)


def error_text(response: requests.Response) -> str:
    """The platform's answer, shortened and on one line, for logs and the people who read them."""
    text = " ".join(response.text.split())
    if not text:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "…"


def _describe(exc: requests.RequestException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT]


@contextmanager
def _own_unit_of_work(caller: orm.Session) -> Iterator[orm.Session]:
    """A short transaction of the cache's own, on a session bound like the caller's: committed at the end, rolled
    back on an error, whatever the caller's transaction is doing."""
    with orm.Session(bind=caller.get_bind(), expire_on_commit=False) as own, own.begin():
        yield own
