"""The tool's own RSA keys: created at ``lti-tool init``, rotated with an overlap, published as a JWKS.

Keys live in the database so that every web and worker process signs with the same key. ``kid`` is the
RFC 7638 thumbprint of the public key.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import RSAKey
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.models import ToolKey

KEY_SIZE = 2048


class NoSigningKeyError(RuntimeError):
    """The database holds no active key: ``lti-tool init`` was not run."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: RSAPrivateKey
    private_key_pem: str


def create_key(session: orm.Session) -> ToolKey:
    """Generate a key pair and store it as the active signing key."""
    generated = RSAKey.generate_key(KEY_SIZE)
    kid = generated.thumbprint()
    public_jwk = {**generated.as_dict(private=False), "kid": kid, "alg": "RS256", "use": "sig"}
    key = ToolKey(
        kid=kid,
        private_key_pem=generated.as_pem(private=True).decode(),
        public_jwk=public_jwk,
        is_active=True,
    )
    session.add(key)
    session.flush()
    return key


def ensure_key(session: orm.Session) -> ToolKey:
    """The active key, created when there is none (first ``init``)."""
    key = _newest_active(session)
    return key if key is not None else create_key(session)


def rotate_keys(session: orm.Session, overlap: dt.timedelta) -> ToolKey:
    """Start signing with a new key; keep the previous keys published for ``overlap``.

    Platforms that cached our JWKS still verify assertions signed just before the rotation, and a
    platform that sees the new ``kid`` fetches the JWKS again.
    """
    retire_at = utcnow() + overlap
    for old in session.scalars(sa.select(ToolKey).where(ToolKey.is_active.is_(True))):
        old.is_active = False
        old.publish_until = retire_at
    return create_key(session)


def published_jwks(session: orm.Session) -> dict[str, list[dict[str, Any]]]:
    """Public keys to publish: the active ones and the retired ones still inside their overlap."""
    now = utcnow()
    keys = session.scalars(
        sa.select(ToolKey)
        .where(sa.or_(ToolKey.is_active.is_(True), ToolKey.publish_until > now))
        .order_by(ToolKey.id.desc())
    )
    return {"keys": [dict(key.public_jwk) for key in keys]}


def purge_retired_keys(session: orm.Session) -> int:
    """Delete keys whose overlap has ended; they can no longer verify anything."""
    result = session.execute(
        sa.delete(ToolKey).where(ToolKey.is_active.is_(False), ToolKey.publish_until <= utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def signing_key(session: orm.Session) -> SigningKey:
    """The newest active key, parsed once per process (parsing a PEM costs more than signing)."""
    row = session.execute(
        sa.select(ToolKey.kid, ToolKey.private_key_pem)
        .where(ToolKey.is_active.is_(True))
        .order_by(ToolKey.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NoSigningKeyError("the tool has no signing key yet: run `lti-tool init`")
    return _parsed_key(row.kid, row.private_key_pem)


_parsed: dict[str, SigningKey] = {}
_parsed_lock = threading.Lock()


def _parsed_key(kid: str, pem: str) -> SigningKey:
    with _parsed_lock:
        cached = _parsed.get(kid)
        if cached is None:
            private_key = load_pem_private_key(pem.encode(), password=None)
            if not isinstance(private_key, RSAPrivateKey):
                raise TypeError(f"tool key {kid} is not an RSA key")
            cached = SigningKey(kid=kid, private_key=private_key, private_key_pem=pem)
            _parsed[kid] = cached
        return cached


def _newest_active(session: orm.Session) -> ToolKey | None:
    return session.scalars(
        sa.select(ToolKey).where(ToolKey.is_active.is_(True)).order_by(ToolKey.id.desc()).limit(1)
    ).first()
