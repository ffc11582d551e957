"""The sandbox demo: an emulated LMS registered with the tool, launching it in an iframe; never in production."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from lti_tool.config import ConfigError
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.demo import build_sandbox
from lti_tool.sandbox.demo import create_sandbox_app
from lti_tool.sandbox.demo import start_sandbox
from lti_tool.sandbox.live_server import LiveServer


@pytest.mark.parametrize("env", ["production", "testing"])
def test_sandbox_refuses_to_start_outside_development(settings, database, env):
    with pytest.raises(ConfigError, match="only with LTI_TOOL_ENV=development"):
        start_sandbox(replace(settings, env=env), database, 0)


def test_course_page_launches_the_tool_in_an_iframe(app, settings, database):
    with LiveServer() as server:
        sandbox = build_sandbox(settings, database, server.url)
        server.set_app(create_sandbox_app(sandbox, settings.base_url))
        browser = FormBrowser()
        course = browser.get(f"{server.url}/course").text
        assert "Ada Lovelace (Teacher)" in course and "Grace Hopper (Student)" in course
        for sub, landing in ((sandbox.people[0][0], "teacher-setup"), ("grace", "learner-landing")):
            page = browser.get(f"{server.url}/course/open/{sub}/speaking-1").text
            iframe = re.search(r"<iframe[^>]*>", page).group(0)
            assert f"microphone {settings.base_url}" in html.unescape(iframe)
            src = html.unescape(re.search(r"src='([^']+)'", iframe).group(1))
            assert src.startswith(settings.url("/lti/login"))
            assert landing in browser.get(src).text


def test_a_second_demo_run_replaces_the_sandbox_registration(app, settings, database):
    with LiveServer() as server:
        first = build_sandbox(settings, database, server.url)
        second = build_sandbox(settings, database, server.url)
        server.set_app(create_sandbox_app(second, settings.base_url))
        assert first.client.client_id != second.client.client_id
        page = FormBrowser().get(f"{server.url}/course/open/grace/speaking-2").text
        src = html.unescape(re.search(r"src='([^']+)'", page).group(1))
        assert "learner-landing" in FormBrowser().get(src).text
