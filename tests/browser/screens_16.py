"""Screenshots for #16's closing note: the teacher's and the administrator's pages in Spanish and in Arabic, taken in
Chromium through the sandbox LMS (not a test: pytest collects this file only when it is named, and it skips unless
``LTI_TOOL_SCREENS`` names the output folder).

    LTI_TOOL_SCREENS=/tmp/screens .venv/bin/pytest -q tests/browser/screens_16.py

writes ``16-teacher-picker-ar.png`` (the activity picker of a teacher whose LMS speaks Arabic),
``16-teacher-class-view-es.png`` (the class view of a teacher whose LMS speaks Spanish (Mexico), a student graded
by Speechace) and ``16-admin-es.png`` (the administration page of a browser asking for Spanish).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lti_tool.sandbox.demo import SPEECHACE_TITLE
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_accessibility import ADMIN_PASSWORD
from tests.browser.test_accessibility import ADMIN_USER
from tests.browser.test_accessibility import ensure_admin
from tests.browser.test_click_path import overall_of

expect = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed").expect
pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 900}


def _whole_frame(page: Any) -> None:
    """The LMS's frame as tall as the tool's page, so one screenshot shows all of it."""
    frame = next(frame for frame in page.frames if frame != page.main_frame)
    height = frame.evaluate("() => document.documentElement.scrollHeight")
    page.evaluate(f"() => {{ document.querySelector('#tool').style.height = '{int(height) + 40}px'; }}")


def test_screens(page: Any, chromium: Any, demo: Any, out: Path) -> None:
    platform = demo.sandbox.platform
    teacher = demo.sandbox.teacher.sub
    page.set_viewport_size(WIDE)

    # The picker of a teacher whose LMS speaks Arabic.
    platform.set_locale(teacher, "ar")
    page.goto(f"{demo.lms_url}/course")
    page.get_by_test_id("add-speaking-test").click()
    tool = page.frame_locator("#tool")
    expect(tool.get_by_test_id("activity-form")).to_be_visible()
    choice = tool.get_by_test_id("score-choice")
    choice.select_option(overall_of(choice, SPEECHACE_TITLE))
    tool.locator("input[name=title]").fill("محادثة الأسبوع السابع")
    tool.locator("input[name=score_maximum]").fill("20")
    _whole_frame(page)
    page.screenshot(path=out / "16-teacher-picker-ar.png", full_page=True)
    tool.get_by_test_id("add-activity").click()
    page.wait_for_url("**/course?*added=*")
    link = str(page.locator("li.added").get_attribute("data-link"))

    # A student takes the test; the class view of a teacher whose LMS speaks Spanish (Mexico).
    student = chromium.new_context(viewport=WIDE).new_page()
    student.set_default_timeout(TIMEOUT_MS)
    student.goto(f"{demo.lms_url}/course/open/grace/{link}")
    provider = student.frame_locator("#tool").frame_locator("#provider-test")
    provider.locator("#score-overall").fill("7.2")
    provider.locator("#finish").click()
    expect(student.frame_locator("#tool").get_by_test_id("attempt-status")).to_contain_text("✓", timeout=30_000)
    student.context.close()
    platform.set_locale(teacher, "es-MX")
    page.goto(f"{demo.lms_url}/course/open/{teacher}/{link}")
    tool = page.frame_locator("#tool")
    expect(tool.get_by_test_id("attempts")).to_be_visible()
    expect(tool.locator("html")).to_have_attribute("lang", "es")
    _whole_frame(page)
    page.screenshot(path=out / "16-teacher-class-view-es.png", full_page=True)

    # The tool's administration, for a browser that asks for Spanish.
    ensure_admin(demo)
    admin = chromium.new_context(viewport=WIDE, extra_http_headers={"Accept-Language": "es-MX,es;q=0.9"}).new_page()
    admin.set_default_timeout(TIMEOUT_MS)
    admin.goto(f"{demo.tool_url}/admin/login")
    admin.locator("input[name=username]").fill(ADMIN_USER)
    admin.locator("input[name=password]").fill(ADMIN_PASSWORD)
    admin.locator("button[type=submit]").click()
    expect(admin.get_by_test_id("overview")).to_be_visible()
    expect(admin.locator("html")).to_have_attribute("lang", "es")
    admin.screenshot(path=out / "16-admin-es.png", full_page=True)
    admin.context.close()
