"""LTI 1.3 platform emulator: an in-memory Moodle/Canvas stand-in served over real HTTP.

    server = LiveServer()                                   # reserves a port, so the URL is known
    platform = PlatformEmulator(issuer=server.url, base_url=server.url)
    server.start(create_platform_app(platform))
"""

from __future__ import annotations

from lti_tool.sandbox.platform import constants
from lti_tool.sandbox.platform.emulator import DefaultCourse
from lti_tool.sandbox.platform.emulator import PlatformEmulator
from lti_tool.sandbox.platform.launch import AuthorizationResult
from lti_tool.sandbox.platform.launch import IdTokenTamper
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import ToolClient
from lti_tool.sandbox.platform.views import create_platform_app
from lti_tool.sandbox.platform.views import create_platform_blueprint

__all__ = [
    "AuthorizationResult", "DefaultCourse", "IdTokenTamper", "PlatformEmulator", "PlatformError",
    "ToolClient", "constants", "create_platform_app", "create_platform_blueprint",
]
