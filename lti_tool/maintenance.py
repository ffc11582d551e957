"""Background work shared by `lti-tool worker` processes and the threads inside `lti-tool serve`: grade passback
(the outbox) and housekeeping. Any number of workers can run side by side: the outbox is claimed with leases."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.grading import PassbackWorker
from lti_tool.http import HttpSession
from lti_tool.keys import purge_retired_keys
from lti_tool.models import LtiLaunch
from lti_tool.privacy.retention import apply_retention

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_SECONDS = 60.0
# An expired launch row is kept this much longer: its login id is what refuses a replay of the login, and hosts'
# clocks may disagree about when that login's state expired.
PURGE_GRACE = dt.timedelta(hours=1)


def housekeeping(database: Database, settings: Settings | None = None) -> dict[str, int]:
    """Delete what has expired: launch handles, keys past their overlap, and (``LTI_TOOL_RETENTION_DAYS``) what
    learners did longer ago than the retention period."""
    with database.session() as session:
        return {
            "launches": purge_expired_launches(session),
            "keys": purge_retired_keys(session),
            **{f"retention_{kind}": count for kind, count in
               apply_retention(session, settings.retention_days if settings else 0).items()},
        }


def purge_expired_launches(session: orm.Session, now: dt.datetime | None = None) -> int:
    """Delete launch rows expired more than :data:`PURGE_GRACE` ago (an expired launch opens no page already)."""
    cutoff = (now or utcnow()) - PURGE_GRACE
    result = session.execute(sa.delete(LtiLaunch).where(LtiLaunch.expires_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def run_housekeeping(database: Database, stop: threading.Event, settings: Settings | None = None) -> None:
    """Loop until ``stop`` is set (at least one round). Errors are logged and retried, never fatal."""
    while True:
        try:
            purged = housekeeping(database, settings)
            if any(purged.values()):
                log.info("housekeeping purged %s", purged)
        except Exception:  # a transient database error must not kill the worker
            log.exception("housekeeping failed; retrying in %.0f s", HOUSEKEEPING_INTERVAL_SECONDS)
        if stop.wait(HOUSEKEEPING_INTERVAL_SECONDS):
            return


def passback_worker(database: Database, settings: Settings) -> PassbackWorker:
    # Its own HTTP session: requests.Session is not meant to be shared across threads.
    return PassbackWorker(database, HttpSession(timeout=settings.http_timeout_seconds), settings)


def start_background(database: Database, settings: Settings, stop: threading.Event) -> PassbackWorker:
    """Housekeeping and passback in daemon threads (the embedded server); returns the worker to wake."""
    threading.Thread(target=run_housekeeping, args=(database, stop, settings), name="housekeeping",
                     daemon=True).start()
    worker = passback_worker(database, settings)
    worker.start_thread(stop)
    return worker
