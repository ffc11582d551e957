"""The passback worker's heartbeat: written by a running worker's loop, throttled, and old rows forgotten."""

from __future__ import annotations

import datetime as dt
import threading
import time

import sqlalchemy as sa

from lti_tool.db import utcnow
from lti_tool.maintenance import passback_worker
from lti_tool.models import WorkerHeartbeat
from lti_tool.telemetry.heartbeat import Heartbeat
from lti_tool.telemetry.heartbeat import newest_heartbeat
from lti_tool.telemetry.heartbeat import record_heartbeat


def rows(database) -> dict[str, WorkerHeartbeat]:
    with database.session() as session:
        return {row.worker_id: row for row in session.scalars(sa.select(WorkerHeartbeat))}


def test_a_running_worker_records_its_heartbeat(database, settings):
    worker = passback_worker(database, settings)
    stop = threading.Event()
    thread = worker.start_thread(stop, poll_seconds=0.05)
    try:
        deadline = time.monotonic() + 10
        while not rows(database) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.wake()
        thread.join(10)
    assert list(rows(database)) == [worker.heartbeat.worker_id]


def test_beats_are_throttled_and_move_last_seen_only(database):
    heartbeat = Heartbeat(database, "host:1", interval_seconds=15)
    start = utcnow()
    heartbeat.beat(start)
    heartbeat.beat(start + dt.timedelta(seconds=5))  # within the interval: no write
    assert rows(database)["host:1"].last_seen_at == start
    heartbeat.beat(start + dt.timedelta(seconds=20))
    row = rows(database)["host:1"]
    assert row.started_at == start and row.last_seen_at == start + dt.timedelta(seconds=20)
    with database.session() as session:
        assert newest_heartbeat(session) == start + dt.timedelta(seconds=20)


def test_rows_of_workers_gone_for_a_day_are_deleted(database):
    now = utcnow()
    record_heartbeat(database, "gone:1", now - dt.timedelta(days=2))
    record_heartbeat(database, "recent:2", now - dt.timedelta(hours=3))
    record_heartbeat(database, "here:3", now)
    assert set(rows(database)) == {"recent:2", "here:3"}
