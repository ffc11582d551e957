"""`lti-tool serve` for real (gunicorn, two web workers, the passback worker beside them): /metrics adds up the
counters of every process, the gauges come from the database, and with LTI_TOOL_LOG_FORMAT=json every line the
server writes is one JSON object."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

LAUNCHES = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def metric(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_served_metrics_add_up_every_process_and_logs_are_json(env, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environ = {**os.environ, "LTI_TOOL_LOG_FORMAT": "json", "LTI_TOOL_BASE_URL": base, "TMPDIR": str(tmp_path)}
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "lti_tool.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--threads", "2"], env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_ready(base, server, log_path)
        ids = [f"test-launch-{n:04d}" for n in range(LAUNCHES)]
        for request_id in ids:  # a new connection each: the two web workers share them
            response = requests.post(f"{base}/lti/launch", data={"id_token": "eyJsecret.token.x", "state": "st4te"},
                                     headers={"X-Request-Id": request_id}, timeout=10)
            assert response.status_code == 401 and response.headers["X-Request-Id"] == request_id
        for _ in range(4):  # whichever worker answers, the sum over both
            text = requests.get(f"{base}/metrics", timeout=10).text
            assert metric(text, "lti_tool_launches_total", outcome="refused", status="401") == LAUNCHES
            assert metric(text, "lti_tool_database_up") == 1
            assert metric(text, "lti_tool_outbox_pending") == 0
        heartbeat = wait_for_heartbeat(base)
        assert 0 <= heartbeat < 60
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, gunicorn's included, is JSON
    assert any(record["logger"] == "gunicorn.error" for record in records)
    for request_id in ids:
        mine = [record for record in records if record.get("request_id") == request_id]
        assert {record["logger"] for record in mine} == {"lti_tool.launch.views", "lti_tool.access"}
    text = log_path.read_text()
    assert "eyJsecret" not in text and "st4te" not in text
    assert not list(Path(tmp_path).glob("lti-tool-metrics-*"))  # the server removed its metrics folder


def wait_until_ready(base: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log_path.read_text()
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("lti-tool serve did not become ready:\n" + log_path.read_text())


def wait_for_heartbeat(base: str) -> float:
    """The passback worker process records its first heartbeat right after it starts."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        age = metric(requests.get(f"{base}/metrics", timeout=10).text, "lti_tool_worker_heartbeat_age_seconds")
        if age is not None and age != float("inf"):
            return age
        time.sleep(0.2)
    raise AssertionError("no heartbeat from the passback worker")
