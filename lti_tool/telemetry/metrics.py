"""Prometheus metrics: counters where an outcome is decided, and gauges read from the database at scrape time.

Counters live in each process. Under gunicorn (several web workers, and the passback worker beside them) they are
kept in ``PROMETHEUS_MULTIPROC_DIR``, which ``lti-tool serve`` sets up, and /metrics adds every process's files up.
The outbox and heartbeat gauges are not counters of one process: they are read from the database by
:class:`OutboxCollector` on each scrape, so whichever web worker answers, the numbers are the same.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client import values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from lti_tool.db import Database
from lti_tool.telemetry.state import outbox_state

log = logging.getLogger(__name__)

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _ensure_multiprocess_folder() -> None:
    """prometheus-client writes a file there at a counter's first use and raises if the folder is missing; inside
    the passback worker that would turn every send into an error. A folder the admin named is created here."""
    folder = os.environ.get(MULTIPROC_VARIABLE)
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            log.warning("cannot create %s=%s (%s): counters will fail", MULTIPROC_VARIABLE, folder, exc)


_ensure_multiprocess_folder()

LAUNCHES = Counter("lti_tool_launches", "LTI launches by outcome (accepted: validated and recorded; refused) "
                   "and the HTTP status of the page shown.", ["outcome", "status"])
CALLBACKS = Counter("lti_tool_callbacks", "Provider callbacks by provider and outcome (accepted, duplicate, "
                    "refused) and HTTP status.", ["provider", "outcome", "status"])
AGS_REQUESTS = Counter("lti_tool_ags_requests", "Requests to LMS grade services (AGS) by HTTP status "
                       "(none: no answer, e.g. a timeout).", ["status"])


def count_launch(accepted: bool, status: int) -> None:
    _increment(LAUNCHES, outcome="accepted" if accepted else "refused", status=str(status))


def count_callback(provider: str, outcome: str, status: int) -> None:
    _increment(CALLBACKS, provider=provider, outcome=outcome, status=str(status))


def count_ags_request(status: int | None) -> None:
    _increment(AGS_REQUESTS, status=str(status) if status is not None else "none")


def _increment(counter: Counter, **labels: str) -> None:
    # Counting never fails what it counts: a score already accepted by the LMS must not be retried because the
    # metrics folder is full or gone.
    try:
        counter.labels(**labels).inc()
    except Exception as exc:
        log.warning("metrics: cannot count %s (%s)", labels, exc)


class OutboxCollector(Collector):
    """The outbox and the worker heartbeat, from the database, at each scrape (a short query)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("lti_tool_database_up", "1 when /metrics could read the database, else 0.")
        try:
            with self.database.sessionmaker() as session:
                state = outbox_state(session)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("metrics: cannot read the database (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("lti_tool_outbox_pending", "Scores waiting to be sent to an LMS gradebook.",
                                value=state.pending)
        yield GaugeMetricFamily("lti_tool_outbox_oldest_pending_age_seconds", "Age of the oldest score waiting to "
                                "be sent (0 when none waits).", value=state.oldest_pending_age_seconds)
        yield GaugeMetricFamily("lti_tool_outbox_parked", "Scores the LMS refused for good; a teacher or admin "
                                "must act (see the teacher's results page).", value=state.parked)
        age = state.heartbeat_age_seconds
        yield GaugeMetricFamily("lti_tool_worker_heartbeat_age_seconds", "Seconds since a passback worker last "
                                "recorded its heartbeat (+Inf: none ever did).", value=math.inf if age is None else age)


def render_metrics(database: Database) -> bytes:
    """The Prometheus text exposition of every counter (all processes' under gunicorn) and the database gauges."""
    if os.environ.get(MULTIPROC_VARIABLE):
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)  # type: ignore[no-untyped-call]
    else:
        counters = REGISTRY
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(OutboxCollector(database))
    return generate_latest(counters) + generate_latest(gauges)


def prepare_multiprocess() -> str | None:
    """Before gunicorn forks: make every process of this server keep its counters in one folder.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` if the admin set it (it must be emptied at each start, as systemd's
    RuntimeDirectory= does), else a new temporary folder. Returns the folder to delete when the server stops
    (None for the admin's). prometheus_client picks its value store when it is first imported — here, before the
    variable was set — so the choice is made again; no counter has a value yet (children are created on first use).
    """
    created = None
    if not os.environ.get(MULTIPROC_VARIABLE):
        created = tempfile.mkdtemp(prefix="lti-tool-metrics-")
        os.environ[MULTIPROC_VARIABLE] = created
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return created


def remove_multiprocess_folder(path: str | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def mark_process_dead(pid: int) -> None:
    """A web worker exited: drop its live gauges (gunicorn's ``child_exit``). Its counters stay summed."""
    if os.environ.get(MULTIPROC_VARIABLE):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
