"""Who may register the tool: a tool admin approves or rejects a platform that registered itself, or invites one.

Dynamic registration is open to anyone who can reach ``/lti/register``, so what it creates without an
invitation is *pending*: inactive, refused at launch with a page for the tool administrator, until approved.
An invitation (a single-use, expiring token in the registration URL) is the tool admin's approval given ahead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import RegistrationInvitation
from lti_tool.models import ReviewStatus
from lti_tool.translatable import N_

INVITATION_PATH = "/lti/register/invitation/"
# More platforms waiting than this is a flood, not schools: refuse new ones until an admin has decided.
MAX_PENDING_REGISTRATIONS = 50


class ApprovalError(Exception):
    """A review or invitation request that cannot be carried out; the message is for the admin."""


@dataclass(frozen=True)
class NewInvitation:
    """An invitation just created: ``token`` is shown once (in ``url``) and never stored."""

    invitation: RegistrationInvitation
    token: str

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + INVITATION_PATH + self.token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_invitation(session: orm.Session, expires_in: dt.timedelta, created_by: str,
                      note: str | None = None) -> NewInvitation:
    if expires_in <= dt.timedelta(0) or expires_in > dt.timedelta(days=90):
        raise ApprovalError("An invitation must expire within 90 days.")
    token = secrets.token_urlsafe(32)
    invitation = RegistrationInvitation(token_hash=token_hash(token), created_by=created_by[:200],
                                        note=(note or None) and note[:200], expires_at=utcnow() + expires_in)
    session.add(invitation)
    session.flush()
    return NewInvitation(invitation, token)


def usable_invitation(session: orm.Session, token: str) -> RegistrationInvitation | None:
    """The unused, unexpired invitation ``token`` opens, locked for this transaction; ``None`` otherwise."""
    if not token or len(token) > 100:
        return None
    invitation = session.scalar(sa.select(RegistrationInvitation)
                                .where(RegistrationInvitation.token_hash == token_hash(token))
                                .with_for_update())
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= utcnow():
        return None
    return invitation


def mark_used(session: orm.Session, token: str, registration: LtiRegistration) -> bool:
    """Use the invitation once: the conditional UPDATE lets exactly one of two concurrent registrations win."""
    used = session.execute(sa.update(RegistrationInvitation)
                           .where(RegistrationInvitation.token_hash == token_hash(token),
                                  RegistrationInvitation.used_at.is_(None),
                                  RegistrationInvitation.expires_at > utcnow())
                           .values(used_at=utcnow(), registration_id=registration.id))
    return bool(used.rowcount)  # type: ignore[attr-defined]


def list_invitations(session: orm.Session) -> list[RegistrationInvitation]:
    return list(session.scalars(sa.select(RegistrationInvitation).order_by(RegistrationInvitation.id.desc())))


def replace_pending(session: orm.Session, issuer: str) -> None:
    """Drop the registrations still pending for ``issuer`` (a platform that tries again replaces its request),
    then refuse if too many other platforms are waiting."""
    pending = list(session.scalars(sa.select(LtiRegistration.id).where(
        LtiRegistration.issuer == issuer, LtiRegistration.review_status == ReviewStatus.PENDING.value)))
    if pending:
        session.execute(sa.delete(LtiDeployment).where(LtiDeployment.registration_id.in_(pending)))
        session.execute(sa.delete(LtiRegistration).where(LtiRegistration.id.in_(pending)))
    waiting = session.scalar(sa.select(sa.func.count()).select_from(LtiRegistration).where(
        LtiRegistration.review_status == ReviewStatus.PENDING.value)) or 0
    if waiting >= MAX_PENDING_REGISTRATIONS:
        # The dynamic registration page shows it (translated there): the message is the catalogue's.
        raise ApprovalError(N_("Too many registrations are waiting for the tool administrator."))


def review(session: orm.Session, registration_pk: int, approve: bool) -> LtiRegistration:
    """Approve (activate, with the deployments it reported) or reject (deactivate) a registration."""
    registration = session.get(LtiRegistration, registration_pk)
    if registration is None:
        raise ApprovalError(f"There is no registration {registration_pk}.")
    if approve:
        registration.review_status = ReviewStatus.APPROVED.value
        registration.is_active = True
        session.execute(sa.update(LtiDeployment)
                        .where(LtiDeployment.registration_id == registration.id,
                               LtiDeployment.status == DeploymentStatus.PENDING.value)
                        .values(status=DeploymentStatus.ACTIVE.value, datetime_status_changed=utcnow()))
    else:
        registration.review_status = ReviewStatus.REJECTED.value
        registration.is_active = False
    session.flush()
    return registration


def list_registrations(session: orm.Session) -> list[LtiRegistration]:
    waiting_first = sa.case((LtiRegistration.review_status == ReviewStatus.PENDING.value, 0), else_=1)
    return list(session.scalars(sa.select(LtiRegistration).order_by(waiting_first, LtiRegistration.id)))
