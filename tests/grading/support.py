"""Helpers shared by the grading tests."""

from __future__ import annotations

from lti_tool.http import HttpSession


class RecordingHttp(HttpSession):
    """Our HttpSession, remembering every response (and so each request as it went on the wire)."""

    def __init__(self, timeout: float = 5.0) -> None:
        super().__init__(timeout)
        self.responses: list = []
        self.hooks["response"].append(lambda response, *args, **kwargs: self.responses.append(response))
