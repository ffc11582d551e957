"""People who may open the tool's admin pages without an LMS: accounts created at install (``lti-tool admin``)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base
from lti_tool.db import utcnow


class ToolAdmin(Base):
    """A tool administrator. Only a salted hash of the password is stored (werkzeug.security)."""

    __tablename__ = "tool_admin"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never show the hash
        return f"<ToolAdmin {self.id} {self.username!r}>"
