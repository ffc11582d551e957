"""A circuit breaker per platform (registration), kept in the database so every worker process shares it.

An LMS that is down is one party, not one problem per queued score: after ``threshold`` failures within
``window`` (5xx, 429, timeouts, refused connections — of its token or AGS endpoints) the breaker opens, the claim
skips that platform's scores, and one worker at a time sends a single probe, at most once per ``probe_interval``
(longer if the platform's Retry-After asks so). A probe that succeeds closes the breaker and makes the platform's
pending scores due at once. Cheap by design: a sent score writes nothing here; the workers read the few rows with
failures once per round, and write only when a platform fails, is probed, or recovers.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from lti_tool.db import Base
from lti_tool.db import Database
from lti_tool.db import sql_constant
from lti_tool.models import Attempt
from lti_tool.models import PlatformBreaker
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus

FAILURE_THRESHOLD = 5
FAILURE_WINDOW = dt.timedelta(seconds=60)
PROBE_INTERVAL = dt.timedelta(seconds=2)  # never more than one probe per second, whatever the platform says
MIN_PROBE_INTERVAL = dt.timedelta(seconds=1)
MAX_RETRY_AFTER = dt.timedelta(hours=1)
MAX_ERROR_TEXT = 500


@dataclass(frozen=True)
class BreakerState:
    registration_id: int
    failures: int
    opened: bool
    probe_at: dt.datetime | None


def is_platform_failure(status: int | None) -> bool:
    """A failure of the platform itself, not an answer about one score: no answer, 5xx, or 429 (slow down)."""
    return status is None or status >= 500 or status == 429


def parse_retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """``Retry-After`` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = dt.timedelta(seconds=int(value))
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        delay = moment - now
    return min(max(delay, dt.timedelta(0)), MAX_RETRY_AFTER)


class Breakers:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime],
                 threshold: int = FAILURE_THRESHOLD, window: dt.timedelta = FAILURE_WINDOW,
                 probe_interval: dt.timedelta = PROBE_INTERVAL) -> None:
        self.database = database
        self.clock = clock
        self.threshold = threshold
        self.window = window
        self.probe_interval = max(probe_interval, MIN_PROBE_INTERVAL)

    def snapshot(self) -> dict[int, BreakerState]:
        """The platforms with recent failures or an open breaker (usually none): one small query per round."""
        table = PlatformBreaker
        with self.database.session() as session:
            rows = session.execute(sa.select(table.registration_id, table.failures, table.opened_at, table.probe_at)
                                   .where(sa.or_(table.failures > 0, table.opened_at.is_not(None)))).all()
        return {row.registration_id: BreakerState(row.registration_id, row.failures, row.opened_at is not None,
                                                  row.probe_at) for row in rows}

    def record_failure(self, registration_id: int, error: str, http_status: int | None,
                       retry_after: dt.timedelta | None) -> bool:
        """Count a platform failure (one upsert); True when the platform's breaker is open afterwards."""
        now = self.clock()
        delay = max(self.probe_interval, retry_after or dt.timedelta(0))
        table = Base.metadata.tables[PlatformBreaker.__tablename__]
        dialect = self.database.engine.dialect.name
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        opens_at_once = self.threshold <= 1
        statement = insert.values(
            registration_id=registration_id, failures=1, last_failure_at=now,
            opened_at=now if opens_at_once else None, probe_at=now + delay if opens_at_once else None, probes=0,
            last_error=error[:MAX_ERROR_TEXT], last_http_status=http_status)
        recent = table.c.last_failure_at > now - self.window
        failures = sa.case((recent, table.c.failures + 1), else_=1)
        opened = sa.case((table.c.opened_at.is_not(None), table.c.opened_at),
                         (failures >= self.threshold, sa.literal(now, table.c.opened_at.type)), else_=None)
        upsert = statement.on_conflict_do_update(index_elements=["registration_id"], set_={
            "failures": failures, "last_failure_at": now, "opened_at": opened,
            "probe_at": sa.case((opened.is_not(None), sa.literal(now + delay, table.c.probe_at.type)), else_=None),
            "probes": sa.case((table.c.opened_at.is_not(None), table.c.probes + 1), else_=0),
            "last_error": statement.excluded.last_error, "last_http_status": statement.excluded.last_http_status,
        }).returning(table.c.opened_at)
        with self.database.session() as session:
            return session.execute(upsert).scalar_one() is not None

    def take_probe(self, registration_id: int) -> bool:
        """Win the right to send the next probe to an open platform: one worker per probe interval."""
        now = self.clock()
        table = PlatformBreaker
        with self.database.session() as session:
            result = session.execute(
                sa.update(table).where(table.registration_id == registration_id, table.opened_at.is_not(None),
                                       sa.or_(table.probe_at.is_(None), table.probe_at <= now))
                .values(probe_at=now + self.probe_interval), execution_options={"synchronize_session": False})
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def close(self, registration_id: int) -> bool:
        """The platform answered: forget its failures; if it was open, its pending scores are due now.
        True when it was open."""
        now = self.clock()
        table = PlatformBreaker
        with self.database.session() as session:
            was_open = session.scalar(sa.select(table.opened_at).where(table.registration_id == registration_id)
                                      .with_for_update()) is not None
            session.execute(sa.update(table).where(table.registration_id == registration_id)
                            .values(failures=0, opened_at=None, probe_at=None, probes=0),
                            execution_options={"synchronize_session": False})
            if was_open:
                of_platform = sa.select(Attempt.id).where(Attempt.registration_id == registration_id)
                session.execute(sa.update(ScoreSubmission).where(
                    ScoreSubmission.status == sql_constant(SubmissionStatus.PENDING.value),
                    ScoreSubmission.next_attempt_at > now, ScoreSubmission.attempt_id.in_(of_platform),
                ).values(next_attempt_at=now), execution_options={"synchronize_session": False})
        return was_open
