"""One person's data in one registration (school): every row that names them, exported or erased.

A person is an LMS user id (``sub``) on one registration; the same person at another school is another subject,
left alone. The rows that name them:

- ``lti_user`` (their name and email as the LMS shared them) and ``lti_membership`` (their roles per course);
- ``lti_launch``: their launches, whose ``claims`` hold the whole id_token (name, email, roles, custom values),
  and any other launch of the school whose claims carry their id or email (e.g. a teacher's launch about them);
- ``attempt``, and the attempt's ``result`` rows (providers' payloads may hold names) and ``score_submission`` rows;
- ``admin_audit_entry`` rows that name them as the LMS admin who made a change: erasure keeps the entry (the
  record of the change) and replaces the name with :data:`ERASED_ACTOR`.

Nothing else names a learner (tests/privacy scans every table of the schema to keep it so). The LMS gradebook is
another system: grades already delivered stay there; the school removes them in the LMS.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.models import AdminAuditEntry
from lti_tool.models import Attempt
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus

ERASED_ACTOR = "(erased user)"
# Never exported: bearer handles and leases (a launch's id opens its pages), and the report's capability URL
# (whoever holds it reads the report; the school can open the report for the person on request).
WITHHELD_COLUMNS = {("lti_launch", "id"), ("lti_launch", "login_id"), ("result", "report_url"),
                    ("score_submission", "claim_token")}
WITHHELD = "(withheld)"


class UnknownPlatform(LookupError):
    """No registration (or more than one) matches what was given; the message says what to give instead."""


class UnknownSubject(LookupError):
    """The registration has no user with this LMS user id."""


def find_registration(session: orm.Session, platform: str, client_id: str | None = None) -> LtiRegistration:
    """A registration by its uuid, its number, or its issuer (with ``client_id`` when the issuer has several, as
    Canvas does). :raise UnknownPlatform: none, or several, match."""
    platform = platform.strip()
    query = sa.select(LtiRegistration)
    if _is_uuid(platform):
        query = query.where(LtiRegistration.uuid == platform.lower())
    elif platform.isascii() and platform.isdigit() and len(platform) < 10:
        query = query.where(LtiRegistration.id == int(platform))
    else:
        query = query.where(LtiRegistration.issuer == platform)
    if client_id:
        query = query.where(LtiRegistration.client_id == client_id)
    found = list(session.scalars(query.limit(2)))
    if not found:
        raise UnknownPlatform("No registration matches: give its uuid, its number (`lti-tool registrations "
                              "list`), or its issuer (with --client-id when the issuer has several).")
    if len(found) > 1:
        raise UnknownPlatform("Several registrations share this issuer: add --client-id, or give the uuid.")
    return found[0]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def find_subject(session: orm.Session, registration_pk: int, sub: str) -> LtiUser:
    """:raise UnknownSubject: the registration has no user ``sub``."""
    user = session.scalars(sa.select(LtiUser).where(LtiUser.registration_id == registration_pk,
                                                    LtiUser.sub == sub)).first()
    if user is None:
        raise UnknownSubject("This registration has no user with this LMS user id.")
    return user


@dataclass(frozen=True)
class SubjectRows:
    """Every row naming one user, by table."""

    user: LtiUser
    memberships: list[LtiMembership]
    launches: list[LtiLaunch]
    attempts: list[Attempt]
    results: list[Result]
    submissions: list[ScoreSubmission]
    audit_entries: list[AdminAuditEntry]

    def by_table(self) -> Iterator[tuple[str, list[Any]]]:
        yield "lti_user", [self.user]
        yield "lti_membership", self.memberships
        yield "lti_launch", self.launches
        yield "attempt", self.attempts
        yield "result", self.results
        yield "score_submission", self.submissions
        yield "admin_audit_entry", self.audit_entries


def subject_rows(session: orm.Session, user: LtiUser) -> SubjectRows:
    attempts = list(session.scalars(sa.select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.id)))
    attempt_pks = [attempt.id for attempt in attempts]
    return SubjectRows(
        user=user,
        memberships=list(session.scalars(sa.select(LtiMembership).where(LtiMembership.user_id == user.id)
                                         .order_by(LtiMembership.id))),
        launches=_launches_naming(session, user),
        attempts=attempts,
        results=list(session.scalars(sa.select(Result).where(Result.attempt_id.in_(attempt_pks))
                                     .order_by(Result.id))) if attempt_pks else [],
        submissions=list(session.scalars(sa.select(ScoreSubmission).where(ScoreSubmission.attempt_id.in_(
            attempt_pks)).order_by(ScoreSubmission.id))) if attempt_pks else [],
        audit_entries=list(session.scalars(sa.select(AdminAuditEntry).where(
            AdminAuditEntry.actor_kind == "lms_admin", AdminAuditEntry.actor_registration_id == user.registration_id,
            AdminAuditEntry.actor == user.sub).order_by(AdminAuditEntry.id))),
    )


def _launches_naming(session: orm.Session, user: LtiUser) -> list[LtiLaunch]:
    """The user's launches, and the school's other launches whose claims carry the user's id or email. Launch
    rows live for hours (``LAUNCH_TTL_SECONDS``), so reading the school's few is cheap."""
    markers = {user.sub}
    if user.email:
        markers.add(user.email.lower())
    launches = []
    for launch in session.scalars(sa.select(LtiLaunch).where(LtiLaunch.registration_id == user.registration_id)
                                  .order_by(LtiLaunch.expires_at)):
        if launch.user_id == user.id or _mentions(launch.claims, markers):
            launches.append(launch)
    return launches


def _mentions(value: Any, markers: set[str]) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.lower() in markers or item in markers:
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def export_subject(session: orm.Session, registration: LtiRegistration, user: LtiUser) -> dict[str, Any]:
    """A JSON-ready document of every row naming the user, column by column (secrets withheld)."""
    rows = subject_rows(session, user)
    return {
        "format": "lti-tool privacy export 1",
        "registration": {"uuid": registration.uuid, "name": registration.name, "issuer": registration.issuer,
                         "client_id": registration.client_id},
        "sub": user.sub,
        "tables": {table: [_columns(row) for row in table_rows] for table, table_rows in rows.by_table()},
    }


def _columns(row: Any) -> dict[str, Any]:
    table = row.__table__
    mapper = orm.class_mapper(type(row))
    values = {column.name: getattr(row, mapper.get_property_by_column(column).key) for column in table.columns}
    # A withheld value is withheld wherever the row repeats it (a provider's report URL can also be the result's
    # external id and sit in the callback's payload).
    secrets = {str(values[name]) for (table_name, name) in WITHHELD_COLUMNS
               if table_name == table.name and values.get(name)}
    return {name: _withheld(value.isoformat() if isinstance(value, dt.datetime) else value, secrets)
            for name, value in values.items()}


def _withheld(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        return WITHHELD if value in secrets else value
    if isinstance(value, dict):
        return {key: _withheld(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_withheld(item, secrets) for item in value]
    return value


def count_subject(session: orm.Session, user: LtiUser) -> dict[str, int]:
    """What :func:`delete_subject` would remove, without removing it."""
    return _counts(subject_rows(session, user))


def _counts(rows: SubjectRows) -> dict[str, int]:
    counts = {table: len(table_rows) for table, table_rows in rows.by_table()}
    counts["pending_scores_dropped"] = sum(1 for row in rows.submissions if row.status == SubmissionStatus.PENDING)
    return counts


def describe_counts(counts: dict[str, int]) -> str:
    """``lti_user 1, attempt 2, …`` without zeros, for summaries and the audit log (names no one)."""
    return ", ".join(f"{table} {count}" for table, count in counts.items() if count) or "nothing"


def delete_subject(session: orm.Session, user: LtiUser) -> dict[str, int]:
    """Erase every row naming the user in their registration (the caller commits). Counts per table; the
    ``pending_scores_dropped`` count says how many scores will now never reach the gradebook."""
    rows = subject_rows(session, user)
    counts = _counts(rows)
    for entry in rows.audit_entries:
        entry.actor = ERASED_ACTOR
    # Children first, so the counts are what was removed rather than what cascades would have taken.
    for table_rows in (rows.submissions, rows.results, rows.attempts, rows.memberships, rows.launches):
        for row in table_rows:
            session.delete(row)
        session.flush()
    session.delete(user)
    session.flush()
    return counts
