"""Platform public keys (JWKS): cached per URL, honouring ``Cache-Control: max-age``, re-fetched on an unknown kid.

pylti1p3 keeps a fetched key set until the process ends and never looks again when a platform rotates its
keys (Security Framework §6.4). This cache is a plain in-process cache: losing it costs one fetch.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import requests
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from lti_tool.outbound import BlockedUrl
from lti_tool.outbound import UrlFence
from lti_tool.outbound import fenced_request

DEFAULT_MAX_AGE = 300.0
MAX_MAX_AGE = 24 * 3600.0
# An attacker can put any kid in a token header; cap the re-fetches it can cause per key-set URL.
REFETCH_BUDGET = 10
REFETCH_WINDOW_SECONDS = 60.0


class PlatformKeyError(Exception):
    """The platform's key set cannot be fetched or holds no usable key for this token."""


@dataclass
class _CachedKeySet:
    keys: dict[str, RSAKey]
    expires_at: float
    refetches: deque[float] = field(default_factory=deque)


class PlatformKeyCache:
    def __init__(self, http: requests.Session, fence: UrlFence | None = None) -> None:
        self._http = http
        # Key-set URLs come from registrations, and a dynamic one was named by the platform itself.
        self._fence = fence or UrlFence()
        self._lock = threading.Lock()
        self._entries: dict[str, _CachedKeySet] = {}

    def get_key(self, key_set_url: str, kid: str) -> RSAKey:
        """The RS256 public key ``kid`` from the key set at ``key_set_url``.

        :raise PlatformKeyError: the key set cannot be fetched, or has no such key even after a re-fetch.
        """
        entry = self._entries.get(key_set_url)
        if entry is None or entry.expires_at < time.monotonic():
            entry = self._refresh(key_set_url, previous=entry)
        key = entry.keys.get(kid)
        if key is None and self._may_refetch(entry):
            entry = self._refresh(key_set_url, previous=entry)
            key = entry.keys.get(kid)
        if key is None:
            raise PlatformKeyError(f"the platform's key set at {key_set_url} has no RS256 key with kid {kid!r}")
        return key

    def keys_from_inline_set(self, key_set: dict[str, Any], kid: str) -> RSAKey:
        """For registrations that hold the platform's keys inline instead of a URL."""
        key = _parse_key_set(key_set).get(kid)
        if key is None:
            raise PlatformKeyError(f"the registration's key set has no RS256 key with kid {kid!r}")
        return key

    def _may_refetch(self, entry: _CachedKeySet) -> bool:
        now = time.monotonic()
        with self._lock:
            while entry.refetches and entry.refetches[0] < now - REFETCH_WINDOW_SECONDS:
                entry.refetches.popleft()
            if len(entry.refetches) >= REFETCH_BUDGET:
                return False
            entry.refetches.append(now)
            return True

    def _refresh(self, key_set_url: str, previous: _CachedKeySet | None) -> _CachedKeySet:
        try:
            response = fenced_request(self._http, self._fence, "GET", key_set_url,
                                      headers={"Accept": "application/json"})
            if not response.ok:
                raise PlatformKeyError(f"cannot fetch the platform's key set from {key_set_url}: HTTP "
                                       f"{response.status_code}")
            keys = _parse_key_set(response.json())
        except (BlockedUrl, ValueError) as exc:
            raise PlatformKeyError(f"cannot fetch the platform's key set from {key_set_url}: {exc}") from exc
        entry = _CachedKeySet(
            keys=keys,
            expires_at=time.monotonic() + _max_age(response.headers.get("Cache-Control")),
            refetches=previous.refetches if previous else deque(),
        )
        with self._lock:
            self._entries[key_set_url] = entry
        return entry


def _parse_key_set(key_set: Any) -> dict[str, RSAKey]:
    if not isinstance(key_set, dict) or not isinstance(key_set.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    keys: dict[str, RSAKey] = {}
    for jwk in key_set["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
            continue
        if jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[str(jwk["kid"])] = RSAKey.import_key(jwk)
        except (JoseError, ValueError, TypeError):
            continue  # one malformed key must not hide the others
    return keys


def _max_age(cache_control: str | None) -> float:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    if not match:
        return DEFAULT_MAX_AGE
    return min(float(match.group(1)), MAX_MAX_AGE)
