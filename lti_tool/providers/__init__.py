"""Speaking-test providers behind one interface (:mod:`lti_tool.providers.interfaces`), found through the registry
(:mod:`lti_tool.providers.registry`). Nothing outside a provider's own modules and the registry names a provider."""

from __future__ import annotations

from lti_tool.providers.registry import build_providers

__all__ = ["build_providers"]
