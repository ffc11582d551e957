"""The fence around URLs that others choose: refused before any connection, on every redirect, bounded in size."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
import requests

from lti_tool.outbound import MAX_BODY_BYTES
from lti_tool.outbound import BlockedUrl
from lti_tool.outbound import UrlFence
from lti_tool.outbound import fenced_request

STRICT = UrlFence(allow_private=False, require_https=False)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.1.2.3:5432/", "http://localhost:8080/", "http://[::1]/",
    "http://10.0.0.8/", "http://172.16.4.4/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/", "http://0.0.0.0/", "http://224.0.0.1/", "http://100.64.0.1/", "http://[::ffff:127.0.0.1]/",
])
def test_non_public_addresses_are_refused_before_connecting(url):
    with pytest.raises(BlockedUrl):
        STRICT.check(url)


@pytest.mark.parametrize("url", ["http://[::1", "http://host:port/", "file:///etc/passwd", "gopher://x/", "http:///x"])
def test_malformed_or_foreign_urls_are_refused(url):
    with pytest.raises(BlockedUrl):
        STRICT.check(url)


def test_public_literal_addresses_pass_and_https_can_be_required():
    STRICT.check("http://93.184.216.34/")  # checking resolves nothing and connects nowhere
    with pytest.raises(BlockedUrl, match="not https"):
        UrlFence(allow_private=True, require_https=True).check("http://93.184.216.34/")
    UrlFence(allow_private=True, require_https=True).check("https://93.184.216.34/")


class _Server:
    """A loopback server that counts requests per path: /redirect points at /secret, /big answers too much."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] = hits.get(self.path, 0) + 1
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/secret")
                    self.end_headers()
                    return
                body = b"x" * (MAX_BODY_BYTES + 10) if self.path == "/big" else b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    server = _Server()
    yield server
    server.stop()


class _FirstHopAllowed(UrlFence):
    """Stands for a public host (the name ``localhost``) whose redirect leads to an internal address."""

    def check(self, url: str) -> None:
        if url.startswith("http://localhost:"):
            return
        super().check(url)


def test_a_redirect_to_an_internal_address_is_refused_and_never_followed(server):
    fence = _FirstHopAllowed(allow_private=False, require_https=False)
    with pytest.raises(BlockedUrl, match="non-public"):
        fenced_request(requests.Session(), fence, "GET", f"http://localhost:{server.port}/redirect", timeout=5)
    assert server.hits == {"/redirect": 1}


def test_redirects_are_followed_within_the_fence(server):
    fence = UrlFence(allow_private=True, require_https=False)
    answer = fenced_request(requests.Session(), fence, "GET", f"http://127.0.0.1:{server.port}/redirect", timeout=5)
    assert answer.ok and answer.json() == {"ok": True}
    assert server.hits == {"/redirect": 1, "/secret": 1}


def test_an_answer_larger_than_the_limit_is_refused(server):
    fence = UrlFence(allow_private=True, require_https=False)
    with pytest.raises(BlockedUrl, match="larger than"):
        fenced_request(requests.Session(), fence, "GET", f"http://127.0.0.1:{server.port}/big", timeout=5)
