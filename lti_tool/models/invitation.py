"""Registration invitations: a single-use, expiring URL a tool admin gives an LMS admin to register with."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base
from lti_tool.db import utcnow


class RegistrationInvitation(Base):
    """An invitation to register through LTI Dynamic Registration.

    Attributes:
        token_hash: SHA-256 of the token in the URL; the token itself is shown once and never stored.
        used_at / registration_id: set, in the registering request's transaction, when a platform used it.
    """

    __tablename__ = "registration_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("lti_registration.id", ondelete="SET NULL"))
