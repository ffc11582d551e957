"""``lti-tool admin``: the tool admin accounts that may log in to the admin pages (/admin)."""

from __future__ import annotations

import sys

import click

from lti_tool.admin import audit
from lti_tool.admin import throttle
from lti_tool.admin.accounts import AccountError
from lti_tool.admin.accounts import add_admin
from lti_tool.admin.accounts import list_admins
from lti_tool.admin.accounts import remove_admin
from lti_tool.admin.accounts import set_password
from lti_tool.config import ConfigError
from lti_tool.config import load_settings
from lti_tool.db import Database

# Not lti_tool.cli's helpers: that module imports this one to register the group.


def _database() -> Database:
    try:
        return Database(load_settings().database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input (scripts), or typed twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


password_stdin_option = click.option("--password-stdin", is_flag=True,
                                     help="Read the password from the first line of standard input.")


@click.group()
def admin() -> None:
    """Tool admin accounts for the admin pages (/admin). LMS administrators need none: they launch the tool."""


@admin.command("add-user")
@click.argument("username")
@password_stdin_option
def add_user(username: str, password_stdin: bool) -> None:
    """Create the admin USERNAME; the password is asked for (never given on the command line)."""
    password = _read_password(password_stdin)
    try:
        with _database().session() as session:
            add_admin(session, username, password)
            audit.record(session, audit.CLI, "admin-add-user", "tool_admin", username, None)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Admin {username} created; log in at /admin/login.")


@admin.command("set-password")
@click.argument("username")
@password_stdin_option
def set_user_password(username: str, password_stdin: bool) -> None:
    """Give the admin USERNAME a new password (their open logins end)."""
    password = _read_password(password_stdin)
    try:
        with _database().session() as session:
            set_password(session, username, password)
            audit.record(session, audit.CLI, "admin-set-password", "tool_admin", username, None)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Password of {username} changed.")


@admin.command("remove-user")
@click.argument("username")
def remove_user(username: str) -> None:
    """Delete the admin USERNAME (their open logins end)."""
    try:
        with _database().session() as session:
            remove_admin(session, username)
            audit.record(session, audit.CLI, "admin-remove-user", "tool_admin", username, None)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Admin {username} removed.")


@admin.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Lift the login throttle of USERNAME (after too many wrong passwords) before its lock runs out."""
    with _database().session() as session:
        throttle.record_success(session, username)
        audit.record(session, audit.CLI, "admin-unlock", "tool_admin", username, None)
    click.echo(f"Logins of {username} are accepted again (the address limit still applies).")


@admin.command("list-users")
def list_users() -> None:
    """Admin usernames with their creation dates (no password material)."""
    with _database().session() as session:
        admins = list_admins(session)
        for account in admins:
            click.echo(f"{account.username}\tcreated {account.datetime_created:%Y-%m-%d}")
    if not admins:
        click.echo("No tool admin yet: create one with `lti-tool admin add-user NAME`.")
