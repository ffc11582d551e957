"""Which providers this installation offers: entry points of the group ``lti_tool.providers`` (a provider
package declares ``name = module:Class`` in its ``[options.entry_points]``), narrowed or extended by the setting
``LTI_TOOL_PROVIDERS``.

``LTI_TOOL_PROVIDERS`` is a comma-separated list; each item is an entry-point name or a ``module:Class`` path
(a module path alone names the module's ``PROVIDER``). Empty (the default): every installed provider. The
tool's own providers are also known by name when the package runs from a source tree without being installed
(no entry points then).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

import requests

from lti_tool.config import ConfigError
from lti_tool.config import Settings
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import ProviderContext

ENTRY_POINT_GROUP = "lti_tool.providers"
CALLBACK_PATH = "/callbacks/{name}"
# The providers this distribution ships, as setup.cfg declares them (used when no entry points are installed).
BUILT_IN = {"speechace": "lti_tool.providers.speechace:SpeechaceProvider",
            "itep": "lti_tool.providers.itep:ItepProvider"}


class UnknownProvider(ConfigError):
    """A name in LTI_TOOL_PROVIDERS is neither an installed provider nor an importable ``module:Class``."""


def installed() -> dict[str, str]:
    """Entry-point name → ``module:Class`` of every installed provider."""
    found = dict(BUILT_IN)
    found.update({point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)})
    return found


def provider_classes(selection: str = "") -> list[type[AssessmentProvider]]:
    """The provider classes ``selection`` (LTI_TOOL_PROVIDERS) names, in its order; all installed when empty.

    :raise UnknownProvider: an item names nothing importable, or two items share a provider name.
    """
    available = installed()
    items = [item.strip() for item in selection.split(",") if item.strip()] or list(available)
    classes: dict[str, type[AssessmentProvider]] = {}
    for item in items:
        cls = _load(available.get(item, item))
        if cls.name in classes and classes[cls.name] is not cls:
            raise UnknownProvider(f"LTI_TOOL_PROVIDERS: two providers are named {cls.name!r} ({item})")
        classes[cls.name] = cls
    return list(classes.values())


def _load(path: str) -> type[AssessmentProvider]:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        loaded: Any = getattr(module, attribute or "PROVIDER")
    except (ImportError, AttributeError, ValueError) as exc:
        raise UnknownProvider(f"LTI_TOOL_PROVIDERS: no provider {path!r}: not an installed provider's name "
                              f"(entry point group {ENTRY_POINT_GROUP}) nor an importable module:Class ({exc})") \
            from exc
    if not isinstance(getattr(loaded, "name", None), str) or not hasattr(loaded, "read_result"):
        raise UnknownProvider(f"LTI_TOOL_PROVIDERS: {path!r} is not a provider (no name, no read_result)")
    cls: type[AssessmentProvider] = loaded
    return cls


def build_providers(http: requests.Session, settings: Settings) -> dict[str, AssessmentProvider]:
    """One instance per provider ``settings.providers`` selects, sharing the tool's HTTP session.

    :raise UnknownProvider:"""
    return {cls.name: cls(ProviderContext(http=http, secret_key=settings.secret_key,
                                          callback_url=settings.url(CALLBACK_PATH.format(name=cls.name))))
            for cls in provider_classes(settings.providers)}


def labels(providers: Mapping[str, AssessmentProvider]) -> str:
    """The providers' labels as a phrase: "A", "A and B", "A, B and C"."""
    names = [provider.label for provider in providers.values()]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
