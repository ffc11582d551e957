"""The click path in a real browser, across the iframes: sandbox LMS page → tool iframe → provider iframe.

A teacher adds a Speechace test (deep linking), a student takes it (the provider's postMessage, then the tool's
status poll), the score reaches the sandbox gradebook (AGS, from the passback thread) and the teacher's view.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from lti_tool.sandbox.demo import ITEP_TITLE
from lti_tool.sandbox.demo import SPEECHACE_TITLE

expect = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed").expect
pytestmark = pytest.mark.browser

TITLE = "Week 5 speaking"
MAX_POINTS = 20
OVERALL = 7.2  # on Speechace's 0-9 scale: 16 of the 20 points


def reload_until_visible(page: Any, locator: Any, seconds: float = 15.0) -> None:
    """For server-rendered pages waiting on background work (the passback thread): reload until it shows."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            expect(locator).to_be_visible(timeout=1000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def overall_of(choice: Any, test_title: str) -> str:
    """The picker's value for ``test_title``'s overall score, in any language."""
    option = choice.locator(f'optgroup[label^="{test_title} ("] option[value$=":overall"]')
    return str(option.get_attribute("value"))


def add_activity(page: Any, demo: Any, test_title: str, title: str, max_points: int, screenshot: Any = None) -> str:
    """As the teacher: "Add a speaking test", pick it in the tool's picker; returns the new link's id."""
    page.goto(f"{demo.lms_url}/course")
    if screenshot:
        expect(page.get_by_test_id("add-speaking-test")).to_be_visible()
        screenshot("01-sandbox-course", docs=True)
    page.get_by_test_id("add-speaking-test").click()
    tool = page.frame_locator("#tool")
    expect(tool.get_by_test_id("activity-form")).to_be_visible()
    # One choice of test and score: each test's group lists only its provider's scores. Found by the test's
    # title and the score's value, not the picker's words: the picker speaks the teacher's launch language.
    choice = tool.get_by_test_id("score-choice")
    choice.select_option(overall_of(choice, test_title))
    tool.locator("input[name=title]").fill(title)
    tool.locator("input[name=score_maximum]").fill(str(max_points))
    tool.locator("input[name=show_score]").check()
    if screenshot:
        screenshot("02-teacher-picker", docs=True)
    tool.get_by_test_id("add-activity").click()
    # The LMS verifies the tool's signed answer, closes the picker and shows the course with the new activity.
    page.wait_for_url(re.compile(r"/course\?.*added="))
    expect(page.get_by_test_id("activity-added")).to_contain_text(title)
    return str(page.locator("li.added").get_attribute("data-link"))


def test_teacher_adds_a_test_student_takes_it_grade_reaches_gradebook_and_teacher(page, demo, screenshot):
    teacher = demo.sandbox.teacher
    link = add_activity(page, demo, SPEECHACE_TITLE, TITLE, MAX_POINTS, screenshot)
    expect(page.get_by_test_id("course-activities")).to_contain_text(f"graded out of {MAX_POINTS}")
    screenshot("03-deep-link-added", docs=True)

    # A student opens it: the tool's page embeds the Speechace test (LMS page → tool iframe → provider iframe).
    page.locator("[data-person=grace]").click()
    page.get_by_role("link", name=TITLE).click()
    tool = page.frame_locator("#tool")
    provider = tool.frame_locator("#provider-test")
    # By default Speechace knows the student by the LMS's opaque user id alone, never by name (docs/privacy.md).
    expect(provider.locator("#candidate")).to_have_text("Candidate: grace")
    provider.locator("#score-overall").fill(str(OVERALL))
    screenshot("04-student-test", docs=True)
    provider.locator("#finish").click()
    # The provider posts "speechaceActivityComplete" to the tool's page, which asks the tool for the attempt.
    status = tool.get_by_test_id("attempt-status")
    expect(status).to_contain_text("You completed the test on")
    expect(status).to_contain_text("7.2 of 9 → 16 of 20 points")  # the provider's scale beside the gradebook's
    expect(status).to_have_attribute("aria-live", "polite")
    expect(provider.locator("#done")).to_be_visible()
    # The page keeps asking: once the LMS accepted the grade, it says so (announced to screen readers).
    expect(status).to_contain_text("in your course gradebook ✓", timeout=30_000)
    screenshot("05-student-submitted", docs=True)

    # The passback thread sends the score to the LMS: the gradebook shows 16 of 20.
    page.goto(f"{demo.lms_url}/course/gradebook?as={teacher.sub}")
    cell = page.locator("tr[data-learner=grace] td[data-score][data-lineitem]")
    reload_until_visible(page, cell)
    expect(cell).to_have_attribute("data-score", "16")
    expect(cell).to_contain_text("16 / 20")
    screenshot("07-sandbox-gradebook", docs=True)

    # The teacher opens the activity: the tool lists the student as graded.
    page.goto(f"{demo.lms_url}/course/open/{teacher.sub}/{link}")
    graded = page.frame_locator("#tool").locator("[data-testid=attempts] tr[data-status=graded]")
    expect(graded).to_contain_text("Grace Hopper")
    screenshot("06-teacher-results", docs=True)


def test_itep_result_fired_from_its_admin_page_reaches_the_gradebook_lms_admin_opens_tool_admin(
        page, demo, screenshot):
    link = add_activity(page, demo, ITEP_TITLE, "iTEP placement", 60)

    # Students see no "Add a speaking test", and the LMS refuses them the picker.
    page.locator("[data-person=katherine]").click()
    expect(page.get_by_test_id("course-activities")).to_contain_text("iTEP placement")
    expect(page.get_by_test_id("add-speaking-test")).to_have_count(0)
    assert page.request.get(f"{demo.lms_url}/course/add/katherine").status == 403

    # The student gets her iTEP test ID in the tool; iTEP grades the test and sends the results webhook.
    page.get_by_role("link", name="iTEP placement").click()
    test_id = page.frame_locator("#tool").get_by_test_id("test-id").inner_text()
    page.goto(demo.sandbox.itep.url("/admin"))
    page.locator(f"#test-{test_id}").get_by_role("button", name="Complete (score)").click()
    expect(page.locator("#outcome")).to_contain_text("HTTP 200")

    page.goto(f"{demo.lms_url}/course/gradebook?as=katherine")
    cell = page.locator("tr[data-learner=katherine] td[data-score]")
    reload_until_visible(page, cell)
    expect(cell).to_contain_text("45 / 60")  # level 4.5 of iTEP's 0-6

    # An LMS administrator opening the activity finds the way to the tool's administration.
    page.goto(f"{demo.lms_url}/course/open/margaret/{link}")
    tool = page.frame_locator("#tool")
    tool.get_by_test_id("admin-link").click()
    expect(tool.get_by_test_id("overview")).to_be_visible()
    screenshot("08-admin-overview", docs=True)
