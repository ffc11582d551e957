"""axe-core (WCAG 2.1 A and AA rules) on every tool page the browser reaches, in every state: the learner's pages of
both providers (before the test, the embedded test, the iTEP ticket, completed and graded, refused, withdrawn, an
expired launch), the teacher's picker, class view, report, settings, reset, Submission Review, the admin pages
(login and every page of the navigation, a confirmation), the cookie-check and new-window pages, the error pages.

Each walk takes a ``locale``: the language the sandbox LMS sends in its launches (launch_presentation.locale).
Add a locale to ``LOCALES`` and every walk runs in it too (an rtl one as well: nothing here depends on direction).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.admin.accounts import add_admin
from lti_tool.models import ToolAdmin
from lti_tool.sandbox.demo import ADMIN_SUB
from lti_tool.sandbox.demo import ITEP_TITLE
from lti_tool.sandbox.demo import SPEECHACE_TITLE
from tests.browser.accessibility import Audit
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.conftest import VIEWPORT
from tests.browser.test_click_path import add_activity

expect = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed").expect
pytestmark = pytest.mark.browser

LOCALES = ["en", "ar"]  # English, and Arabic: translated and right to left
IN_GRADEBOOK = "✓"  # "in your course gradebook ✓", in the launch's language
IN_ACCESSIBILITY_TREE = "(box) => !box.hidden && getComputedStyle(box).display !== 'none'"
ADMIN_USER, ADMIN_PASSWORD = "a11y-admin", "a long enough password for the walk"


@contextmanager
def launches_in(demo: Any, locale: str) -> Iterator[Audit]:
    """The sandbox LMS sends ``locale`` in every launch while the walk runs; yields the walk's audit."""
    platform = demo.sandbox.platform
    before, platform.locale = platform.locale, locale
    try:
        yield Audit(locale=locale)
    finally:
        platform.locale = before


def ensure_admin(demo: Any) -> None:
    """A tool admin account for the walks (once per demo, whichever walk comes first)."""
    with demo.services.database.session() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(ToolAdmin).where(ToolAdmin.username == ADMIN_USER)):
            return
        add_admin(session, ADMIN_USER, ADMIN_PASSWORD)


def tool_frame(page: Any) -> Any:
    """The tool's page inside the LMS page (a Playwright Frame, for axe), once it has loaded."""
    handle = page.wait_for_selector("#tool", state="attached")
    frame = handle.content_frame()
    frame.wait_for_load_state()
    return frame


def open_as(page: Any, demo: Any, sub: str, link: str) -> Any:
    page.goto(f"{demo.lms_url}/course/open/{sub}/{link}")
    return page.frame_locator("#tool")


def new_page(chromium: Any, viewport: dict[str, int] = VIEWPORT) -> Any:
    page = chromium.new_context(viewport=viewport).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def submit_form(page: Any, action: str, fields: dict[str, str]) -> None:
    """Post a form from the page (a refused request rendered as the browser shows it)."""
    with page.expect_navigation():
        page.evaluate("""([action, fields]) => {
          const form = document.createElement("form");
          form.method = "post"; form.action = action;
          for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement("input"); input.type = "hidden";
            input.name = name; input.value = value; form.appendChild(input);
          }
          document.body.appendChild(form); form.submit();
        }""", [action, fields])


@pytest.mark.parametrize("locale", LOCALES)
def test_speechace_learner_teacher_and_review_pages_have_no_axe_violations(page, chromium, demo, locale):
    teacher = demo.sandbox.teacher.sub
    with launches_in(demo, locale) as audit:
        # The teacher's picker (deep linking), empty and with an error, then a hand-added link's first launch.
        page.goto(f"{demo.lms_url}/course/add/{teacher}")
        tool = page.frame_locator("#tool")
        expect(tool.get_by_test_id("activity-form")).to_be_visible()
        audit.check(tool_frame(page), "teacher picker (deep linking)")
        # Past the browser's own check of the field, to the server's answer.
        tool_frame(page).evaluate("() => { document.querySelector('form').noValidate = true; }")
        tool.locator("input[name=score_maximum]").fill("0")  # the teacher's pages speak the launch's language
        tool.get_by_test_id("add-activity").click()
        expect(tool.get_by_test_id("form-error")).to_be_visible()
        audit.check(tool_frame(page), "teacher picker with an error")
        open_as(page, demo, teacher, "speaking-1")
        expect(tool.get_by_test_id("activity-form")).to_be_visible()
        audit.check(tool_frame(page), "teacher: choose the test of a hand-added link")
        open_as(page, demo, "grace", "speaking-1")
        expect(tool.get_by_test_id("learner-landing")).to_be_visible()
        audit.check(tool_frame(page), "learner: activity not set up yet")

        link = add_activity(page, demo, SPEECHACE_TITLE, "Accessible speaking", 20)
        student = new_page(chromium)
        learner = open_as(student, demo, "grace", link)
        expect(learner.get_by_test_id("about-test")).to_be_visible()
        audit.check(tool_frame(student), "learner: before the test, the embedded test")
        # The status box is a live region from the start, empty and collapsed, not hidden: a region that appears
        # with its first message is not announced.
        assert tool_frame(student).eval_on_selector("#attempt-status", IN_ACCESSIBILITY_TREE)
        learner.get_by_test_id("mic-check").click()
        expect(learner.get_by_test_id("mic-result")).not_to_be_empty()
        audit.check(tool_frame(student), "learner: microphone check answered")
        provider = learner.frame_locator("#provider-test")
        provider.locator("#score-overall").fill("7.2")
        provider.locator("#finish").click()
        expect(learner.get_by_test_id("attempt-status")).to_contain_text("→")  # the score, in any language
        audit.check(tool_frame(student), "learner: test completed")
        expect(learner.get_by_test_id("attempt-status")).to_contain_text(IN_GRADEBOOK, timeout=30_000)
        audit.check(tool_frame(student), "learner: graded, in the gradebook")
        student.reload()
        expect(learner.get_by_test_id("attempt-done")).to_be_visible()
        audit.check(tool_frame(student), "learner: completed page on reopening")
        status_url = tool_frame(student).get_attribute("#attempt-status", "data-status-url")
        student_launch = re.search(r"/attempt/([^/]+)/", status_url or "")

        # The class view, filtered, a report, the settings, a reset's confirmation.
        class_view = open_as(page, demo, teacher, link)
        expect(class_view.get_by_test_id("attempts")).to_be_visible()
        audit.check(tool_frame(page), "teacher: class view")
        assert tool_frame(page).eval_on_selector("[data-testid=live-status]", IN_ACCESSIBILITY_TREE)
        class_view.locator("[data-filter=graded]").click()
        expect(class_view.locator("[data-filter=graded]")).to_have_attribute("aria-current", "page")
        audit.check(tool_frame(page), "teacher: class view filtered")
        report = class_view.locator("[data-testid=attempts] td a[href*='/teacher/results/']:visible").first
        report_url = report.get_attribute("href")
        report.click()
        expect(class_view.get_by_test_id("report-scores")).to_be_visible()
        audit.check(tool_frame(page), "teacher: result page")
        open_as(page, demo, teacher, link)
        class_view.get_by_test_id("edit-settings").click()
        expect(class_view.get_by_test_id("settings-form")).to_be_visible()
        audit.check(tool_frame(page), "teacher: settings")
        class_view.get_by_test_id("save-settings").click()
        expect(class_view.get_by_test_id("saved")).to_be_visible()
        audit.check(tool_frame(page), "teacher: class view after saving")
        class_view.get_by_test_id("reset-link").first.click()
        expect(class_view.get_by_test_id("reset-form")).to_be_visible()
        audit.check(tool_frame(page), "teacher: reset confirmation")

        # Submission Review (Moodle's "Grade analysis"): the teacher's view of a learner, a learner's own.
        page.goto(f"{demo.lms_url}/course/review/{teacher}/{link}/grace")
        expect(page.frame_locator("#tool").get_by_test_id("report-scores")).to_be_visible()
        audit.check(tool_frame(page), "Submission Review: teacher, graded learner")
        page.goto(f"{demo.lms_url}/course/review/{teacher}/{link}/katherine")
        expect(page.frame_locator("#tool").get_by_test_id("review-pending")).to_be_visible()
        audit.check(tool_frame(page), "Submission Review: teacher, learner who has not started")
        page.goto(f"{demo.lms_url}/course/review/grace/{link}/grace")
        expect(page.frame_locator("#tool").get_by_test_id("own-result")).to_be_visible()
        audit.check(tool_frame(page), "Submission Review: learner's own result")

        # Error pages: 404, a learner at a teacher's report (403), a page without its launch (401), a login and a
        # launch the tool refuses (400, an expired or replayed launch), a form without its CSRF token (400).
        frame = tool_frame(student)
        assert student_launch is not None and report_url
        frame.goto(f"{demo.tool_url}{report_url.split('?')[0]}?launch={student_launch.group(1)}")
        audit.check(frame, "error: a learner at the teacher's report")
        student.goto(f"{demo.tool_url}/no-such-page")
        audit.check(student, "error 404")
        student.goto(f"{demo.tool_url}{report_url.split('?')[0]}")
        audit.check(student, "error 401: a report without its launch")
        student.goto(f"{demo.tool_url}/lti/login")
        audit.check(student, "launch refused: a login without its issuer (400)")
        submit_form(student, f"{demo.tool_url}/lti/launch", {"id_token": "x.y.z", "state": "expired"})
        expect(student.get_by_test_id("launch-error")).to_be_visible()
        audit.check(student, "launch refused: expired or replayed launch")
        student.goto(f"{demo.tool_url}/admin/login")
        submit_form(student, f"{demo.tool_url}/admin/login", {"username": "x", "password": "y"})
        audit.check(student, "error 400: a form without its CSRF token")
        student.context.close()
    audit.assert_clean()


@pytest.mark.parametrize("locale", LOCALES)
def test_itep_learner_pages_refused_and_withdrawn_states_have_no_axe_violations(page, chromium, demo, locale):
    teacher = demo.sandbox.teacher.sub
    itep = demo.sandbox.itep
    assert itep is not None
    with launches_in(demo, locale) as audit:
        link = add_activity(page, demo, ITEP_TITLE, "Accessible placement", 60)
        student = new_page(chromium)
        learner = open_as(student, demo, "grace", link)
        expect(learner.get_by_test_id("test-id")).to_be_visible()
        audit.check(tool_frame(student), "learner: iTEP ticket")
        grace_test = learner.get_by_test_id("test-id").inner_text().strip()
        assert itep.fire_webhook(grace_test, status="Complete", overall_level="4.5").status == 200
        expect(learner.get_by_test_id("attempt-status")).to_contain_text(IN_GRADEBOOK, timeout=30_000)
        audit.check(tool_frame(student), "learner: iTEP graded, status announced")
        student.reload()
        expect(learner.get_by_test_id("attempt-done")).to_be_visible()
        audit.check(tool_frame(student), "learner: iTEP completed page")

        # The LMS refuses Katherine's grade: her page and the class view say so, and offer to send it again.
        demo.sandbox.platform.fail_next("/scores", 422, times=1, body='{"error": "the user is not in the course"}')
        learner = open_as(student, demo, "katherine", link)
        katherine_test = learner.get_by_test_id("test-id").inner_text().strip()
        assert itep.fire_webhook(katherine_test, status="Complete", overall_level="3.5").status == 200
        class_view = open_as(page, demo, teacher, link)
        refused = class_view.locator('[data-testid=attempts] tr[data-learner="Katherine Johnson"][data-state=refused]')
        expect(refused).to_have_count(1, timeout=30_000)
        audit.check(tool_frame(page), "teacher: class view with a refused grade")
        student.reload()
        expect(learner.get_by_test_id("attempt-status")).to_be_visible()
        audit.check(tool_frame(student), "learner: grade refused by the LMS")

        # iTEP withdraws Grace's result.
        assert itep.fire_webhook(grace_test, status="Invalidated").status == 200
        open_as(page, demo, teacher, link)
        withdrawn = class_view.locator('[data-testid=attempts] tr[data-learner="Grace Hopper"][data-state=withdrawn]')
        expect(withdrawn).to_have_count(1, timeout=30_000)
        audit.check(tool_frame(page), "teacher: class view with a withdrawn result")
        learner = open_as(student, demo, "grace", link)
        expect(learner.get_by_test_id("attempt-status")).to_be_visible()
        audit.check(tool_frame(student), "learner: result withdrawn")
        student.context.close()
    audit.assert_clean()


@pytest.mark.parametrize("locale", LOCALES)
def test_admin_pages_have_no_axe_violations(page, demo, locale):
    ensure_admin(demo)
    with launches_in(demo, locale) as audit:
        # A tool admin whose browser asks for the walk's language: the login page, a refused login, then every
        # page of the navigation. Fields are found by name: their labels are in the walk's language.
        page.set_extra_http_headers({"Accept-Language": locale})
        page.goto(f"{demo.tool_url}/admin/login")
        expect(page.locator("html")).to_have_attribute("lang", locale)
        audit.check(page, "admin: login")
        page.locator("input[name=username]").fill(ADMIN_USER)
        page.locator("input[name=password]").fill("wrong password")
        page.locator("button[type=submit]").click()
        expect(page.get_by_test_id("login-error")).to_be_visible()
        audit.check(page, "admin: login refused")
        page.locator("input[name=username]").fill(ADMIN_USER)
        page.locator("input[name=password]").fill(ADMIN_PASSWORD)
        page.locator("button[type=submit]").click()
        expect(page.get_by_test_id("overview")).to_be_visible()
        walk_admin_navigation(page, audit, "tool admin")
        page.goto(f"{demo.tool_url}/admin/assessments")
        page.locator("[data-testid^=deactivate-assessment-]").first.click()
        expect(page.get_by_test_id("confirm")).to_be_visible()
        audit.check(page, "admin: confirmation")
        page.get_by_test_id("cancel-button").click()
        page.goto(f"{demo.tool_url}/admin/privacy")
        page.locator("input[name=sub]").fill("grace")
        page.get_by_test_id("privacy-delete").click()
        expect(page.get_by_test_id("confirm")).to_be_visible()
        audit.check(page, "admin: privacy deletion's confirmation")

        # An LMS administrator launching the tool: the same pages inside the LMS's frame.
        link = add_activity(page, demo, SPEECHACE_TITLE, "Admin speaking", 20)
        tool = open_as(page, demo, ADMIN_SUB, link)
        tool.get_by_test_id("admin-link").click()
        expect(tool.get_by_test_id("overview")).to_be_visible()
        walk_admin_navigation(tool_frame(page), audit, "LMS admin by launch")
    audit.assert_clean()


def walk_admin_navigation(target: Any, audit: Any, who: str) -> None:
    """Every link of the admin navigation, in turn (Page or Frame)."""
    names = target.locator("[data-testid=admin-nav] a").all_inner_texts()
    assert len(names) >= 7, names
    for name in names:
        with target.expect_navigation():
            target.locator("[data-testid=admin-nav] a", has_text=name).first.click()
        expect(target.locator("h1")).to_be_visible()
        audit.check(target, f"admin ({who}): {name}")


@pytest.mark.parametrize("locale", LOCALES)
def test_cookie_check_and_new_window_pages_have_no_axe_violations(blocked_page, cross_site_demo, locale):
    page, demo = blocked_page, cross_site_demo
    with launches_in(demo, locale) as audit:
        # Without cookies or platform storage, the login page offers the new window (the cookie check's answer).
        page.goto(f"{demo.lms_url}/course/add/{demo.sandbox.teacher.sub}")
        button = page.frame_locator("#tool").get_by_test_id("open-in-new-window")
        expect(button).to_be_visible()
        audit.check(tool_frame(page), "cookie check: the new-window offer")
        with page.expect_popup() as popup:
            button.click()
        window = popup.value
        window.set_default_timeout(TIMEOUT_MS)
        expect(window.get_by_test_id("activity-form")).to_be_visible()
        audit.check(window, "teacher picker in its own window")
        expect(page.frame_locator("#tool").get_by_test_id("opened-elsewhere")).to_be_visible()
        audit.check(tool_frame(page), "cookie check: opened in another window")
        window.close()

        # With platform storage offered but never answering, the storage launch page falls back to the new window.
        demo.sandbox.platform.platform_storage = True
        try:
            silent = "<!doctype html><title>x</title>"  # a storage frame that never answers
            page.route("**/post_message_forwarding*",
                       lambda route: route.fulfill(body=silent, content_type="text/html"))
            page.goto(f"{demo.lms_url}/course/add/{demo.sandbox.teacher.sub}")
            expect(page.frame_locator("#tool").get_by_test_id("new-window-offer")).to_be_visible(timeout=20_000)
            audit.check(tool_frame(page), "platform storage launch: no answer, the new-window offer")
        finally:
            demo.sandbox.platform.platform_storage = False
            page.unroute("**/post_message_forwarding*")
    audit.assert_clean()


def test_the_axe_check_reports_what_it_finds(page):
    """The helper itself: a page without a language, a nameless image and a nameless field fails with their rules."""
    page.set_content("<!doctype html><html><head><title>t</title></head><body><img src='x.png'><input></body></html>")
    audit = Audit()
    audit.check(page, "a page with faults")
    rules = {rule["id"] for rule in audit.found["a page with faults [en]"]}
    assert {"html-has-lang", "image-alt", "label"} <= rules, rules
    with pytest.raises(pytest.fail.Exception, match=r"(?s)image-alt.*img"):
        audit.assert_clean()
