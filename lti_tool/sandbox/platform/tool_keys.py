"""Verifying JWTs a tool signed (client assertions, deep-linking responses) with its published keys."""

from __future__ import annotations

import json
import threading
from typing import Any

import requests
from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey


class ToolJwtError(Exception):
    """The tool's JWT cannot be trusted; the message says why (callers pick the HTTP shape)."""


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims without checking the signature: only to find out who claims to have signed."""
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise ToolJwtError(f"malformed JWT: {exc}") from exc
    if not isinstance(claims, dict):
        raise ToolJwtError("JWT payload is not a JSON object")
    return dict(compact.headers()), claims


def check_lifetime(claims: dict[str, Any], now: float, leeway: int = 60) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, (int, float)) or exp < now - leeway:
        raise ToolJwtError("JWT is expired or has no exp")
    if iat is not None and (not isinstance(iat, (int, float)) or iat > now + leeway):
        raise ToolJwtError("JWT iat is in the future")


class ToolKeyCache:
    """Per-jwks_uri cache of tool key sets; an unknown kid triggers one re-fetch (the tool may rotate)."""

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self._timeout = timeout_seconds
        self._sets: dict[str, KeySet] = {}
        self._lock = threading.Lock()
        self.fetch_count = 0

    def verify(self, token: str, jwks_uri: str) -> dict[str, Any]:
        """Return the claims of an RS256 JWT signed by one of the keys published at jwks_uri."""
        header, _ = unverified_parts(token)
        if header.get("alg") != "RS256":
            raise ToolJwtError(f"alg {header.get('alg')!r} not allowed, RS256 required")
        kid = header.get("kid")
        candidates = (self._keys_for(jwks_uri, kid, refresh=False)
                      or self._keys_for(jwks_uri, kid, refresh=True))
        if not candidates:
            raise ToolJwtError(f"no key with kid {kid!r} at {jwks_uri}")
        for key in candidates:
            try:
                return dict(jwt.decode(token, key, algorithms=["RS256"]).claims)
            except JoseError:
                continue
        raise ToolJwtError("signature does not verify with the tool's published keys")

    def _keys_for(self, jwks_uri: str, kid: object, refresh: bool) -> list[RSAKey]:
        keyset = self._fetch(jwks_uri) if refresh else self._cached(jwks_uri)
        rsa_keys = [key for key in keyset.keys if isinstance(key, RSAKey)]
        return rsa_keys if kid is None else [key for key in rsa_keys if key.kid == kid]

    def _cached(self, jwks_uri: str) -> KeySet:
        with self._lock:
            cached = self._sets.get(jwks_uri)
        return cached if cached is not None else self._fetch(jwks_uri)

    def _fetch(self, jwks_uri: str) -> KeySet:
        # Fetched outside any emulator lock: the tool may be served by the same process.
        try:
            response = requests.get(jwks_uri, timeout=self._timeout)
            response.raise_for_status()
            keyset = KeySet.import_key_set(response.json())
        except (requests.RequestException, ValueError, JoseError) as exc:
            raise ToolJwtError(f"cannot fetch tool JWKS from {jwks_uri}: {exc}") from exc
        with self._lock:
            self._sets[jwks_uri] = keyset
            self.fetch_count += 1
        return keyset
