"""The admin command line, run as an admin would: LTI_TOOL_* variables, then `lti-tool <command>`."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from lti_tool.cli import main
from lti_tool.db import Database
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import ToolKey


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    return result


def test_every_command_has_help():
    for command in ([], ["init"], ["serve"], ["worker"], ["register"], ["demo"], ["keys", "rotate"],
                    ["deployments", "approve"], ["config"], ["db", "upgrade"], ["doctor"]):
        result = run(*command, "--help")
        assert result.exit_code == 0, (command, result.output)
        assert "Usage:" in result.output


def test_init_is_idempotent(env):
    first, second = run("init"), run("init")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    with env.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ToolKey)) == 1


def test_register_approve_disable(env):
    result = run("register", "--issuer", "https://moodle.school.org", "--client-id", "abc",
                 "--auth-login-url", "https://moodle.school.org/mod/lti/auth.php",
                 "--auth-token-url", "https://moodle.school.org/mod/lti/token.php",
                 "--key-set-url", "https://moodle.school.org/mod/lti/certs.php", "--deployment-id", "7")
    assert result.exit_code == 0, result.output
    assert "client_id=abc" in result.output
    listing = run("deployments", "list")
    assert "active\thttps://moodle.school.org\tabc\t7" in listing.output
    with env.session() as session:
        deployment_pk = session.scalars(sa.select(LtiDeployment.id)).one()
    assert run("deployments", "disable", str(deployment_pk)).exit_code == 0
    with env.session() as session:
        assert session.get(LtiDeployment, deployment_pk).status == DeploymentStatus.DISABLED
    assert run("deployments", "approve", str(deployment_pk)).exit_code == 0
    missing = run("deployments", "approve", "999")
    assert missing.exit_code != 0 and "no deployment 999" in missing.output


def test_register_refuses_a_non_url(env):
    result = run("register", "--issuer", "https://m.example", "--client-id", "abc", "--auth-login-url", "auth.php",
                 "--auth-token-url", "https://m.example/t", "--key-set-url", "https://m.example/k")
    assert result.exit_code != 0
    assert "not an http(s) URL" in result.output


def test_keys_rotate_and_list_show_no_private_material(env):
    assert run("keys", "rotate", "--overlap-days", "3").exit_code == 0
    listing = run("keys", "list")
    assert "signing" in listing.output and "published until" in listing.output
    assert "PRIVATE" not in listing.output


def test_worker_once_purges_and_exits(env):
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output


def test_demo_refuses_to_run_outside_development(env, monkeypatch):
    monkeypatch.setenv("LTI_TOOL_ENV", "production")
    monkeypatch.setenv("LTI_TOOL_SECRET_KEY", "x" * 40)
    result = run("demo")
    assert result.exit_code != 0
    assert "only with LTI_TOOL_ENV=development" in result.output


def test_config_lists_the_variables():
    result = run("config")
    assert "LTI_TOOL_DATABASE_URL" in result.output and "LTI_TOOL_SECRET_KEY" in result.output


def test_bad_configuration_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LTI_TOOL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LTI_TOOL_SECRET_KEY", raising=False)
    monkeypatch.delenv("LTI_TOOL_ENV", raising=False)
    result = run("init")
    assert result.exit_code != 0
    assert "LTI_TOOL_SECRET_KEY is not set" in result.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_database_helper_sees_postgres_or_sqlite(env: Database):
    assert env.engine.dialect.name in {"sqlite", "postgresql"}


def test_itep_account_and_assessment(env):
    result = CliRunner().invoke(main, ["itep-account", "add", "--name", "School", "--tracking-code", "RC",
                                       "--signature-encoding", "base64"], input="api-key-123\nhook-secret-456\n")
    assert result.exit_code == 0, result.output
    assert "api-key-123" not in result.output and "hook-secret-456" not in result.output
    assert "/callbacks/itep?account=1" in result.output and "tracking code RC" in result.output
    added = run("assessment", "add", "--provider", "itep", "--title", "Placement", "--account", "1",
                "--product-code", "GTX-Academic-Plus")
    assert added.exit_code == 0, added.output
    missing = run("assessment", "add", "--provider", "itep", "--title", "X", "--product-code", "GTX-A")
    assert missing.exit_code != 0 and "--account" in missing.output
    listing = run("assessment", "list")
    assert "itep\tPlacement" in listing.output


def test_speechace_assessment_key_is_never_printed(env):
    link = "https://speak.speechace.co/embed/oembed?url=https%3A%2F%2Fspeak.speechace.co%2Fx%2F&key=AbCdEf0123456789"
    added = run("assessment", "add", "--provider", "speechace", "--title", "Placement", "--oembed-url", link)
    assert added.exit_code == 0, added.output
    listing = run("assessment", "list")
    assert "AbCdEf0123456789" not in listing.output and "6789" in listing.output


def test_config_and_database_errors_are_one_line_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("LTI_TOOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LTI_TOOL_ENV", "production")
    monkeypatch.setenv("LTI_TOOL_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("LTI_TOOL_BASE_URL", "http://lti.school.org")
    refused = run("init")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.output.startswith("Error: LTI_TOOL_BASE_URL is plain http")
    assert len(refused.output.strip().splitlines()) == 1

    monkeypatch.setenv("LTI_TOOL_BASE_URL", "https://lti.school.org")
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    for command in (["init"], ["keys", "list"]):
        unreachable = run(*command)
        assert unreachable.exit_code == 1, unreachable.output
        assert unreachable.output.startswith("Error: cannot reach the database: connection failed")
        assert "LTI_TOOL_DATABASE_URL" in unreachable.output and len(unreachable.output.strip().splitlines()) == 1


def test_a_database_from_a_newer_version_is_one_line(env):
    with env.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    try:
        result = run("init")
    finally:
        from lti_tool.telemetry.schema import head_revision

        with env.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: the database's schema cannot be migrated: Can't locate revision "
                                    "identified by '0999'")
