"""Speaking-test providers behind one interface (:mod:`lti_tool.providers.interfaces`)."""

from __future__ import annotations

import requests

from lti_tool.config import Settings
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.itep import ItepProvider
from lti_tool.providers.signing import CallbackSigner
from lti_tool.providers.speechace import SpeechaceProvider


def build_providers(http: requests.Session, settings: Settings) -> dict[str, AssessmentProvider]:
    """One instance per provider name, sharing the tool's HTTP session."""
    return {
        SpeechaceProvider.name: SpeechaceProvider(http, CallbackSigner(settings.secret_key, SpeechaceProvider.name),
                                                  settings.url("/callbacks/speechace")),
        ItepProvider.name: ItepProvider(http),
    }
