"""What the workers know about each platform's health: one row per registration, shared by every worker process."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base


class PlatformBreaker(Base):
    """The passback circuit breaker of one registration (its token and AGS endpoints).

    No row, or ``opened_at`` NULL: scores are sent as usual. ``failures`` counts recent consecutive platform failures
    (5xx, 429, timeouts, refused connections); at the threshold the breaker opens and the workers send nothing to
    the platform but one probe at ``probe_at`` at a time. A successful probe closes it.
    """

    __tablename__ = "platform_breaker"

    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_registration.id", ondelete="CASCADE"),
                                                 primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column()
    opened_at: Mapped[dt.datetime | None] = mapped_column()
    probe_at: Mapped[dt.datetime | None] = mapped_column()
    probes: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_http_status: Mapped[int | None] = mapped_column()
