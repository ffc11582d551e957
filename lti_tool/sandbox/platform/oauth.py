"""OAuth 2 client-credentials token endpoint with private_key_jwt client assertions, and bearer checks."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform.models import AccessToken
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import TokenRequest
from lti_tool.sandbox.platform.models import ToolClient
from lti_tool.sandbox.platform.state import PlatformState
from lti_tool.sandbox.platform.tool_keys import ToolJwtError
from lti_tool.sandbox.platform.tool_keys import check_lifetime
from lti_tool.sandbox.platform.tool_keys import unverified_parts


def _oauth_error(status: int, error: str, description: str) -> PlatformError:
    return PlatformError(status, description, error, kind="json")


def granted_scopes(tool: ToolClient) -> list[str]:
    scopes = list(tool.scopes)
    if not tool.can_manage_lineitems and c.SCOPE_LINEITEM in scopes:
        scopes.remove(c.SCOPE_LINEITEM)  # Moodle "grade sync only": no line item management.
    return scopes


class OAuthService:
    def __init__(self, state: PlatformState) -> None:
        self.state = state
        self._used_jtis: dict[str, float] = {}

    def issue_token(self, form: Mapping[str, str], content_type: str) -> dict[str, Any]:
        """Answer one token request; every request (good or bad) is recorded in state.token_requests."""
        requested = form.get("scope", "").split()
        record = TokenRequest(client_id=None, requested_scopes=requested, granted_scopes=[], status=200)
        try:
            token = self._issue(form, content_type, record)
        except PlatformError as exc:
            record.status = exc.status
            self.state.log(f"token request refused: {exc.error} {exc.description}")
            raise
        finally:
            self.state.record_token_request(record)
        return {"access_token": token.token, "token_type": "Bearer", "expires_in": self.state.token_lifetime,
                "scope": " ".join(token.scopes)}

    def _issue(self, form: Mapping[str, str], content_type: str, record: TokenRequest) -> AccessToken:
        if content_type != "application/x-www-form-urlencoded":
            raise _oauth_error(400, "invalid_request", "token requests must be form-urlencoded")
        if form.get("grant_type") != "client_credentials":
            raise _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        if form.get("client_assertion_type") != c.CLIENT_ASSERTION_TYPE or not form.get("client_assertion"):
            raise _oauth_error(400, "invalid_request", "a jwt-bearer client_assertion is required")
        tool = self._authenticated_client(form["client_assertion"], record)
        scopes = [scope for scope in record.requested_scopes if scope in granted_scopes(tool)]
        if not scopes:
            raise _oauth_error(400, "invalid_scope", "none of the requested scopes is granted to this tool")
        record.granted_scopes = scopes
        token = AccessToken(token=secrets.token_urlsafe(24), client_id=tool.client_id, scopes=scopes,
                            expires_at=self.state.now() + self.state.token_lifetime)
        with self.state.lock:
            self.state.access_tokens[token.token] = token
        self.state.log(f"access token issued to {tool.client_id}: {' '.join(scopes)}")
        return token

    def _authenticated_client(self, assertion: str, record: TokenRequest) -> ToolClient:
        try:
            _, unverified = unverified_parts(assertion)
        except ToolJwtError as exc:
            raise _oauth_error(400, "invalid_request", str(exc)) from exc
        client_id = str(unverified.get("sub", ""))
        record.client_id = client_id
        with self.state.lock:
            tool = self.state.tools.get(client_id)
        if tool is None:
            raise _oauth_error(401, "invalid_client", f"unknown client {client_id!r}")
        try:
            # Network fetch of the tool's JWKS happens outside the state lock.
            claims = self.state.tool_keys.verify(assertion, tool.jwks_uri)
            check_lifetime(claims, self.state.now())
        except ToolJwtError as exc:
            raise _oauth_error(401, "invalid_client", str(exc)) from exc
        self._check_assertion_claims(claims, client_id)
        return tool

    def _check_assertion_claims(self, claims: dict[str, Any], client_id: str) -> None:
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise _oauth_error(401, "invalid_client", "iss and sub must both be the client_id")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        # Canvas (lib/canvas/security/jwt_validator.rb) wants its token endpoint's URL in aud, whatever audience it
        # declared; other platforms here also take their issuer (Brightspace-style audiences).
        token_url = self.state.token_url
        accepted = {token_url} if self.state.flavor == "canvas" else {token_url, self.state.issuer}
        if not accepted & set(audiences):
            raise _oauth_error(401, "invalid_client", "the 'aud' is invalid" if self.state.flavor == "canvas"
                               else f"aud {audience!r} does not name the token endpoint")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _oauth_error(401, "invalid_client", "jti is required")
        with self.state.lock:
            now = self.state.now()
            self._used_jtis = {key: exp for key, exp in self._used_jtis.items() if exp > now - 60}
            if jti in self._used_jtis:
                raise _oauth_error(401, "invalid_client", "jti already used (replayed assertion)")
            self._used_jtis[jti] = float(claims["exp"])

    # --- resource-server side --------------------------------------------------------------------------
    def require_bearer(self, authorization: str | None, accepted_scopes: tuple[str, ...]) -> AccessToken:
        """The access token behind an Authorization header, if it is live and carries one accepted scope."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise PlatformError(401, "missing bearer token")
        with self.state.lock:
            token = self.state.access_tokens.get(value.strip())
        if token is None or token.expires_at <= self.state.now():
            raise PlatformError(401, "invalid or expired access token")
        if not set(accepted_scopes) & set(token.scopes):
            raise PlatformError(401, f"access token lacks scope: one of {' '.join(accepted_scopes)}")
        return token

    def expire_access_tokens(self) -> None:
        with self.state.lock:
            for token in self.state.access_tokens.values():
                token.expires_at = 0.0
