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


@pytest.mark.parametrize("length", [16, 31])
def test_production_refuses_a_secret_under_32_characters(tmp_path, length):
    with pytest.raises(ConfigError, match=f"too short .{length} characters.: use at least 32"):
        load_settings(environ={"LTI_TOOL_SECRET_KEY": "x" * length, "LTI_TOOL_DATA_DIR": str(tmp_path)})
    assert load_settings(environ={"LTI_TOOL_SECRET_KEY": "x" * 32, "LTI_TOOL_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize("base_url", ["http://localhost:8000", "http://127.0.0.1:5000", "http://[::1]:5000",
                                      "https://lti.school.org"])
def test_production_accepts_https_and_plain_http_on_this_machine(tmp_path, base_url):
    environ = {"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path), "LTI_TOOL_BASE_URL": base_url}
    assert load_settings(environ=environ).base_url == base_url


@pytest.mark.parametrize("base_url", ["http://lti.school.org", "http://10.0.0.5:8000", "http://localhost.evil.org"])
def test_production_refuses_plain_http_elsewhere_unless_allowed(tmp_path, base_url):
    environ = {"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path), "LTI_TOOL_BASE_URL": base_url}
    with pytest.raises(ConfigError, match="LTI_TOOL_BASE_URL is plain http"):
        load_settings(environ=environ)
    assert load_settings(environ={**environ, "LTI_TOOL_ALLOW_INSECURE_HTTP": "true"}).base_url == base_url
    assert load_settings(environ={**environ, "LTI_TOOL_ENV": "testing"}).base_url == base_url


def test_production_on_sqlite_warns_at_start_up(tmp_path, caplog):
    from lti_tool.config import startup_warnings

    environ = {"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path)}
    [warning] = startup_warnings(load_settings(environ=environ))
    assert "production is running on SQLite" in warning and "one process writes at a time" in warning
    assert startup_warnings(load_settings(environ={
        **environ, "LTI_TOOL_DATABASE_URL": "postgresql+psycopg://lti@db/lti"})) == []
    assert startup_warnings(load_settings(environ={**environ, "LTI_TOOL_ENV": "testing"})) == []
    with caplog.at_level("WARNING", logger="lti_tool"):
        create_app(load_settings(environ=environ))
    assert any("production is running on SQLite" in record.getMessage() for record in caplog.records)


def test_log_format_is_text_or_json(tmp_path):
    environ = {"LTI_TOOL_SECRET_KEY": "x" * 40, "LTI_TOOL_DATA_DIR": str(tmp_path)}
    assert load_settings(environ=environ).log_format == "text"
    assert load_settings(environ={**environ, "LTI_TOOL_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match="LTI_TOOL_LOG_FORMAT must be text or json"):
        load_settings(environ={**environ, "LTI_TOOL_LOG_FORMAT": "xml"})
