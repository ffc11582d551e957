"""The student's page in Chromium: the microphone check says how to fix a blocked microphone, and a finished
test reopened shows the completed screen with the outcome in the gradebook's points."""

from __future__ import annotations

import re

import pytest

from lti_tool.sandbox.demo import SPEECHACE_TITLE
from tests.browser.test_click_path import add_activity

expect = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed").expect


def test_microphone_check_then_completed_screen_on_reopening(page, demo):
    add_activity(page, demo, SPEECHACE_TITLE, "Mic check", 20)
    page.locator("[data-person=grace]").click()
    page.get_by_role("link", name="Mic check").click()
    tool = page.frame_locator("#tool")
    # Headless Chromium has no microphone to give: the check says so and how to fix it, in words.
    tool.get_by_test_id("mic-check").click()
    expect(tool.get_by_test_id("mic-result")).to_contain_text(
        re.compile(r"blocks the microphone\. Allow it|No microphone was found\. Plug one in"))
    provider = tool.frame_locator("#provider-test")
    provider.locator("#score-overall").fill("7.2")
    provider.locator("#finish").click()
    expect(tool.get_by_test_id("attempt-status")).to_contain_text("You completed the test on")
    # Reopened: no new test, the outcome and no more attempts needed than the activity allows.
    page.reload()  # the LMS launches the tool again
    tool = page.frame_locator("#tool")
    expect(tool.get_by_test_id("attempt-done")).to_be_visible()
    expect(tool.get_by_test_id("own-score")).to_have_text("7.2 of 9 → 16 of 20 points")
    expect(tool.locator("#provider-test")).to_have_count(0)
