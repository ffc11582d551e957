"""`lti-tool doctor`, run as an admin would: one line per check, a fail says what to do, exit 1 on any fail."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from lti_tool import migrate
from lti_tool.cli import main
from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.models import WorkerHeartbeat
from lti_tool.telemetry.heartbeat import record_heartbeat
from lti_tool.telemetry.schema import head_revision

SECRET = "s" * 40


def doctor(*args: str):
    result = CliRunner().invoke(main, ["doctor", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def lines(result, status: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(status + " ")]


@pytest.fixture
def production(env, monkeypatch):
    """A healthy production install: https, a long secret, a worker that just recorded its heartbeat."""
    for name, value in {"LTI_TOOL_ENV": "production", "LTI_TOOL_SECRET_KEY": SECRET,
                        "LTI_TOOL_BASE_URL": "https://lti.school.org"}.items():
        monkeypatch.setenv(name, value)
    record_heartbeat(env, "web-1:123")
    return env


def test_a_healthy_install_passes(production):
    result = doctor()
    assert result.exit_code == 0, result.output
    assert not lines(result, "fail")
    checks = [line.split(":", 1)[0].split(None, 1)[1] for line in result.output.splitlines()]
    assert {"settings", "secret key", "base URL", "database reachable", "migrations", "signing key",
            "passback worker", "outbox"} <= set(checks)
    assert f"ok   migrations: at {head_revision()}" in result.output
    # SQLite in production is a warning (one machine, one writer), never a failure.
    warnings = lines(result, "warn")
    assert len(warnings) == (0 if production.is_postgresql else 1)
    assert all(line.startswith("warn database backend: production is running on SQLite") for line in warnings)


def test_an_unreachable_database_is_one_fail_line(monkeypatch, tmp_path):
    monkeypatch.setenv("LTI_TOOL_ENV", "testing")
    monkeypatch.setenv("LTI_TOOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    result = doctor()
    assert result.exit_code == 1
    [failed] = lines(result, "fail")
    assert failed.startswith("fail database reachable: cannot connect (")
    assert "start the database server, or correct LTI_TOOL_DATABASE_URL" in failed
    assert "migrations" not in result.output  # the checks that need the database are left out, not failed


def test_a_pending_migration_fails_with_the_command_to_run(production, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = Database(url)
    migrate.upgrade(old.engine, "0006")
    old.dispose()
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", url)
    result = doctor()
    assert result.exit_code == 1
    [failed] = lines(result, "fail")
    assert failed == (f"fail migrations: the database is at revision 0006, this version needs {head_revision()} — "
                      "run `lti-tool db upgrade`, then restart the tool")


def test_an_empty_database_says_run_init(production, monkeypatch, tmp_path):
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = doctor()
    assert lines(result, "fail") == ["fail migrations: the database has no schema — run `lti-tool init`"]


def test_a_short_secret_fails(production, monkeypatch):
    monkeypatch.setenv("LTI_TOOL_SECRET_KEY", "x" * 20)
    result = doctor()
    assert result.exit_code == 1
    [failed] = lines(result, "fail")
    assert failed.startswith("fail secret key: LTI_TOOL_SECRET_KEY is too short (20 characters): use at least 32")
    assert "secrets.token_urlsafe(48)" in failed
    assert "ok   database reachable" in result.output  # the other checks still ran


def test_a_plain_http_base_url_fails_in_production(production, monkeypatch):
    monkeypatch.setenv("LTI_TOOL_BASE_URL", "http://lti.school.org")
    result = doctor()
    assert result.exit_code == 1
    [failed] = lines(result, "fail")
    assert failed.startswith("fail base URL: LTI_TOOL_BASE_URL is plain http (http://lti.school.org)")
    assert "LTI_TOOL_ALLOW_INSECURE_HTTP=true" in failed

    monkeypatch.setenv("LTI_TOOL_ALLOW_INSECURE_HTTP", "true")
    allowed = doctor()
    assert allowed.exit_code == 0, allowed.output
    assert "warn base URL: plain http allowed by LTI_TOOL_ALLOW_INSECURE_HTTP" in allowed.output


def test_a_stale_worker_heartbeat_fails(production):
    with production.session() as session:
        session.get_one(WorkerHeartbeat, "web-1:123").last_seen_at = utcnow() - dt.timedelta(minutes=10)
    result = doctor()
    assert result.exit_code == 1
    [failed] = lines(result, "fail")
    assert failed.startswith("fail passback worker: last heartbeat 10 min ago: grades are not being sent — ")
    assert "start `lti-tool worker`" in failed


def test_no_heartbeat_at_all_fails(production):
    with production.session() as session:
        session.query(WorkerHeartbeat).delete()
    result = doctor()
    assert lines(result, "fail") == ["fail passback worker: no worker has ever recorded a heartbeat: grades are not "
                                     "sent — start `lti-tool worker` (or `lti-tool serve` without --no-worker)"]


def test_a_settings_error_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("LTI_TOOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LTI_TOOL_JWT_LEEWAY_SECONDS", "a minute")
    result = doctor()
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "fail settings: LTI_TOOL_JWT_LEEWAY_SECONDS: invalid literal for int() with base 10: 'a minute'"]


def test_the_worker_records_the_heartbeat_doctor_reads(env, monkeypatch):
    """`lti-tool worker --once` (and every round of a running worker) touches its heartbeat row."""
    with env.session() as session:
        session.query(WorkerHeartbeat).delete()
    assert CliRunner().invoke(main, ["worker", "--once"]).exit_code == 0
    result = doctor()
    assert result.exit_code == 0, result.output
    assert "ok   passback worker: last heartbeat" in result.output


def test_network_checks_fetch_the_tool_keys_and_each_key_set(connected, env, monkeypatch, tool_server, database):
    from lti_tool.lti.registration import PlatformDetails
    from lti_tool.lti.registration import register_platform

    monkeypatch.setenv("LTI_TOOL_BASE_URL", tool_server.url)
    record_heartbeat(database, "w:1")
    result = doctor("--network")
    assert result.exit_code == 0, result.output
    assert "ok   signing key: " in result.output and f"served at {tool_server.url}/lti/jwks" in result.output
    assert f"ok   key set of registration {connected.registration.id} ({connected.platform.issuer}): " \
           in result.output

    details = PlatformDetails(issuer="https://gone.example", client_id="c", auth_login_url="https://gone.example/a",
                              auth_token_url="https://gone.example/t", key_set_url="http://127.0.0.1:1/jwks")
    with database.session() as session:
        gone = register_platform(session, details, "manual", ["d"], approve=True)
    failing = doctor("--network")
    assert failing.exit_code == 1
    [failed] = lines(failing, "fail")
    assert failed.startswith(f"fail key set of registration {gone.id} (https://gone.example): "
                             "http://127.0.0.1:1/jwks cannot be fetched (")
    assert failed.endswith("check the URL (`lti-tool registrations list`) and that this server reaches it")


def test_a_database_from_a_newer_version_fails_with_what_to_install(production, monkeypatch, tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    newer = Database(url)
    migrate.upgrade(newer.engine)
    with newer.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    newer.dispose()
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", url)
    result = doctor()
    assert lines(result, "fail") == [f"fail migrations: the database is at revision 0999, newer than this install "
                                     f"(which knows up to {head_revision()}) — install the newer version of the tool"]
