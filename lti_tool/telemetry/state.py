"""The outbox and worker numbers an admin watches, read from the database, so every process tells the same."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.telemetry.heartbeat import newest_heartbeat


@dataclass(frozen=True)
class OutboxState:
    pending: int
    parked: int
    oldest_pending_age_seconds: float  # 0 when nothing is pending
    heartbeat_age_seconds: float | None  # None: no worker ever recorded one


def outbox_state(session: orm.Session, now: dt.datetime | None = None) -> OutboxState:
    """Two short queries: pending and parked scores (the outbox index's status prefix), the newest heartbeat."""
    now = now or utcnow()
    statuses = (SubmissionStatus.PENDING.value, SubmissionStatus.PARKED.value)
    rows = session.execute(
        sa.select(ScoreSubmission.status, sa.func.count(), sa.func.min(ScoreSubmission.datetime_created))
        .where(ScoreSubmission.status.in_(statuses)).group_by(ScoreSubmission.status))
    counts: dict[str, int] = {}
    oldest_pending: dt.datetime | None = None
    for status, count, oldest in rows:
        counts[status] = int(count)
        if status == SubmissionStatus.PENDING.value:
            oldest_pending = oldest
    heartbeat = newest_heartbeat(session)
    return OutboxState(
        pending=counts.get(SubmissionStatus.PENDING.value, 0),
        parked=counts.get(SubmissionStatus.PARKED.value, 0),
        oldest_pending_age_seconds=_age(now, oldest_pending) or 0.0,
        heartbeat_age_seconds=_age(now, heartbeat),
    )


def _age(now: dt.datetime, then: dt.datetime | None) -> float | None:
    if then is None:
        return None
    if then.tzinfo is None:  # every stored time is UTC
        then = then.replace(tzinfo=dt.UTC)
    return max(0.0, (now - then).total_seconds())
