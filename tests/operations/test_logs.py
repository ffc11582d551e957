"""LTI_TOOL_LOG_FORMAT=json: one JSON object per line, the request id on every line of a request, and neither
the launch's tokens nor its handles in any line."""

from __future__ import annotations

import io
import json
import logging
import re
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.telemetry.logs import ToolLogHandler
from tests.speechace.test_embed import open_activity


@pytest.fixture
def log_stream():
    """The handler `lti-tool` installs at start-up (text), which the app then switches to LTI_TOOL_LOG_FORMAT."""
    stream = io.StringIO()
    handler = ToolLogHandler("text", stream)
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


@pytest.fixture
def settings_overrides(log_stream):
    return {"log_format": "json"}


def records(stream: io.StringIO) -> list[dict]:
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_every_line_of_a_request_carries_its_request_id(app, tool_server, log_stream):
    given = "lb-7f3a9c2e-0001"
    response = requests.post(f"{tool_server.url}/lti/launch", data={"id_token": "x", "state": "y"},
                             headers={"X-Request-Id": given}, timeout=10)
    assert response.status_code == 401
    assert response.headers["X-Request-Id"] == given
    lines = records(log_stream)
    assert {line["logger"] for line in lines} >= {"lti_tool.launch.views", "lti_tool.access"}
    assert {line["request_id"] for line in lines} == {given}
    access = next(line for line in lines if line["logger"] == "lti_tool.access")
    assert access["path"] == "/lti/launch" and access["status"] == 401 and access["level"] == "INFO"


@pytest.mark.parametrize("given", [None, "has spaces in it", "x" * 200, "short"])
def test_a_missing_or_odd_request_id_is_replaced(app, tool_server, log_stream, given):
    headers = {"X-Request-Id": given} if given else {}
    response = requests.post(f"{tool_server.url}/lti/launch", data={}, headers=headers, timeout=10)
    generated = response.headers["X-Request-Id"]
    assert generated != given and len(generated) == 32
    assert {line["request_id"] for line in records(log_stream)} == {generated}


def test_a_launch_logs_no_token_state_nonce_hint_or_handle(connected, speechace_setup, log_stream, tool_server):
    secrets: set[str] = set()
    launch_handles: set[str] = set()

    def remember(response: requests.Response, *args, **kwargs) -> None:
        for url in [response.url, response.headers.get("Location", "")]:
            query = dict(parse_qsl(urlsplit(url).query))
            secrets.update(query.get(name, "") for name in ("login_hint", "lti_message_hint", "state", "nonce"))
        if "text/html" in response.headers.get("Content-Type", ""):
            for form in parse_forms(response.text):
                secrets.update(form.fields.get(name, "") for name in ("id_token", "state"))
            handles = re.findall(r"/lti/attempt/([^/\"?]+)", response.text)
            secrets.update(handles)
            launch_handles.update(handles)

    browser = FormBrowser()
    browser.session.hooks["response"].append(remember)
    page = open_activity(connected, speechace_setup, browser=browser)
    assert page.status_code == 200
    [handle] = launch_handles
    assert browser.get(f"{tool_server.url}/lti/attempt/{handle}/status").status_code == 200  # a page that takes it
    secrets.discard("")
    # login_hint is the learner's id here; the others are an id_token, a state, a nonce and a launch handle.
    assert len({value for value in secrets if len(value) >= 16}) >= 4, secrets
    lines = records(log_stream)
    assert {"/lti/launch", "/lti/attempt/<launch_id>/status"} <= {line.get("path") for line in lines}
    text = log_stream.getvalue()
    assert not [value for value in secrets if value in text]
    assert "eyJ" not in text  # no JWT of any kind


@pytest.mark.parametrize(("path", "logged"), [
    ("/lti/register/invitation/inv-SECRET-token-0123456789", "/lti/register/invitation/<token>"),
    ("/lti/attempt/HANDLE-0123456789abcdef/nothing/here", "/lti/attempt/…"),
    ("/teacher/results/RESULT-0123456789", "/teacher/results/<result_public_id>"),
    ("/lti/login?iss=x&login_hint=HINT-0123456789&lti_message_hint=MSG-0123456789", "/lti/login"),
])
def test_paths_are_logged_without_tokens_handles_or_query(app, tool_server, log_stream, path, logged):
    requests.get(f"{tool_server.url}{path}", timeout=10)
    text = log_stream.getvalue()
    assert [line["path"] for line in records(log_stream) if line["logger"] == "lti_tool.access"] == [logged]
    assert "0123456789" not in text


def test_text_lines_end_with_the_request_id(database, tmp_path):
    from lti_tool.app import create_app
    from lti_tool.config import load_settings
    from lti_tool.services import Services

    stream = io.StringIO()
    handler = ToolLogHandler("json", stream)  # as a command run with another format installed it: the app switches it
    logging.getLogger().addHandler(handler)
    try:
        settings = load_settings({"env": "testing", "database_url": database.url, "data_dir": str(tmp_path)},
                                 environ={})
        client = create_app(settings, services=Services.from_settings(settings, database=database)).test_client()
        response = client.post("/lti/launch", data={}, headers={"X-Request-Id": "proxy-req-000042"})
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.headers["X-Request-Id"] == "proxy-req-000042"
    lines = stream.getvalue().splitlines()
    assert lines and all(line.endswith(" [request proxy-req-000042]") for line in lines), lines
    assert any(f" INFO lti_tool.access: POST /lti/launch {response.status_code} " in line for line in lines), lines
