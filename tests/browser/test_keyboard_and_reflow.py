"""Keyboard only and small screens, in Chromium inside the sandbox LMS's frame.

- The student's and the teacher's paths with the keyboard alone (Tab, Shift+Tab, Enter, Space; typing into fields and
  the arrow keys inside a drop-down list): every control of the tool's page is reached, and each shows where the
  focus is (an outline or a box shadow).
- Reflow: the student's pages at 320 CSS px never scroll in two directions; text at 200 % loses nothing; the
  teacher's and the admin's tables at 375 px scroll inside their own box, and a 200-character title does not
  stretch the admin's table.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.models import Assessment
from lti_tool.sandbox.demo import ITEP_TITLE
from lti_tool.sandbox.demo import SPEECHACE_TITLE
from tests.browser.test_accessibility import ADMIN_PASSWORD
from tests.browser.test_accessibility import ADMIN_USER
from tests.browser.test_accessibility import LOCALES
from tests.browser.test_accessibility import ensure_admin
from tests.browser.test_accessibility import launches_in
from tests.browser.test_accessibility import new_page
from tests.browser.test_accessibility import open_as
from tests.browser.test_accessibility import tool_frame
from tests.browser.test_click_path import add_activity
from tests.browser.test_click_path import overall_of

expect = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed").expect
pytestmark = pytest.mark.browser

# What has the focus in this document (None when it is the body, or a frame whose own document has it), whether the
# focus shows, and every control a keyboard user must be able to reach.
FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body || element.tagName === "IFRAME" || !document.hasFocus()) { return null; }
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const field = ["INPUT", "SELECT", "TEXTAREA"].includes(element.tagName) ? element.name : "";
  const label = element.getAttribute("data-testid") || element.getAttribute("aria-label") || field
    || (element.innerText || element.tagName).trim().replace(/\\s+/g, " ");
  return {label: label.slice(0, 80), tag: element.tagName, key: element.dataset.kbKey || null,
          visible: outline || style.boxShadow !== "none"};
}"""
CONTROLS = """() => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex='0']";
  let n = 0;
  return Array.from(document.querySelectorAll(selector))
    .filter((element) => element.getClientRects().length && !element.disabled && !element.closest("[hidden]")
            && !element.closest("details:not([open]) > :not(summary)"))
    .map((element) => { element.dataset.kbKey = String(n++);
                        return (element.getAttribute("data-testid") || element.innerText || element.name
                                || element.tagName).trim().replace(/\\s+/g, " ").slice(0, 80); });
}"""
SIDEWAYS = "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
BOXES = """() => Array.from(document.querySelectorAll(".table-box, .table-scroll")).map((box) => ({
  name: box.getAttribute("aria-labelledby"), role: box.getAttribute("role"), tabindex: box.getAttribute("tabindex"),
  fits: box.getBoundingClientRect().right <= document.documentElement.clientWidth + 1,
  scrolls: box.scrollWidth > box.clientWidth, tableWidth: box.querySelector("table").scrollWidth,
  boxWidth: box.clientWidth}))"""
# The elements reaching past the page's right edge (outside the scrolling boxes), for the failure message.
WIDEST = """() => Array.from(document.querySelectorAll("body *"))
  .filter((e) => !e.closest(".table-box, .table-scroll")
          && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).slice(0, 10)"""
PHONE = {"width": 375, "height": 740}
NARROW = {"width": 320, "height": 640}


class Keyboard:
    """Tab through a page whose tool frame has ``tool_url``; records what got the focus in the tool's documents."""

    def __init__(self, page: Any, tool_url: str) -> None:
        self.page, self.tool_url = page, tool_url
        self.reached: list[dict[str, Any]] = []

    def focused(self) -> tuple[Any, dict[str, Any]] | None:
        for frame in self.page.frames:
            if not frame.url.startswith(self.tool_url):
                continue
            try:
                found = frame.evaluate(FOCUSED)
            except Exception:  # a frame navigating away
                continue
            if found:
                return frame, found
        return None

    def press(self, key: str) -> dict[str, Any] | None:
        self.page.keyboard.press(key)
        answer = self.focused()
        if answer is None:
            return None
        found = answer[1]
        assert found["visible"], f"the focus does not show on {found['label']!r} ({found['tag']})"
        self.reached.append(found)
        return found

    def tab_to(self, label: str | re.Pattern[str], key: str = "Tab", limit: int = 60) -> dict[str, Any]:
        for _ in range(limit):
            found = self.press(key)
            if found and (re.search(label, found["label"]) if isinstance(label, re.Pattern)
                          else found["label"] == label):
                return found
        raise AssertionError(f"{label!r} is never reached with {key}; reached: "
                             f"{[item['label'] for item in self.reached[-limit:]]}")

    def every_control_reached(self, frame: Any, where: str) -> None:
        """Tab from the page's start through the whole tool page: each visible control gets the focus once."""
        controls = frame.evaluate(CONTROLS)
        assert controls, where
        frame.evaluate("() => document.activeElement && document.activeElement.blur()")
        self.page.evaluate("() => document.activeElement && document.activeElement.blur()")
        seen: set[str] = set()
        for _ in range(len(controls) + 40):
            found = self.press("Tab")
            if found and found["key"] is not None:
                seen.add(found["key"])
            if len(seen) == len(controls):
                break
        missing = [name for number, name in enumerate(controls) if str(number) not in seen]
        assert not missing, f"{where}: never reached with Tab: {missing}"
        # And back: Shift+Tab reaches the first control again.
        for _ in range(len(controls) + 5):
            found = self.press("Shift+Tab")
            if found and found["key"] == "0":
                break
        else:
            raise AssertionError(f"{where}: Shift+Tab never returns to {controls[0]!r}")


@pytest.mark.parametrize("locale", LOCALES)
def test_keyboard_only_student_and_teacher_paths(page, chromium, demo, locale):
    with launches_in(demo, locale):
        # The teacher adds the test from the course page: picker, a test and score, the title, the points, submit.
        keys = Keyboard(page, demo.tool_url)
        page.goto(f"{demo.lms_url}/course")
        page.get_by_test_id("add-speaking-test").focus()
        page.keyboard.press("Enter")
        picker = tool_frame(page)
        expect(page.frame_locator("#tool").get_by_test_id("activity-form")).to_be_visible()
        keys.every_control_reached(picker, "the picker")
        keys.tab_to("score-choice", "Shift+Tab")
        # Found by its value: the picker speaks the teacher's launch language.
        wanted = overall_of(picker.locator("[data-testid=score-choice]"), SPEECHACE_TITLE)
        while picker.eval_on_selector("[data-testid=score-choice]", "s => s.value") != wanted:
            page.keyboard.press("ArrowDown")
        keys.tab_to("title")
        page.keyboard.type(f"Keyboard speaking {locale}")
        keys.tab_to("score_maximum")
        page.keyboard.press("Control+a")
        page.keyboard.type("20")
        keys.tab_to("show_score")
        keys.tab_to("add-activity")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/course\?.*added="))
        link = str(page.locator("li.added").get_attribute("data-link"))

        # The student opens it from the course page and reaches the test's controls and the new-window link.
        student = new_page(chromium)
        student_keys = Keyboard(student, demo.tool_url)
        student.goto(f"{demo.lms_url}/course?as=grace")
        student.get_by_role("link", name=f"Keyboard speaking {locale}").focus()
        student.keyboard.press("Enter")
        learner = student.frame_locator("#tool")
        expect(learner.get_by_test_id("about-test")).to_be_visible()
        frame = tool_frame(student)
        student_keys.every_control_reached(frame, "the student's test page")
        student_keys.tab_to("mic-check", "Shift+Tab")
        student.keyboard.press("Space")
        expect(learner.get_by_test_id("mic-result")).not_to_be_empty()
        student_keys.tab_to("new-window", "Shift+Tab")
        with student.expect_popup() as popup:
            student.keyboard.press("Enter")
        window = popup.value
        window.locator("#score-overall").fill("7.2")  # the provider's own page, in the new window
        window.locator("#finish").press("Enter")
        window.close()
        status = learner.get_by_test_id("attempt-status")
        expect(status).to_have_attribute("role", "status")
        expect(status).to_contain_text("✓", timeout=30_000)  # "in your course gradebook ✓", in any language
        student.context.close()

        # The teacher's class view: filter, open Grace's report, come back, send her grade again.
        page.goto(f"{demo.lms_url}/course/open/{demo.sandbox.teacher.sub}/{link}")
        class_view = page.frame_locator("#tool")
        expect(class_view.get_by_test_id("attempts")).to_be_visible()
        keys.every_control_reached(tool_frame(page), "the class view")
        # Found by the filter's own words, in the launch's language.
        keys.tab_to(tool_frame(page).inner_text("[data-filter=graded]").strip(), "Shift+Tab")
        page.keyboard.press("Enter")
        expect(class_view.locator("[data-filter=graded]")).to_have_attribute("aria-current", "page")
        tool_frame(page)
        keys.tab_to("table-box")
        report = keys.tab_to("report-link")
        assert report["tag"] == "A"
        page.keyboard.press("Enter")
        expect(class_view.get_by_test_id("report-scores")).to_be_visible()
        tool_frame(page).evaluate("() => history.back()")  # the browser's Back, inside the LMS's frame
        expect(class_view.get_by_test_id("attempts")).to_be_visible()
        tool_frame(page)
        keys.tab_to("resend")
        page.keyboard.press("Enter")
        expect(class_view.get_by_test_id("resent")).to_be_visible()


@pytest.mark.parametrize("locale", LOCALES)
def test_student_pages_reflow_at_320_px_and_at_200_percent_text(page, chromium, demo, locale):
    with launches_in(demo, locale):
        speechace = add_activity(page, demo, SPEECHACE_TITLE, "Reflow speaking", 20)
        itep = add_activity(page, demo, ITEP_TITLE, "Reflow placement", 60)
        for viewport, text_size in ((NARROW, "100%"), ({"width": 640, "height": 900}, "200%")):
            student = new_page(chromium, viewport)
            for link, ready in ((speechace, "about-test"), (itep, "test-id")):
                tool = open_as(student, demo, "grace", link)
                expect(tool.get_by_test_id(ready)).to_be_visible()
                frame = tool_frame(student)
                frame.evaluate("(size) => { document.documentElement.style.fontSize = size; }", text_size)
                where = f"{link} at {viewport['width']} px, text {text_size}"
                assert frame.evaluate(SIDEWAYS) <= 0, f"{where}: the tool's page scrolls sideways"
                # Nothing cut off: every line of text lies within the frame's width.
                overflowing = frame.evaluate("""() => Array.from(document.querySelectorAll("h1, p, a, button, strong"))
                  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                  .map((e) => e.outerHTML.slice(0, 80))""")
                assert not overflowing, f"{where}: {overflowing}"
            student.context.close()


def test_admin_and_teacher_tables_scroll_in_their_own_box_and_a_long_title_wraps(page, demo):
    with demo.services.database.session() as session:
        source = session.scalars(sa.select(Assessment)).first()
        session.add(Assessment(provider=source.provider, title="Ω" * 200, settings=dict(source.settings),
                               secret=source.secret, is_active=False))
    ensure_admin(demo)
    page.goto(f"{demo.tool_url}/admin/login")
    page.get_by_label("Username").fill(ADMIN_USER)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name=re.compile("Log in")).click()
    expect(page.get_by_test_id("overview")).to_be_visible()
    page.goto(f"{demo.tool_url}/admin/assessments")
    (box, *_) = page.evaluate(BOXES)
    assert box["tableWidth"] <= box["boxWidth"] + 1, f"the 200-character title stretches the table: {box}"
    page.set_viewport_size(PHONE)
    for path in ("assessments", "deployments", "registrations", "queue", "activity"):
        page.goto(f"{demo.tool_url}/admin/{path}")
        assert page.evaluate(SIDEWAYS) <= 0, f"/admin/{path} scrolls sideways at 375 px: {page.evaluate(WIDEST)}"
        boxes = page.evaluate(BOXES)
        assert boxes, path
        for each in boxes:
            assert each["fits"] and (each["role"], each["tabindex"]) == ("region", "0") and each["name"], (path, each)
        assert any(each["scrolls"] for each in boxes), f"/admin/{path}: no table scrolls in its box at 375 px"
