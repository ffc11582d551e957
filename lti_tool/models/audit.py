"""What the admin pages remember about themselves: who changed what (the audit log) and failed logins (throttle)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base
from lti_tool.db import utcnow


class AdminAuditEntry(Base):
    """One change made on the admin pages or with the ``lti-tool`` CLI, written in the change's own transaction.

    ``registration_id`` is the school the changed row belongs to (``None``: installation-wide); it is a plain
    number, not a foreign key, so the record outlives the registration it names. ``actor_kind`` is ``tool_admin``
    (``actor`` is the username), ``lms_admin`` (``actor`` is the LMS user id, ``actor_issuer`` and
    ``actor_registration_id`` their platform) or ``cli``.
    """

    __tablename__ = "admin_audit_entry"
    __table_args__ = (sa.Index("ix_admin_audit_entry_registration", "registration_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(sa.String(20))
    actor: Mapped[str] = mapped_column(sa.String(500))
    actor_issuer: Mapped[str | None] = mapped_column(sa.String(500))
    actor_registration_id: Mapped[int | None] = mapped_column()
    action: Mapped[str] = mapped_column(sa.String(100))
    target_type: Mapped[str] = mapped_column(sa.String(40))
    target_id: Mapped[str | None] = mapped_column(sa.String(200))
    registration_id: Mapped[int | None] = mapped_column()
    remote_addr: Mapped[str | None] = mapped_column(sa.String(100))
    detail: Mapped[str | None] = mapped_column(sa.String(500))


class LoginThrottle(Base):
    """Failed admin logins of one username (``user:…``) or one address (``addr:…``), shared by every process.

    ``lockouts`` counts how often the key was locked, so each lock lasts longer than the one before.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    lockouts: Mapped[int] = mapped_column(default=0)
