"""Long-lived, per-process collaborators, built once by the app factory from the settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from dataclasses import field

from flask import current_app

from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.http import HttpSession
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.providers import build_providers
from lti_tool.providers.interfaces import AssessmentProvider


@dataclass
class Services:
    settings: Settings
    database: Database
    http: HttpSession
    platform_keys: PlatformKeyCache
    providers: dict[str, AssessmentProvider]
    # Set after a callback queued a score, so an in-process worker sends it now instead of at its next poll.
    passback_wakeup: threading.Event = field(default_factory=threading.Event)

    def wake_passback(self) -> None:
        self.passback_wakeup.set()

    @classmethod
    def from_settings(cls, settings: Settings, database: Database | None = None) -> Services:
        http = HttpSession(timeout=settings.http_timeout_seconds)
        return cls(
            settings=settings,
            database=database or Database(settings.database_url),
            http=http,
            platform_keys=PlatformKeyCache(http),
            providers=build_providers(http, settings),
        )


def get_services() -> Services:
    services: Services = current_app.extensions["lti_tool.services"]
    return services
