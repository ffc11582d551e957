"""``lti-tool registrations``: review the platforms that registered themselves, and invite new ones."""

from __future__ import annotations

import datetime as dt
import re

import click

from lti_tool.admin import audit
from lti_tool.config import ConfigError
from lti_tool.config import Settings
from lti_tool.config import load_settings
from lti_tool.db import Database
from lti_tool.lti import registration_approval

_DURATION = re.compile(r"^(\d+)([dh])$")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _duration(text: str) -> dt.timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter("give days or hours, e.g. 7d or 12h")
    amount, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(days=amount) if unit == "d" else dt.timedelta(hours=amount)


@click.group()
def registrations() -> None:
    """Platforms registered with the tool: approve or reject those that registered themselves, or invite one."""


@registrations.command("list")
def registrations_list() -> None:
    """Every registration, those waiting for a decision first."""
    with Database(_settings().database_url).session() as session:
        rows = registration_approval.list_registrations(session)
        if not rows:
            click.echo("No registrations yet.")
        for row in rows:
            state = row.review_status if row.review_status != "approved" else (
                "active" if row.is_active else "inactive")
            click.echo(f"{row.id}\t{state}\t{row.issuer}\tclient_id={row.client_id}\tvia {row.registered_via}"
                       f"\t{row.datetime_created:%Y-%m-%d %H:%M}")


def _review(registration_pk: int, approve: bool) -> None:
    settings = _settings()
    try:
        with Database(settings.database_url).session() as session:
            row = registration_approval.review(session, registration_pk, approve)
            audit.record(session, audit.CLI, "registration-approve" if approve else "registration-reject",
                         "registration", row.id, row.id)
            issuer = row.issuer
    except registration_approval.ApprovalError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Registration {registration_pk} ({issuer}) {'approved' if approve else 'rejected'}. Running "
               f"processes notice within LTI_TOOL_CONFIG_CACHE_SECONDS ({settings.config_cache_seconds} s).")


@registrations.command("approve")
@click.argument("registration_pk", type=int)
def registrations_approve(registration_pk: int) -> None:
    """Approve registration REGISTRATION_PK and the deployments it reported: its launches work."""
    _review(registration_pk, approve=True)


@registrations.command("reject")
@click.argument("registration_pk", type=int)
def registrations_reject(registration_pk: int) -> None:
    """Reject registration REGISTRATION_PK: its launches stay refused."""
    _review(registration_pk, approve=False)


@registrations.command("invite")
@click.option("--expires", "expires", default="7d", show_default=True, help="How long the link works (e.g. 7d, 12h).")
@click.option("--note", default=None, help="Whom it is for (shown in lists, e.g. the school's name).")
def registrations_invite(expires: str, note: str | None) -> None:
    """Print a single-use registration URL for an LMS admin to paste; a registration through it is active at once."""
    settings = _settings()
    try:
        with Database(settings.database_url).session() as session:
            new = registration_approval.create_invitation(session, _duration(expires), created_by="cli", note=note)
            audit.record(session, audit.CLI, "registration-invite", "invitation", new.invitation.id, None)
            expires_at = new.invitation.expires_at
    except registration_approval.ApprovalError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(new.url(settings.base_url))
    click.echo(f"Single use; expires {expires_at:%Y-%m-%d %H:%M} UTC. Paste it into the LMS as the tool's "
               "registration URL (Moodle: Tool URL, then Add LTI Advantage; Canvas: LTI Registration URL).", err=True)
