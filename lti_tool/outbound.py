"""Fetching a URL that someone outside the tool chose: a dynamic registration's openid_configuration and
registration_endpoint, a platform's key-set URL.

Anyone may start a dynamic registration, so without a fence the tool would fetch whatever address a stranger
names — the database's port, a cloud metadata service, an admin page on the private network — and tell the
stranger what it found. :func:`fenced_request` refuses, before connecting, every address that is not a public
unicast one (checked on each address the host name resolves to, and again on every redirect, which it follows
itself), reads at most a small body, and reports every refusal as one :class:`BlockedUrl` whose message is for the
log only: callers show people one generic sentence, so the answer says nothing about the internal network.

Residual risk, accepted: requests resolves the host name again when it connects, so a DNS server that answers
with a public address to our check and a private one a moment later (DNS rebinding) could still steer one request.
Pinning the checked address would mean replacing requests' connection handling (and TLS host checks) for these
few calls; the fence's other parts (no body echoed, no port-state oracle, a small size limit) bound what such a
request can reveal.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

MAX_BODY_BYTES = 256 * 1024
MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}


class BlockedUrl(Exception):
    """The URL was not fetched, or its answer not read. The message is for the log, never for the caller."""


@dataclass(frozen=True)
class UrlFence:
    """What outbound URLs chosen by others may be.

    :param allow_private: also reach loopback and private addresses (development, the sandbox and tests, where
        every platform runs on this machine); never in production unless an admin says so.
    :param require_https: refuse plain http (production).
    """

    allow_private: bool = False
    require_https: bool = True

    def check(self, url: str) -> None:
        """:raise BlockedUrl: ``url`` is malformed, not https when required, or names a non-public address."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:  # a broken IPv6 literal, a port that is not a number
            raise BlockedUrl(f"malformed URL {url!r}: {exc}") from exc
        if parts.scheme not in {"http", "https"} or not host:
            raise BlockedUrl(f"not an http(s) URL: {url!r}")
        if self.require_https and parts.scheme != "https":
            raise BlockedUrl(f"not https: {url!r}")
        if self.allow_private:
            return
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
        except (OSError, UnicodeError) as exc:
            raise BlockedUrl(f"cannot resolve {host!r}: {exc}") from exc
        for address in addresses:
            ip = ipaddress.ip_address(str(address).split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise BlockedUrl(f"{host!r} resolves to the non-public address {ip}")


@dataclass(frozen=True)
class FetchedAnswer:
    """A fenced request's answer, its body read in full (and bounded)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The body as JSON. :raise ValueError: it is not JSON (or nests deeper than Python can parse)."""
        try:
            return json.loads(self.content)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def fenced_request(http: requests.Session, fence: UrlFence, method: str, url: str, *,
                   max_bytes: int = MAX_BODY_BYTES, **kwargs: Any) -> FetchedAnswer:
    """``http.request(method, url, ...)`` within ``fence``: each hop checked, redirects followed here (a 303, or
    a 301/302 answering a POST, turns into a GET as browsers do), the body read up to ``max_bytes``.

    :raise BlockedUrl: a hop was refused, too many redirects, the body is too large, or the request failed.
    """
    for _ in range(MAX_REDIRECTS + 1):
        fence.check(url)
        try:
            response = http.request(method, url, allow_redirects=False, stream=True, **kwargs)
        except (requests.RequestException, ValueError, UnicodeError) as exc:
            raise BlockedUrl(f"{method} {url} failed: {exc}") from exc
        if response.status_code not in _REDIRECTS or "Location" not in response.headers:
            return FetchedAnswer(response.status_code, CaseInsensitiveDict(response.headers),
                                 _read_bounded(response, max_bytes, url))
        response.close()
        url = urljoin(url, response.headers["Location"])
        if response.status_code == 303 or (response.status_code in {301, 302} and method == "POST"):
            method, kwargs = "GET", {key: value for key, value in kwargs.items() if key not in {"json", "data"}}
    raise BlockedUrl(f"more than {MAX_REDIRECTS} redirects, last to {url}")


def _read_bounded(response: requests.Response, max_bytes: int, url: str) -> bytes:
    body = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=16 * 1024):
            body.extend(chunk)
            if len(body) > max_bytes:
                raise BlockedUrl(f"the answer of {url} is larger than {max_bytes} bytes")
    except requests.RequestException as exc:
        raise BlockedUrl(f"reading the answer of {url} failed: {exc}") from exc
    finally:
        response.close()
    return bytes(body)
