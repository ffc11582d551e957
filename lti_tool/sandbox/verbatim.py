"""Provider-to-tool POSTs as the providers make them: the URL sent exactly as given, no redirects followed."""

from __future__ import annotations

from collections.abc import Mapping

import requests

TIMEOUT_SECONDS = 10.0


def post_verbatim(url: str, body: bytes, headers: Mapping[str, str]) -> requests.Response:
    prepared = requests.Request("POST", url, data=body, headers=dict(headers)).prepare()
    # requests re-quotes URLs (e.g. %41 becomes A); the tool may sign its query string, so send it as given.
    prepared.url = url
    with requests.Session() as session:
        # Session.send, unlike Session.request, ignores REQUESTS_CA_BUNDLE and the proxy variables: merge them, so
        # a callback reaches a tool behind a certificate the environment trusts (a deployment checked with a
        # private CA), as any other request of the emulators does.
        environment = session.merge_environment_settings(url, {}, None, None, None)
        # Redirects are not followed: a 30x is reported to the test as the tool's answer.
        return session.send(prepared, timeout=TIMEOUT_SECONDS, allow_redirects=False, **environment)
