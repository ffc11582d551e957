"""The platform JWKS cache: honours max-age, re-fetches once on an unknown kid, caps re-fetches."""

from __future__ import annotations

import pytest
import requests
import responses
from joserfc.jwk import RSAKey

from lti_tool.http import HttpSession
from lti_tool.lti.platform_keys import REFETCH_BUDGET
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.lti.platform_keys import PlatformKeyError
from lti_tool.outbound import UrlFence

URL = "https://lms.example/jwks"


def _jwk(kid: str) -> dict:
    return {**RSAKey.generate_key(2048).as_dict(private=False), "kid": kid, "alg": "RS256", "use": "sig"}


KEY_A, KEY_B = _jwk("a"), _jwk("b")


@pytest.fixture
def cache():
    return PlatformKeyCache(HttpSession(timeout=3), UrlFence(allow_private=True, require_https=False))


@responses.activate
def test_key_set_is_cached_for_its_max_age(cache):
    responses.get(URL, json={"keys": [KEY_A]}, headers={"Cache-Control": "max-age=600"})
    first, second = cache.get_key(URL, "a"), cache.get_key(URL, "a")
    assert first is second
    assert len(responses.calls) == 1
    assert responses.calls[0].request.headers["User-Agent"].startswith("lti-tool/")


@responses.activate
def test_unknown_kid_triggers_one_refetch(cache):
    responses.get(URL, json={"keys": [KEY_A]})
    responses.get(URL, json={"keys": [KEY_A, KEY_B]})
    cache.get_key(URL, "a")
    assert cache.get_key(URL, "b") is not None
    assert len(responses.calls) == 2


@responses.activate
def test_refetches_for_unknown_kids_are_capped(cache):
    responses.get(URL, json={"keys": [KEY_A]})
    cache.get_key(URL, "a")
    for attempt in range(REFETCH_BUDGET + 5):
        with pytest.raises(PlatformKeyError, match="no RS256 key"):
            cache.get_key(URL, f"forged-{attempt}")
    assert len(responses.calls) == 1 + REFETCH_BUDGET


@responses.activate
def test_malformed_and_non_signing_keys_are_skipped(cache):
    responses.get(URL, json={"keys": [{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
                                      {**KEY_B, "use": "enc"}, KEY_A]})
    assert cache.get_key(URL, "a") is not None
    with pytest.raises(PlatformKeyError):
        cache.get_key(URL, "b")


@responses.activate
@pytest.mark.parametrize("reply", [
    {"body": "<html>not json</html>"},
    {"status": 503},
    {"json": {"no": "keys"}},
    {"body": requests.ConnectTimeout("slow LMS")},
])
def test_unusable_key_set_is_a_clear_error(cache, reply):
    responses.get(URL, **reply)
    with pytest.raises(PlatformKeyError, match="cannot fetch"):
        cache.get_key(URL, "a")
