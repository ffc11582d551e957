"""/metrics: Prometheus text whose counters move with launches, callbacks and sent scores, and whose outbox and
heartbeat gauges are read from the database."""

from __future__ import annotations

import math

import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from lti_tool.app import create_app
from lti_tool.config import load_settings
from lti_tool.maintenance import passback_worker
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.services import Services
from lti_tool.telemetry.heartbeat import record_heartbeat
from tests.speechace.test_callback import take_test


def scrape(url: str, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name: str, **labels: str) -> float:
    """The sum over every sample of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, sample_labels), v in samples.items() if n == name and wanted <= sample_labels)


def test_counters_and_gauges_move_with_a_launch_a_callback_and_a_sent_score(connected, speechace_setup, settings,
                                                                           database):
    url = connected.tool_url
    before = scrape(url)
    assert value(before, "lti_tool_database_up") == 1
    assert value(before, "lti_tool_outbox_pending") == 0
    assert value(before, "lti_tool_worker_heartbeat_age_seconds") == math.inf  # no worker ever ran

    assert take_test(connected, speechace_setup).status == 200  # a learner launch, then Speechace's callback
    after_callback = scrape(url)
    launches = "lti_tool_launches_total"
    assert value(after_callback, launches, outcome="accepted", status="200") == \
        value(before, launches, outcome="accepted", status="200") + 1
    callbacks = "lti_tool_callbacks_total"
    assert value(after_callback, callbacks, provider="speechace", outcome="accepted", status="200") == \
        value(before, callbacks, provider="speechace", outcome="accepted", status="200") + 1
    assert value(after_callback, "lti_tool_outbox_pending") == 1
    assert value(after_callback, "lti_tool_outbox_oldest_pending_age_seconds") >= 0

    worker = passback_worker(database, settings)
    assert worker.run_once()["sent"] == 1
    worker.heartbeat.beat()
    after_send = scrape(url)
    ags = "lti_tool_ags_requests_total"
    sent_ok = sum(total(after_send, ags, status=str(code)) - total(before, ags, status=str(code))
                  for code in range(200, 300))
    assert sent_ok == 1  # the score POST (the token request is not an AGS request)
    assert value(after_send, "lti_tool_outbox_pending") == 0
    assert value(after_send, "lti_tool_outbox_oldest_pending_age_seconds") == 0
    assert 0 <= value(after_send, "lti_tool_worker_heartbeat_age_seconds") < 60

    refused = requests.post(f"{url}/lti/launch", data={"id_token": "not-a-jwt", "state": "x"}, timeout=10)
    assert refused.status_code == 401  # no login state: expired or replayed
    assert value(scrape(url), launches, outcome="refused", status="401") == \
        value(before, launches, outcome="refused", status="401") + 1


def test_parked_scores_and_a_duplicate_callback_show(connected, speechace_setup, database):
    url = connected.tool_url
    before = scrape(url)
    assert take_test(connected, speechace_setup).status == 200
    assert speechace_setup.emulator.resend(0).status == 200  # the same callback delivered twice
    with database.session() as session:
        session.execute(sa.update(ScoreSubmission).values(status=SubmissionStatus.PARKED.value))
    after = scrape(url)
    assert value(after, "lti_tool_outbox_parked") == 1
    assert value(after, "lti_tool_outbox_pending") == 0
    callbacks = "lti_tool_callbacks_total"
    assert value(after, callbacks, provider="speechace", outcome="duplicate", status="200") == \
        value(before, callbacks, provider="speechace", outcome="duplicate", status="200") + 1


def test_a_refused_callback_is_counted(app, tool_server):
    before = scrape(tool_server.url)
    response = requests.post(f"{tool_server.url}/callbacks/speechace?course=1&quiz=1&user=1&sig=forged",
                             json={"userId": "u"}, timeout=10)
    assert response.status_code == 403
    after = scrape(tool_server.url)
    key = {"provider": "speechace", "outcome": "refused", "status": "403"}
    assert value(after, "lti_tool_callbacks_total", **key) == value(before, "lti_tool_callbacks_total", **key) + 1


def test_metrics_token_protects_the_endpoint(database, tmp_path):
    settings = load_settings({"env": "testing", "database_url": database.url, "data_dir": str(tmp_path),
                              "metrics_token": "scrape-token-123456"}, environ={})
    client = create_app(settings, services=Services.from_settings(settings, database=database)).test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    record_heartbeat(database, "w:1")
    allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123456"})
    assert allowed.status_code == 200
    assert b"lti_tool_worker_heartbeat_age_seconds" in allowed.data


def test_a_counter_that_cannot_be_written_does_not_fail_what_it_counts(monkeypatch, caplog):
    from lti_tool.telemetry import metrics

    def broken(**labels):
        raise OSError("No space left on device")

    monkeypatch.setattr(metrics.AGS_REQUESTS, "labels", broken)
    metrics.count_ags_request(200)  # no exception: the score the LMS took is not retried for a metric
    assert "cannot count" in caplog.text
