"""Outbound HTTP: every request the tool makes carries our User-Agent and a timeout.

Canvas refuses API calls without a User-Agent; a request without a timeout can hang a worker forever.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from lti_tool import __version__

USER_AGENT = f"lti-tool/{__version__} (+https://github.com/lti-tool/lti-tool)"


def quiet_url_logging() -> None:
    """urllib3 logs every request's full URL at DEBUG, and provider URLs carry secrets (a provider key):
    keep it at INFO whatever level the admin picks."""
    logger = logging.getLogger("urllib3")
    logger.setLevel(max(logging.INFO, logger.level))


class HttpSession(requests.Session):
    """A ``requests.Session`` whose requests default to ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)
