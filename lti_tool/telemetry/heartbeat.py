"""The passback worker's heartbeat: a row per worker process, touched while its loop runs.

A worker that is stopped, stuck in a round or cut off from the database stops touching it; its age is what
`lti-tool doctor`, /metrics and the alert read. Written at most every :data:`HEARTBEAT_INTERVAL_SECONDS`, so the
heartbeat costs one small write per worker every few seconds, not one per poll.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import Database
from lti_tool.db import on_conflict_statement
from lti_tool.db import utcnow
from lti_tool.models import WorkerHeartbeat

HEARTBEAT_INTERVAL_SECONDS = 15.0
# Older than this, a heartbeat means the worker is not working (doctor fails, the documented alert fires).
STALE_AFTER = dt.timedelta(minutes=2)
# Rows of workers gone this long are deleted (a restart gets a new pid, so a new row).
FORGET_AFTER = dt.timedelta(days=1)


def worker_identity() -> str:
    """``host:pid`` of this process, so several workers on several machines keep separate rows."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def record_heartbeat(database: Database, worker_id: str, now: dt.datetime | None = None) -> None:
    """Touch this worker's row (one short transaction of its own)."""
    now = now or utcnow()
    with database.session() as session:
        statement = on_conflict_statement(session.get_bind().dialect.name, WorkerHeartbeat.__tablename__,
                                          ("worker_id",), ("worker_id", "started_at", "last_seen_at"),
                                          update=False, returning=("worker_id",))
        inserted = session.execute(statement, {"worker_id": worker_id, "started_at": now, "last_seen_at": now})
        if inserted.first() is None:  # the row exists: move last_seen_at only, started_at stays
            session.execute(sa.update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id)
                            .values(last_seen_at=now))
        session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen_at < now - FORGET_AFTER))


def newest_heartbeat(session: orm.Session) -> dt.datetime | None:
    """When any worker last said it was alive, or None when none ever did."""
    return session.scalar(sa.select(sa.func.max(WorkerHeartbeat.last_seen_at)))


class Heartbeat:
    """Throttles :func:`record_heartbeat` for one worker loop (the loop polls every second)."""

    def __init__(self, database: Database, worker_id: str | None = None,
                 interval_seconds: float = HEARTBEAT_INTERVAL_SECONDS) -> None:
        self.database = database
        self.worker_id = worker_id or worker_identity()
        self.interval = dt.timedelta(seconds=interval_seconds)
        self._last: dt.datetime | None = None

    def beat(self, now: dt.datetime | None = None) -> None:
        """Record the heartbeat if the last try is older than the interval. Raises what the database raises (the
        next try is an interval later: a database that is down is not asked every poll)."""
        now = now or utcnow()
        if self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        record_heartbeat(self.database, self.worker_id, now)
