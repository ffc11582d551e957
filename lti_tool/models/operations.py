"""What the operations checks read from the database: each passback worker's heartbeat."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base
from lti_tool.db import utcnow


class WorkerHeartbeat(Base):
    """One row per passback worker process (``host:pid``), touched every few seconds while its loop runs.

    ``lti-tool doctor``, ``/metrics`` and the alerts read the newest ``last_seen_at``: a worker that is stopped,
    stuck or cannot reach the database stops touching its row. Rows of workers gone for a day are deleted.
    """

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
