"""Screenshots and the CSV for #15's closing note, taken in Chromium through the sandbox LMS (not a test: pytest
collects this file only when it is named, and it skips unless ``LTI_TOOL_SCREENS`` names the output folder).

    LTI_TOOL_SCREENS=/work/team/screens .venv/bin/pytest -q tests/browser/screens_15.py

writes ``15-class-view.png`` (an iTEP class with a student in every state the tool can tell apart),
``15-student-completed.png`` (Speechace) and ``15-student-completed-itep.png`` at 1280 px, ``15-student-375.png``
(a student's page before the test, on a phone) into that folder, and the class's CSV as ``../15-class.csv``.
Every state comes from what a provider or the LMS did (webhooks, a student the LMS no longer grades), never from
writing to the database.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from lti_tool.sandbox.demo import ITEP_TITLE
from lti_tool.sandbox.demo import SPEECHACE_TITLE
from lti_tool.sandbox.demo_course import Person
from lti_tool.sandbox.platform import constants as c
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_click_path import add_activity

expect = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed").expect
pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
IN_GRADEBOOK = re.compile("in your course gradebook ✓")
# (sub, given name, family name) of the students the sandbox course does not have already.
MORE_STUDENTS = (("stella", "Stella", "Ström"), ("edsger", "Edsger", "Dijkstra"), ("barbara", "Barbara", "Liskov"),
                 ("hedy", "Hedy", "Lamarr"), ("frances", "Frances", "Allen"))


def _student(chromium: Any, viewport: dict[str, int]) -> Any:
    page = chromium.new_context(viewport=viewport).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def _enrol(demo: Any) -> None:
    sandbox = demo.sandbox
    for sub, given, family in MORE_STUDENTS:
        if sandbox.person(sub) is None:
            sandbox.platform.add_user(sub, given, family, email=f"{sub}@example.edu")
            sandbox.platform.enrol(sandbox.course_id, sub, [c.ROLE_LEARNER])
            sandbox.people.append(Person(sub, f"{given} {family}", "Student"))


def _test_id(chromium: Any, demo: Any, sub: str, link: str) -> str:
    """The student opens the iTEP activity and gets a test ID."""
    student = _student(chromium, WIDE)
    student.goto(f"{demo.lms_url}/course/open/{sub}/{link}")
    test_id = str(student.frame_locator("#tool").get_by_test_id("test-id").inner_text()).strip()
    student.context.close()
    return test_id


def _settled(demo: Any) -> None:
    """Give the passback thread the moment it needs to send what is queued."""
    demo.services.passback.wake()
    time.sleep(1.5)


def test_screens(page: Any, chromium: Any, demo: Any, out: Path) -> None:
    itep = demo.sandbox.itep
    assert itep is not None

    # A student's page before the test on a phone (the sandbox course as it comes: the LMS's own bar stays short),
    # then the Speechace student's completed page at 1280 px.
    link = add_activity(page, demo, SPEECHACE_TITLE, "Week 7 speaking", 20)
    phone = _student(chromium, PHONE)
    phone.goto(f"{demo.lms_url}/course/open/katherine/{link}")
    expect(phone.frame_locator("#tool").get_by_test_id("new-window")).to_be_visible()
    phone.screenshot(path=out / "15-student-375.png", full_page=True)
    phone.context.close()
    _enrol(demo)
    student = _student(chromium, WIDE)
    student.goto(f"{demo.lms_url}/course/open/grace/{link}")
    provider = student.frame_locator("#tool").frame_locator("#provider-test")
    provider.locator("#score-overall").fill("7.2")
    provider.locator("#finish").click()
    expect(student.frame_locator("#tool").get_by_test_id("attempt-status")).to_contain_text(IN_GRADEBOOK,
                                                                                              timeout=30_000)
    student.reload()
    status = student.frame_locator("#tool").get_by_test_id("attempt-status")
    expect(student.frame_locator("#tool").get_by_test_id("own-score")).to_have_text("7.2 of 9 → 16 of 20 points")
    expect(status).to_contain_text(IN_GRADEBOOK)
    student.screenshot(path=out / "15-student-completed.png")
    student.context.close()

    # An iTEP class: a student in each state.
    link = add_activity(page, demo, ITEP_TITLE, "Placement (iTEP)", 60)
    learner = next(person.sub for person in demo.sandbox.students if person.name == "Alan Turing")
    ids = {sub: _test_id(chromium, demo, sub, link)
           for sub in ("grace", learner, "katherine", "stella", "edsger", "barbara", "hedy")}
    assert itep.fire_webhook(ids["grace"], status="Complete", overall_level="4.5").status == 200  # graded
    assert itep.fire_webhook(ids["stella"], status="Complete", overall_level="5.0").status == 200
    assert itep.fire_webhook(ids["hedy"], status="Complete", overall_level="3.0").status == 200
    _settled(demo)
    assert itep.fire_webhook(ids["stella"], status="Invalidated").status == 200  # withdrawn by iTEP
    assert itep.fire_webhook(ids["hedy"], status="Ready").status == 200  # reset at iTEP
    assert itep.fire_webhook(ids["katherine"], status="Finished").status == 200
    assert itep.fire_webhook(ids[learner], status="Review").status == 200
    # Barbara is no longer a learner in the course when her grade arrives: the LMS refuses it.
    demo.sandbox.platform.enrol(demo.sandbox.course_id, "barbara", [])
    assert itep.fire_webhook(ids["barbara"], status="Complete", overall_level="3.5").status == 200
    _settled(demo)
    # Edsger has his test ID and has not finished; Frances never opened the activity.

    # Grace's completed page, as she reopens the activity.
    student = _student(chromium, WIDE)
    student.goto(f"{demo.lms_url}/course/open/grace/{link}")
    status = student.frame_locator("#tool").get_by_test_id("attempt-status")
    expect(student.frame_locator("#tool").get_by_test_id("own-score")).to_have_text("4.5 of 6 → 45 of 60 points")
    expect(status).to_contain_text(IN_GRADEBOOK)
    student.screenshot(path=out / "15-student-completed-itep.png")
    student.context.close()

    page.set_viewport_size(WIDE)
    page.goto(f"{demo.lms_url}/course/open/{demo.sandbox.teacher.sub}/{link}")
    tool = page.frame_locator("#tool")
    expect(tool.get_by_test_id("attempts")).to_be_visible()
    expect(tool.locator('[data-count="refused"]')).to_have_text("1")
    frame = next(frame for frame in page.frames if "/teacher/" in frame.url or "/lti/launch" in frame.url)
    frame_height = frame.evaluate("() => document.documentElement.scrollHeight")
    page.evaluate(f"() => {{ document.querySelector('#tool').style.height = '{int(frame_height) + 40}px'; }}")
    page.screenshot(path=out / "15-class-view.png", full_page=True)

    # The CSV, byte for byte as the teacher downloads it (UTF-8 with its BOM).
    href = frame.evaluate("() => document.querySelector('[data-testid=export-csv]').href")
    body = frame.evaluate("async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer()))", href)
    (out.parent / "15-class.csv").write_bytes(bytes(body))
