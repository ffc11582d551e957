"""Speechace emulator: placement tests shared by oEmbed link, embedded tests, score callbacks and reports.

    server = LiveServer()                                   # reserves a port, so the URL is known
    speechace = SpeechaceEmulator(base_url=server.url)
    server.start(create_speechace_app(speechace))
    test = speechace.add_assessment("Placement test")       # test.share_link is what a school pastes
"""

from __future__ import annotations

from lti_tool.sandbox.speechace.emulator import SpeechaceEmulator
from lti_tool.sandbox.speechace.models import SCORE_FIELDS
from lti_tool.sandbox.speechace.models import CallbackResult
from lti_tool.sandbox.speechace.models import Completion
from lti_tool.sandbox.speechace.models import OembedRequest
from lti_tool.sandbox.speechace.models import SpeechaceAssessment
from lti_tool.sandbox.speechace.models import SpeechaceError
from lti_tool.sandbox.speechace.models import TestSession
from lti_tool.sandbox.speechace.pages import COMPLETE_MESSAGE
from lti_tool.sandbox.speechace.reports import REPORT_ID_PATTERN
from lti_tool.sandbox.speechace.views import create_speechace_app
from lti_tool.sandbox.speechace.views import create_speechace_blueprint

__all__ = [
    "COMPLETE_MESSAGE", "REPORT_ID_PATTERN", "SCORE_FIELDS", "CallbackResult", "Completion", "OembedRequest",
    "SpeechaceAssessment", "SpeechaceEmulator", "SpeechaceError", "TestSession", "create_speechace_app",
    "create_speechace_blueprint",
]
