"""LTI 1.3 data: platforms the tool is registered with, their deployments, courses, links, people, launches.

Names follow django-lti (``LtiRegistration``, ``LtiDeployment``, ``id_on_platform`` …). Spec:
https://www.imsglobal.org/spec/lti/v1p3/
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base
from lti_tool.db import utcnow


class LtiRegistration(Base):
    """The tool as registered on one platform: an (issuer, client_id) pair and the platform's endpoints.

    Canvas uses one issuer for every school with a client_id each, so the pair, not the issuer, is unique.
    """

    __tablename__ = "lti_registration"
    __table_args__ = (sa.UniqueConstraint("issuer", "client_id", name="uq_lti_registration_issuer_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(sa.String(200))
    issuer: Mapped[str] = mapped_column(sa.String(500))
    client_id: Mapped[str] = mapped_column(sa.String(500))
    auth_login_url: Mapped[str] = mapped_column(sa.String(1000))
    auth_token_url: Mapped[str] = mapped_column(sa.String(1000))
    # Some platforms (Brightspace) want another audience than the token URL in client assertions.
    auth_audience: Mapped[str | None] = mapped_column(sa.String(1000))
    key_set_url: Mapped[str | None] = mapped_column(sa.String(1000))
    key_set: Mapped[dict[str, Any] | None] = mapped_column()
    product_family_code: Mapped[str | None] = mapped_column(sa.String(100))
    registered_via: Mapped[str] = mapped_column(sa.String(20), default="manual")
    scopes: Mapped[list[str]] = mapped_column(default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    # A platform that registered itself without an invitation waits (is_active false) for a tool admin's decision.
    review_status: Mapped[str] = mapped_column(sa.String(20), default="approved", server_default="approved")
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)

    deployments: Mapped[list[LtiDeployment]] = orm.relationship(back_populates="registration")

    def __repr__(self) -> str:
        return f"<LtiRegistration {self.id} {self.issuer} client_id={self.client_id}>"


class ReviewStatus(enum.StrEnum):
    """A registration's standing with the tool admin: only an approved one can be active."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class DeploymentStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class LtiDeployment(Base):
    """One installation of the tool inside a platform (Canvas: per account or course; Moodle: per tool type).

    An unknown deployment of a known registration is stored as ``pending``; launches through it are refused
    until an admin approves it (unless auto-approval is configured).
    """

    __tablename__ = "lti_deployment"
    __table_args__ = (
        sa.UniqueConstraint("registration_id", "deployment_id", name="uq_lti_deployment_per_registration"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_registration.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(20), default=DeploymentStatus.PENDING.value)
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    datetime_status_changed: Mapped[dt.datetime | None] = mapped_column()

    registration: Mapped[LtiRegistration] = orm.relationship(back_populates="deployments")

    @property
    def is_active(self) -> bool:
        return self.status == DeploymentStatus.ACTIVE


class LtiContext(Base):
    """A course (the ``context`` claim), with the service URLs the platform gave for it."""

    __tablename__ = "lti_context"
    __table_args__ = (
        sa.UniqueConstraint("deployment_id", "id_on_platform", name="uq_lti_context_per_deployment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_deployment.id", ondelete="CASCADE"))
    id_on_platform: Mapped[str] = mapped_column(sa.String(500))
    title: Mapped[str | None] = mapped_column(sa.String(500))
    label: Mapped[str | None] = mapped_column(sa.String(500))
    memberships_url: Mapped[str | None] = mapped_column(sa.String(1000))
    lineitems_url: Mapped[str | None] = mapped_column(sa.String(1000))
    ags_scopes: Mapped[list[str]] = mapped_column(default=list)
    datetime_updated: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LtiResourceLink(Base):
    """A placement of the tool in a course (the ``resource_link`` claim)."""

    __tablename__ = "lti_resource_link"
    __table_args__ = (
        sa.UniqueConstraint("context_id", "id_on_platform", name="uq_lti_resource_link_per_context"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_context.id", ondelete="CASCADE"))
    id_on_platform: Mapped[str] = mapped_column(sa.String(500))
    title: Mapped[str | None] = mapped_column(sa.String(500))
    lineitem_url: Mapped[str | None] = mapped_column(sa.String(1000))
    # The speaking test placed here; None until a teacher sets it up (deep linking or the first launch).
    activity_id: Mapped[int | None] = mapped_column(sa.ForeignKey("activity.id", ondelete="SET NULL"))
    datetime_updated: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LtiUser(Base):
    """A person as a platform knows them (``sub``). Names and email only when the platform shares them."""

    __tablename__ = "lti_user"
    __table_args__ = (sa.UniqueConstraint("registration_id", "sub", name="uq_lti_user_per_registration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_registration.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(sa.String(500))
    name: Mapped[str | None] = mapped_column(sa.String(500))
    given_name: Mapped[str | None] = mapped_column(sa.String(500))
    family_name: Mapped[str | None] = mapped_column(sa.String(500))
    email: Mapped[str | None] = mapped_column(sa.String(500))
    # Not indexed, though retention looks users up by it: every launch rewrites it, and an index on it would turn
    # each of those updates from a HOT update into one that writes every index of the table. Retention's scan
    # runs once per housekeeping round.
    datetime_updated: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        joined = " ".join(part for part in (self.given_name, self.family_name) if part)
        return self.name or joined or self.email or self.sub


class LtiMembership(Base):
    """A person's roles in a course, as of their latest launch."""

    __tablename__ = "lti_membership"
    __table_args__ = (sa.UniqueConstraint("context_id", "user_id", name="uq_lti_membership_per_context"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_context.id", ondelete="CASCADE"))
    # Indexed for deleting users (the cascade); it never changes, so a launch's update of the row stays HOT.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list[str]] = mapped_column(default=list)
    # Not indexed, as LtiUser.datetime_updated: every launch rewrites it.
    datetime_updated: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LtiLaunch(Base):
    """A validated launch. Its random ``id`` is the bearer handle the launched pages use instead of cookies."""

    __tablename__ = "lti_launch"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_registration.id", ondelete="CASCADE"))
    deployment_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_deployment.id", ondelete="CASCADE"))
    context_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lti_context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lti_resource_link.id", ondelete="CASCADE"))
    # Not indexed, unlike the other tables' user_id: every launch inserts a row here, and the table only holds the
    # launches of the last hours (housekeeping), so a user's deletion scans little.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_user.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(sa.String(100))
    roles: Mapped[list[str]] = mapped_column(default=list)
    claims: Mapped[dict[str, Any]] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    # The OIDC login this launch completed; unique, so each login (its state and nonce) is used once. Rows from
    # before stateless logins have none.
    login_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
