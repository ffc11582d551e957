"""Settings: LTI_TOOL_* variables, safe defaults, and refusing unsafe production configurations."""

from __future__ import annotations

import pytest

from lti_tool.app import create_app
from lti_tool.config import SETTINGS
from lti_tool.config import ConfigError
from lti_tool.config import describe_settings
from lti_tool.config import load_settings


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="LTI_TOOL_SECRET_KEY is not set"):
        load_settings(environ={"LTI_TOOL_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"data_dir": str(tmp_path)})


def test_production_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="too short"):
        load_settings(environ={"LTI_TOOL_SECRET_KEY": "short", "LTI_TOOL_DATA_DIR": str(tmp_path)})


def test_environment_variables_are_read_and_typed(tmp_path):
    settings = load_settings(environ={
        "LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_BASE_URL": "https://lti.school.org",
        "LTI_TOOL_AUTO_APPROVE_DEPLOYMENTS": "yes", "LTI_TOOL_JWT_LEEWAY_SECONDS": "30",
        "LTI_TOOL_DATA_DIR": str(tmp_path),
    })
    assert settings.auto_approve_deployments is True
    assert settings.jwt_leeway_seconds == 30
    assert settings.is_https
    assert settings.url("/lti/launch") == "https://lti.school.org/lti/launch"


def test_default_database_is_a_sqlite_file_in_the_data_directory(tmp_path):
    settings = load_settings(environ={"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/lti-tool.sqlite3"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("LTI_TOOL_AUTO_APPROVE_DEPLOYMENTS", "maybe", "LTI_TOOL_AUTO_APPROVE_DEPLOYMENTS"),
    ("LTI_TOOL_JWT_LEEWAY_SECONDS", "a minute", "LTI_TOOL_JWT_LEEWAY_SECONDS"),
    ("LTI_TOOL_ENV", "staging", "LTI_TOOL_ENV"),
    ("LTI_TOOL_BASE_URL", "lti.school.org", "LTI_TOOL_BASE_URL"),
    ("LTI_TOOL_CONFIG_CACHE_SECONDS", "-1", "LTI_TOOL_CONFIG_CACHE_SECONDS must be 0 or more"),
    ("LTI_TOOL_LAUNCH_TTL_SECONDS", "599", "LTI_TOOL_LAUNCH_TTL_SECONDS .599. must be at least"),
])
def test_bad_values_name_the_variable_to_fix(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path), name: value})


def test_config_cache_defaults_to_thirty_seconds_and_may_be_off(tmp_path):
    environ = {"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path)}
    assert load_settings(environ=environ).config_cache_seconds == 30
    assert load_settings(environ={**environ, "LTI_TOOL_CONFIG_CACHE_SECONDS": "0"}).config_cache_seconds == 0


def test_launch_may_not_outlive_less_than_the_login_state(tmp_path):
    """The launch row is what marks a login used: it must outlive the login's state."""
    environ = {"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path),
               "LTI_TOOL_LOGIN_STATE_TTL_SECONDS": "900", "LTI_TOOL_LAUNCH_TTL_SECONDS": "900"}
    assert load_settings(environ=environ).launch_ttl_seconds == 900
    with pytest.raises(ConfigError, match="LOGIN_STATE_TTL_SECONDS"):
        load_settings(environ={**environ, "LTI_TOOL_LAUNCH_TTL_SECONDS": "899"})


def test_development_generates_a_secret_and_keeps_it_across_restarts(tmp_path):
    environ = {"LTI_TOOL_ENV": "development", "LTI_TOOL_DATA_DIR": str(tmp_path)}
    first, second = load_settings(environ=environ), load_settings(environ=environ)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "development-secret-key").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_unknown_override_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"env": "testing", "colour": "blue"}, environ={})


def test_reference_lists_every_variable():
    reference = describe_settings()
    for setting in SETTINGS:
        assert f"LTI_TOOL_{setting.name}" in reference
