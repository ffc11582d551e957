"""Speaking-test LTI 1.3 tool: embeds Speechace and iTEP tests in Moodle and Canvas, grades through AGS."""

from __future__ import annotations

__version__ = "0.1.0"

from lti_tool.app import create_app

__all__ = ["__version__", "create_app"]
