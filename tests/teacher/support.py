"""A class with known results, and the teacher's pages as a browser gets them."""

from __future__ import annotations

import html
import re

from lti_tool.maintenance import passback_worker
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.platform import constants as c
from tests.speechace.test_callback import take_test

STUDENTS = [("grace", "Grace", "Hopper"), ("stella", "Stella", "Ström"), ("edsger", "Edsger", "Dijkstra"),
            ("mallory", "=HYPERLINK(\"http://evil.example\")", "Mallory")]
# Speechace overall scores on its 0-9 scale; with 100 points: 80, 50 and 100 gradebook points.
OVERALL = {"learner": 7.2, "grace": 4.5, "stella": 9.0}


def scores(overall: float) -> dict[str, float]:
    return {"overall": overall, "pronunciation": 7.0, "fluency": 6.0, "vocab": 5.5, "grammar": 6.0}


def enrol_students(connected) -> None:
    for sub, given, family in STUDENTS:
        connected.platform.add_user(sub, given, family, email=f"{sub}@example.edu")
        connected.platform.enrol(connected.course.context_id, sub, [c.ROLE_LEARNER])


def known_class(connected, setup, settings, database) -> None:
    """Alan (the default learner), Grace and Stella graded; Edsger's grade on its way; Mallory not started."""
    enrol_students(connected)
    for sub, overall in OVERALL.items():
        take_test(connected, setup, sub=None if sub == "learner" else sub, scores=scores(overall))
    passback_worker(database, settings).run_once()
    take_test(connected, setup, sub="edsger", scores=scores(6.0))


def teacher_page(connected, setup, browser: FormBrowser | None = None, sub: str | None = None,
                 context_id: str | None = None, link: str = "link-1"):
    """The teacher's first page (the launch's answer), and the browser that holds it."""
    browser = browser or FormBrowser()
    page = browser.get(connected.platform.begin_launch(
        connected.client.client_id, sub or connected.course.instructor, context_id or connected.course.context_id,
        resource_link_id=link, custom={"activity": setup.activity_public_id}, with_lineitem=True))
    return browser, page


def link_url(page_text: str, suffix: str) -> str:
    """A teacher URL of the page's launch, e.g. ``/export.csv``: taken from the page's own links."""
    found = re.search(r'/teacher/link/([A-Za-z0-9_-]+)/export\.csv', page_text)
    assert found, "the page has no CSV link"
    return f"/teacher/link/{found.group(1)}{suffix}"


def text_of(page_text: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", page_text))


def words_of(page_text: str) -> str:
    """The page's text as a reader sees it: no tags, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_text)).split())
