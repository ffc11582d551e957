"""The registry: every installed provider by default (entry points of ``lti_tool.providers``), or those
LTI_TOOL_PROVIDERS names — by entry-point name, ``module:Class`` or module path; a wrong name stops the start."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
import requests

from lti_tool.config import ConfigError
from lti_tool.config import load_settings
from lti_tool.http import HttpSession
from lti_tool.providers import registry
from lti_tool.providers.registry import ENTRY_POINT_GROUP
from lti_tool.providers.registry import UnknownProvider
from lti_tool.providers.registry import build_providers
from lti_tool.providers.registry import provider_classes
from tests.providers.echo_provider import EchoProvider

ECHO_POINT = EntryPoint(name="echo", value="tests.providers.echo_provider:EchoProvider", group=ENTRY_POINT_GROUP)


def names(selection: str = "") -> list[str]:
    return [cls.name for cls in provider_classes(selection)]


def test_setup_cfg_declares_the_tools_providers_as_entry_points():
    from importlib.metadata import entry_points

    declared = {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert declared == registry.BUILT_IN


def test_by_default_every_installed_provider(monkeypatch):
    monkeypatch.setattr(registry, "entry_points", lambda group: [ECHO_POINT] if group == ENTRY_POINT_GROUP else [])
    assert sorted(names()) == sorted([*registry.BUILT_IN, "echo"])


def test_the_setting_narrows_by_entry_point_name_or_adds_by_path(monkeypatch):
    monkeypatch.setattr(registry, "entry_points", lambda group: [ECHO_POINT])
    assert names("echo") == ["echo"]
    only = next(iter(registry.BUILT_IN))
    assert names(f" {only} ,") == [only]
    assert names("tests.providers.echo_provider") == ["echo"]  # a module path loads its PROVIDER
    assert provider_classes("tests.providers.echo_provider:EchoProvider") == [EchoProvider]


@pytest.mark.parametrize("selection", ["nobody", "tests.providers.echo_provider:Missing", "requests:Session",
                                       "no.such.module"])
def test_a_name_that_is_no_provider_stops_the_start_with_a_clear_message(selection):
    with pytest.raises(UnknownProvider, match="LTI_TOOL_PROVIDERS"):
        provider_classes(selection)
    settings = load_settings({"env": "testing", "providers": selection}, environ={})
    with pytest.raises(ConfigError):  # the app factory and the CLI report it as a configuration error
        build_providers(HttpSession(timeout=1), settings)


def test_the_setting_is_read_from_the_environment():
    settings = load_settings({"env": "testing"}, environ={"LTI_TOOL_PROVIDERS": "echo,other"})
    assert settings.providers == "echo,other"


def test_each_provider_gets_its_own_callback_route():
    settings = load_settings({"env": "testing", "base_url": "https://tool.example",
                              "providers": "tests.providers.echo_provider"}, environ={})
    [(name, provider)] = build_providers(requests.Session(), settings).items()
    assert name == "echo" and provider._callback_url == "https://tool.example/callbacks/echo"
