"""The platform's RSA signing keys, with rotation the way an LMS does it (old keys stay published a while)."""

from __future__ import annotations

import secrets
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey


class KeyRing:
    """Signing keys; the newest signs, all are published until retired. Private halves never leave here."""

    def __init__(self) -> None:
        self._keys: list[RSAKey] = []
        self.rotate()

    @property
    def current_kid(self) -> str:
        return str(self._keys[-1].kid)

    @property
    def kids(self) -> list[str]:
        return [str(key.kid) for key in self._keys]

    def rotate(self) -> str:
        # No "alg" parameter on the key itself so tamper tests may sign RS384/RS512 with it;
        # the published JWK still advertises RS256, which is what the platform really uses.
        key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig"}, private=True)
        self._keys.append(key)
        return str(key.kid)

    def retire_old_keys(self) -> None:
        self._keys = self._keys[-1:]

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [{**key.as_dict(private=False), "alg": "RS256", "use": "sig"} for key in self._keys]}

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """Sign with the key named by header["kid"] if ours, else with the current key (kid kept as given)."""
        key = self._find(header.get("kid")) or self._keys[-1]
        algorithm = str(header.get("alg", "RS256"))
        return jwt.encode(header, claims, key, algorithms=[algorithm])

    def _find(self, kid: object) -> RSAKey | None:
        return next((key for key in self._keys if key.kid == kid), None)
