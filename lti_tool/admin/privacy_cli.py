"""``lti-tool privacy``: one person's data in one registration, exported as JSON or erased."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import orm

from lti_tool.admin import audit
from lti_tool.config import ConfigError
from lti_tool.config import load_settings
from lti_tool.db import Database
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.privacy import subject

PLATFORM_HELP = "The registration: its uuid, its number (lti-tool registrations list) or its issuer."
CLIENT_ID_HELP = "With an issuer shared by several registrations (Canvas): the client_id."
USER_HELP = "The user's LMS user id (the LTI sub claim)."


def _database() -> Database:
    try:
        return Database(load_settings().database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _subject(session: orm.Session, platform: str, client_id: str | None, sub: str) -> tuple[LtiRegistration,
                                                                                           LtiUser]:
    try:
        registration = subject.find_registration(session, platform, client_id)
        return registration, subject.find_subject(session, registration.id, sub)
    except (subject.UnknownPlatform, subject.UnknownSubject) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def privacy() -> None:
    """One person's data: export it (JSON) or delete it, in one registration (school)."""


@privacy.command("export")
@click.option("--platform", required=True, help=PLATFORM_HELP)
@click.option("--client-id", default=None, help=CLIENT_ID_HELP)
@click.option("--user", "sub", required=True, help=USER_HELP)
def privacy_export(platform: str, client_id: str | None, sub: str) -> None:
    """Print every row that names the user as JSON (launch handles and report links withheld)."""
    with _database().session() as session:
        registration, user = _subject(session, platform, client_id, sub)
        document = subject.export_subject(session, registration, user)
        audit.record(session, audit.CLI, "privacy-export", "registration", registration.id, registration.id,
                     detail="personal data of one user exported")
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    click.echo()


@privacy.command("delete")
@click.option("--platform", required=True, help=PLATFORM_HELP)
@click.option("--client-id", default=None, help=CLIENT_ID_HELP)
@click.option("--user", "sub", required=True, help=USER_HELP)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def privacy_delete(platform: str, client_id: str | None, sub: str, yes: bool) -> None:
    """Delete every row that names the user in this registration only; prints how many of each were removed.
    Grades already in the LMS gradebook stay there."""
    database = _database()
    if not yes:  # asked with no transaction open: a waiting prompt must not hold the database's locks
        with database.session() as session:
            registration, user = _subject(session, platform, client_id, sub)
            found = subject.describe_counts(subject.count_subject(session, user))
            question = f"Delete the data of user {sub!r} of {registration.name} ({registration.issuer}): {found}?"
        if not click.confirm(question):
            raise click.ClickException("Nothing deleted.")
    with database.session() as session:
        registration, user = _subject(session, platform, client_id, sub)
        counts = subject.delete_subject(session, user)
        audit.record(session, audit.CLI, "privacy-delete", "registration", registration.id, registration.id,
                     detail=f"personal data of one user deleted: {subject.describe_counts(counts)}")
    for table, count in counts.items():
        click.echo(f"{table}\t{count}")
    if counts.get("pending_scores_dropped"):
        click.echo("Scores not yet sent were deleted with the rest: they will not reach the gradebook.", err=True)
