"""Chaos: the LMS down during a burst of scores, a web process killed mid-callback, a passback worker killed
mid-send — and still every grade in the gradebook, right, once. Real processes: gunicorn, ``lti-tool worker``,
the LMS emulator; PostgreSQL (as in production). Bounded: about 30 s.

The scenario is bench/outage_drain.py's, run small; the drain time is printed (``pytest -s`` shows it)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import BACKENDS
from tests.conftest import PG_SERVER_URL

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytestmark = [pytest.mark.chaos,
              pytest.mark.skipif("postgresql" not in BACKENDS, reason="the chaos test runs on PostgreSQL")]


@pytest.fixture
def outage(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("LTI_TOOL_BENCH_PG_URL", PG_SERVER_URL)
    for name in ("harness", "callback_setup", "outage_drain"):  # read the PostgreSQL URL afresh
        sys.modules.pop(name, None)
    import outage_drain
    name = f"lti_tool_chaos_{secrets.token_hex(4)}"
    yield outage_drain, name, tmp_path
    server = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def test_an_outage_and_two_crashes_lose_nothing_and_send_every_grade_once(outage):
    outage_drain, database_name, log_dir = outage
    plan = outage_drain.OutagePlan(
        scores=200, down_seconds=6, retry_after=1, web_workers=2, passback_workers=2, per_platform=4,
        sender_threads=8, kill_web=True, kill_worker=True, lease_seconds=4, http_timeout=2, lms_delay=0.1,
        drain_limit=40, database_name=database_name, log_dir=log_dir)
    figures = outage_drain.run_outage(plan)
    print(f"\nchaos: {figures['learners']} scores, LMS down {plan.down_seconds:.0f} s, "
          f"{figures['requests_to_down_lms']} requests to the down LMS, drained "
          f"{figures['drain_seconds_after_recovery']} s after recovery, callbacks retried "
          f"{figures['callbacks_retried']}, refused score POSTs {figures['score_posts_refused_by_status']}")
    assert figures["web_worker_killed"] and figures["passback_worker_killed"]
    assert figures["callback_answers"] == {'{"status":"accepted"}': 200} or \
        sum(figures["callback_answers"].values()) == 200  # a callback the killed process had stored is a duplicate
    assert (figures["lost"], figures["wrong"], figures["duplicated"]) == ([], [], [])
    assert figures["drained"]
    # Whether the kill lands between the LMS storing a score and the worker recording it is up to timing: when it
    # does, the resend under the same timestamp is refused (409) and counted as delivered — "duplicated" above
    # stays empty either way. tests/grading/test_resend.py drives that window deterministically.
    assert set(figures["score_posts_refused_by_status"]) <= {"409"}
    # 6 s down: before the breakers open, a few failures per worker; then at most one probe per Retry-After.
    assert figures["requests_to_down_lms"] < 60
