"""Speaking-test LTI 1.3 tool: embeds speaking tests (providers are plug-ins) in Moodle and Canvas, grades through AGS.

The package's face hands on nothing but its version: ``import lti_tool.db`` must not load the app, its views and
services. The app factory is :func:`lti_tool.app.create_app`.
"""

from __future__ import annotations

__version__ = "0.1.0"
