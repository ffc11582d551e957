"""The student's pages in Chromium, inside the sandbox LMS's frame, for both providers, at 1280 px and 375 px:
nothing scrolls sideways, the new-window link is in view without scrolling, and the completed page says what the
gradebook holds ("in your course gradebook ✓") once the LMS has it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lti_tool.sandbox.demo import ITEP_TITLE
from lti_tool.sandbox.demo import SPEECHACE_TITLE
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_click_path import add_activity

expect = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed").expect
pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
SIDEWAYS = "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
IN_GRADEBOOK = re.compile("in your course gradebook ✓")


def _student(chromium: Any, viewport: dict[str, int]) -> Any:
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def _tool(page: Any) -> Any:
    page.wait_for_selector("#tool")
    return next(frame for frame in page.frames if "/lti/" in frame.url)


def _fits(page: Any, where: str) -> None:
    """Neither the LMS page nor the tool's page inside its frame scrolls sideways."""
    assert page.evaluate(SIDEWAYS) <= 0, f"{where}: the LMS page scrolls sideways"
    assert _tool(page).evaluate(SIDEWAYS) <= 0, f"{where}: the tool's page scrolls sideways"


def _in_view_without_scrolling(page: Any, locator: Any, where: str) -> None:
    box = locator.bounding_box()
    assert box is not None and box["y"] >= 0, where
    assert box["y"] + box["height"] <= page.viewport_size["height"], f"{where}: {box} is below the fold"


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280", "375"])
def test_speechace_student_pages_fit_and_tell_the_gradebook(page, chromium, demo, screenshot, viewport):
    link = add_activity(page, demo, SPEECHACE_TITLE, "Week 7 speaking", 20)
    student = _student(chromium, viewport)
    student.goto(f"{demo.lms_url}/course/open/grace/{link}")
    tool = student.frame_locator("#tool")
    expect(tool.get_by_test_id("about-test")).to_contain_text("answer each question aloud")
    new_window = tool.get_by_test_id("new-window")
    expect(new_window).to_be_visible()
    _in_view_without_scrolling(student, new_window, f"new-window link at {viewport['width']} px")
    _fits(student, f"the test page at {viewport['width']} px")
    provider = tool.frame_locator("#provider-test")
    provider.locator("#score-overall").fill("7.2")
    provider.locator("#finish").click()
    expect(tool.get_by_test_id("attempt-status")).to_contain_text(IN_GRADEBOOK, timeout=30_000)
    student.reload()  # reopened from the course: the completed page
    tool = student.frame_locator("#tool")
    expect(tool.get_by_test_id("attempt-done")).to_be_visible()
    # The score once, on its own line; the status box says where the grade is, without repeating it.
    expect(tool.get_by_test_id("own-score")).to_have_text("7.2 of 9 → 16 of 20 points")
    expect(tool.get_by_test_id("attempt-status")).to_contain_text(IN_GRADEBOOK)
    expect(tool.get_by_test_id("attempt-status")).not_to_contain_text("16 of 20 points")
    _fits(student, f"the completed page at {viewport['width']} px")
    student.screenshot(path=screenshot_path(screenshot, f"15-student-completed-{viewport['width']}"))
    student.context.close()


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280", "375"])
def test_itep_student_pages_fit_and_tell_the_gradebook(page, chromium, demo, screenshot, viewport):
    link = add_activity(page, demo, ITEP_TITLE, "Placement (iTEP)", 60)
    student = _student(chromium, viewport)
    student.goto(f"{demo.lms_url}/course/open/grace/{link}")
    tool = student.frame_locator("#tool")
    expect(tool.get_by_test_id("about-test")).to_contain_text("iTEP's own site")
    test_id = tool.get_by_test_id("test-id").inner_text().strip()
    _fits(student, f"the test ID page at {viewport['width']} px")
    assert demo.sandbox.itep is not None
    assert demo.sandbox.itep.fire_webhook(test_id, status="Complete", overall_level="4.5").status == 200
    expect(tool.get_by_test_id("attempt-status")).to_contain_text(IN_GRADEBOOK, timeout=30_000)
    expect(tool.get_by_test_id("attempt-status")).to_contain_text("4.5 of 6 → 45 of 60 points")
    student.reload()
    tool = student.frame_locator("#tool")
    expect(tool.get_by_test_id("attempt-done")).to_be_visible()
    expect(tool.get_by_test_id("test-id")).to_have_count(0)
    _fits(student, f"the completed page at {viewport['width']} px")
    student.screenshot(path=screenshot_path(screenshot, f"15-student-completed-itep-{viewport['width']}"))
    student.context.close()


def screenshot_path(screenshot: Any, name: str) -> str:
    """Beside the other screenshots (test-artifacts/screenshots), for the student's own window."""
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


@pytest.mark.parametrize(("locale", "lang", "direction", "words"), [
    ("es-MX", "es", "ltr", "Comprobar mi micrófono"), ("ar", "ar", "rtl", "افحص الميكروفون")])
def test_a_student_in_spanish_or_arabic_reads_the_page_in_their_language(page, chromium, demo, locale, lang,
                                                                          direction, words):
    link = add_activity(page, demo, SPEECHACE_TITLE, "Oral", 20)
    student = _student(chromium, PHONE)
    student.goto(f"{demo.lms_url}/course/open/grace/{link}?locale={locale}")
    tool = student.frame_locator("#tool")
    expect(tool.get_by_test_id("mic-check")).to_have_text(words)
    assert _tool(student).evaluate("() => [document.documentElement.lang, document.documentElement.dir]") == [
        lang, direction]
    _fits(student, f"the {lang} test page at 375 px")
    student.screenshot(path=screenshot_path(None, f"16-student-{lang}"))
    provider = tool.frame_locator("#provider-test")
    provider.locator("#score-overall").fill("7.2")
    provider.locator("#finish").click()
    expect(tool.get_by_test_id("attempt-status")).to_contain_text("✓", timeout=30_000)
    student.reload()
    expect(student.frame_locator("#tool").get_by_test_id("attempt-done")).to_be_visible()
    _fits(student, f"the {lang} completed page at 375 px")
    student.screenshot(path=screenshot_path(None, f"16-student-{lang}-completed"))
    student.context.close()
