"""Long-lived, per-process collaborators, built once by the app factory from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.http import HttpSession
from lti_tool.lti.platform_keys import PlatformKeyCache


@dataclass
class Services:
    settings: Settings
    database: Database
    http: HttpSession
    platform_keys: PlatformKeyCache

    @classmethod
    def from_settings(cls, settings: Settings, database: Database | None = None) -> Services:
        http = HttpSession(timeout=settings.http_timeout_seconds)
        return cls(
            settings=settings,
            database=database or Database(settings.database_url),
            http=http,
            platform_keys=PlatformKeyCache(http),
        )


def get_services() -> Services:
    services: Services = current_app.extensions["lti_tool.services"]
    return services
