"""Long-lived, per-process collaborators, built once by the app factory from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from flask import current_app

from lti_tool.activity_configs import ActivityConfigs
from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.grading import AccessTokens
from lti_tool.grading import AgsClient
from lti_tool.grading import PassbackWorker
from lti_tool.http import HttpSession
from lti_tool.lti.directory import PlatformDirectory
from lti_tool.lti.login_state import LoginStates
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.outbound import UrlFence
from lti_tool.providers import build_providers
from lti_tool.providers.interfaces import AssessmentProvider


@dataclass
class Services:
    settings: Settings
    database: Database
    http: HttpSession
    platform_keys: PlatformKeyCache
    providers: dict[str, AssessmentProvider]
    ags: AgsClient
    directory: PlatformDirectory
    login_states: LoginStates
    # What callbacks need of activities and assessments, kept as long as the directory's entries.
    callback_configs: ActivityConfigs
    # The in-process passback worker (embedded server only); web processes under gunicorn have none and the
    # separate `lti-tool worker` picks scores up at its next poll.
    passback: PassbackWorker | None = None
    # Where URLs chosen by others (dynamic registration, platform key sets) may lead.
    fence: UrlFence = field(default_factory=UrlFence)

    def wake_passback(self) -> None:
        """A callback queued a score: send it now instead of at the next poll."""
        if self.passback is not None:
            self.passback.wake()

    def configuration_changed(self) -> None:
        """An admin changed registrations, deployments, assessments or activities: forget what this process cached
        of them (other processes notice within ``LTI_TOOL_CONFIG_CACHE_SECONDS``)."""
        self.directory.clear()
        self.callback_configs.invalidate()

    @classmethod
    def from_settings(cls, settings: Settings, database: Database | None = None) -> Services:
        http = HttpSession(timeout=settings.http_timeout_seconds)
        fence = UrlFence(allow_private=settings.reaches_private_urls,
                         require_https=settings.env == "production" and not settings.allow_insecure_http)
        return cls(
            settings=settings,
            database=database or Database(settings.database_url),
            http=http,
            platform_keys=PlatformKeyCache(http, fence),
            providers=build_providers(http, settings),
            ags=AgsClient(http, AccessTokens(http)),
            directory=PlatformDirectory(settings.config_cache_seconds),
            login_states=LoginStates(settings.secret_key, settings.login_state_ttl_seconds),
            callback_configs=ActivityConfigs(settings.config_cache_seconds),
            fence=fence,
        )


def get_services() -> Services:
    services: Services = current_app.extensions["lti_tool.services"]
    return services
