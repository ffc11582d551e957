"""Where the tool's LTI endpoints live: the paths a platform is given at registration and sends browsers to."""

from __future__ import annotations

LTI_PREFIX = "/lti"
LOGIN_PATH = f"{LTI_PREFIX}/login"
LAUNCH_PATH = f"{LTI_PREFIX}/launch"
