"""The admin audit log: every change made on the admin pages (or with the CLI) is recorded in the change's own
transaction, so a change without its record (or a record of a change that was rolled back) cannot exist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.admin.service import AdminScope
from lti_tool.admin.service import assessment_registration
from lti_tool.models import AdminAuditEntry
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import ProviderAccount
from lti_tool.models import ScoreSubmission

ACTIVITY_PAGE_SIZE = 200
MAX_DETAIL = 500


@dataclass(frozen=True)
class Actor:
    """Who made a change: ``kind`` is ``tool_admin``, ``lms_admin`` or ``cli``."""

    kind: str
    name: str
    issuer: str | None = None
    registration_pk: int | None = None

    def describe(self) -> str:
        if self.kind == "lms_admin":
            return f"LMS admin {self.name} ({self.issuer}, registration {self.registration_pk})"
        if self.kind == "cli":
            return "command line (lti-tool)"
        return f"tool admin {self.name}"


CLI = Actor(kind="cli", name="cli")


def record(session: orm.Session, actor: Actor, action: str, target_type: str, target_id: object,
           registration_pk: int | None, remote_addr: str | None = None, detail: str | None = None) -> None:
    """Add one entry to the pending transaction (committed, or rolled back, with the change it records)."""
    session.add(AdminAuditEntry(
        actor_kind=actor.kind, actor=actor.name[:500], actor_issuer=(actor.issuer or None) and actor.issuer[:500],
        actor_registration_id=actor.registration_pk, action=action[:100], target_type=target_type[:40],
        target_id=None if target_id is None else str(target_id)[:200], registration_id=registration_pk,
        remote_addr=(remote_addr or None) and remote_addr.replace("\x00", "")[:100],
        detail=None if detail is None else detail.replace("\x00", "")[:MAX_DETAIL]))


@dataclass(frozen=True)
class ActivityRow:
    when: dt.datetime
    who: str
    action: str
    target: str
    registration_pk: int | None
    remote_addr: str | None
    detail: str | None


def list_activity(session: orm.Session, scope: AdminScope, limit: int = ACTIVITY_PAGE_SIZE) -> list[ActivityRow]:
    """The latest entries, newest first: an LMS admin sees only those about their own registration."""
    query = sa.select(AdminAuditEntry).order_by(AdminAuditEntry.id.desc()).limit(limit)
    if scope.registration_pk is not None:
        query = query.where(AdminAuditEntry.registration_id == scope.registration_pk)
    return [ActivityRow(when=entry.datetime_created,
                        who=Actor(entry.actor_kind, entry.actor, entry.actor_issuer,
                                  entry.actor_registration_id).describe(),
                        action=entry.action, target=f"{entry.target_type} {entry.target_id or ''}".strip(),
                        registration_pk=entry.registration_id, remote_addr=entry.remote_addr, detail=entry.detail)
            for entry in session.scalars(query)]


def target_of(session: orm.Session, changed: object) -> tuple[str, object, int | None]:
    """(kind, id, registration pk) of a changed row, for the log and for scoping it to the school it belongs to."""
    if isinstance(changed, LtiRegistration):
        return "registration", changed.id, changed.id
    if isinstance(changed, LtiDeployment):
        return "deployment", changed.id, changed.registration_id
    if isinstance(changed, Assessment):
        return "assessment", changed.id, assessment_registration(session, changed)
    if isinstance(changed, ProviderAccount):
        deployment = session.get(LtiDeployment, changed.deployment_id) if changed.deployment_id else None
        return "provider_account", changed.id, deployment.registration_id if deployment else None
    if isinstance(getattr(changed, "registration", None), LtiRegistration):  # an erasure within one school
        return "registration", changed.registration.id, changed.registration.id  # type: ignore[attr-defined]
    if isinstance(changed, ScoreSubmission):
        attempt = session.get(Attempt, changed.attempt_id)
        return "score_submission", changed.id, attempt.registration_id if attempt else None
    return type(changed).__name__.lower(), getattr(changed, "id", None), None
