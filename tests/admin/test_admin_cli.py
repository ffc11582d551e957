"""`lti-tool admin`: tool admin accounts from the command line, run as an admin would (LTI_TOOL_* variables)."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from lti_tool.admin import throttle
from lti_tool.admin.accounts import authenticate
from lti_tool.admin.cli import admin
from lti_tool.models import AdminAuditEntry
from lti_tool.models import LoginThrottle
from lti_tool.models.admin import ToolAdmin

PASSWORD = "a long enough password"


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(admin, list(args), input=stdin)


def can_log_in(database, username: str, password: str) -> bool:
    with database.session() as session:
        return authenticate(session, username, password) is not None


def test_add_user_from_stdin_then_list_users(env):
    result = run("add-user", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert can_log_in(env, "alice", PASSWORD)
    listing = run("list-users")
    assert listing.exit_code == 0 and listing.output.startswith("alice\tcreated ")
    assert PASSWORD not in listing.output
    with env.session() as session:
        stored = session.scalars(sa.select(ToolAdmin.password_hash)).one()
    assert PASSWORD not in stored


def test_add_user_asks_for_the_password_twice(env):
    result = run("add-user", "bob", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert can_log_in(env, "bob", PASSWORD)


def test_refused_accounts(env):
    assert run("add-user", "carol", "--password-stdin", stdin="short\n").exit_code != 0
    assert run("add-user", "bad name", "--password-stdin", stdin=PASSWORD + "\n").exit_code != 0
    assert run("add-user", "dave", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    duplicate = run("add-user", "dave", "--password-stdin", stdin="another long password\n")
    assert duplicate.exit_code != 0 and "already" in duplicate.output
    assert can_log_in(env, "dave", PASSWORD)
    assert run("list-users").output.count("\tcreated ") == 1


def test_set_password_and_remove_user(env):
    run("add-user", "erin", "--password-stdin", stdin=PASSWORD + "\n")
    assert run("set-password", "erin", "--password-stdin", stdin="a brand new password\n").exit_code == 0
    assert not can_log_in(env, "erin", PASSWORD) and can_log_in(env, "erin", "a brand new password")
    assert run("remove-user", "erin").exit_code == 0
    assert not can_log_in(env, "erin", "a brand new password")
    missing = run("remove-user", "erin")
    assert missing.exit_code != 0 and "no admin named" in missing.output
    assert "No tool admin yet" in run("list-users").output


def test_cli_changes_are_in_the_audit_log_and_unlock_lifts_the_throttle(env):
    assert run("add-user", "erin", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    with env.session() as session:
        for _ in range(throttle.ACCOUNT_LIMIT):
            throttle.record_failure(session, "erin", "192.0.2.1")
        assert throttle.locked_for(session, "erin", None) is not None
    assert run("unlock", "erin").exit_code == 0
    assert run("remove-user", "erin").exit_code == 0
    with env.session() as session:
        assert throttle.locked_for(session, "erin", None) is None
        address_rows = sa.select(sa.func.count()).select_from(LoginThrottle).where(
            LoginThrottle.key == throttle.address_key("192.0.2.1"))
        assert session.scalar(address_rows) == 1  # the address limit stays
        entries = [(e.actor_kind, e.action, e.target_id) for e in
                   session.scalars(sa.select(AdminAuditEntry).order_by(AdminAuditEntry.id))]
    assert entries == [("cli", "admin-add-user", "erin"), ("cli", "admin-unlock", "erin"),
                       ("cli", "admin-remove-user", "erin")]
