"""Secrets the tool holds: its own signing keys and the platforms' service access tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base
from lti_tool.db import utcnow


class ToolKey(Base):
    """An RSA key pair of the tool. The newest active key signs; retired keys stay published until
    ``publish_until`` so tokens signed before a rotation still verify (overlap period)."""

    __tablename__ = "tool_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(100), unique=True)
    private_key_pem: Mapped[str] = mapped_column(sa.Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    publish_until: Mapped[dt.datetime | None] = mapped_column()

    def __repr__(self) -> str:  # never show the private key
        return f"<ToolKey {self.kid} active={self.is_active}>"


class ServiceAccessToken(Base):
    """An OAuth2 access token for a platform's services, shared by every web and worker process."""

    __tablename__ = "service_access_token"
    __table_args__ = (sa.UniqueConstraint("registration_id", "scopes", name="uq_service_access_token_scopes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_registration.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(sa.String(2000))
    access_token: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[dt.datetime] = mapped_column()

    def __repr__(self) -> str:
        return f"<ServiceAccessToken registration={self.registration_id} expires_at={self.expires_at}>"
