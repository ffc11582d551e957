"""Maximum points hold when the LMS provides the column: a link added by hand with grades accepted gets a column of
100 points from Moodle; the teacher's 40 is written to it through AGS (line-item PUT), or the teacher is told why
not, and the page shows the column's real maximum instead of claiming "out of 40"."""

from __future__ import annotations

import html
import re

import pytest

from lti_tool.maintenance import passback_worker
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform.models import PlatformError
from tests.teacher.support import link_url
from tests.teacher.support import scores
from tests.teacher.support import text_of
from tests.teacher.support import words_of

HAND_LINK = "hand-added"


def _launch(connected, sub, browser=None):
    browser = browser or FormBrowser()
    page = browser.get(connected.platform.begin_launch(connected.client.client_id, sub, connected.course.context_id,
                                                       resource_link_id=HAND_LINK, with_lineitem=True))
    return browser, page


def _set_up(connected, maximum: str):
    """The teacher's first launch of the hand-added link: the picker, filled in and saved."""
    browser, page = _launch(connected, connected.course.instructor)
    (form,) = [form for form in parse_forms(page.text, page.url) if "/setup/" in form.action]
    return browser.submit(form, {"score_maximum": maximum, "title": "Hand-added test"})


def _column(connected):
    (item,) = [item for item in connected.platform.line_items_of(connected.course.context_id)
               if item.resource_link_id == HAND_LINK]
    return item


def test_set_up_writes_the_teachers_maximum_to_the_lms_column(connected, speechace_setup, settings, database):
    assert _column_after_first_launch(connected) == 100.0  # Moodle's default for a column it makes
    page = _set_up(connected, "40")
    assert page.status_code == 200, page.text[:300]
    text = text_of(page.text)
    assert 'data-testid="column-updated"' in text and "now out of 40 points" in text
    assert 'data-testid="column-differs"' not in text
    assert _column(connected).score_maximum == 40.0 and _column(connected).label  # the LMS's label is kept
    assert any(event.startswith(f"line item {_column(connected).id} updated") for event in connected.platform.events)

    take_test_on_hand_link(connected, speechace_setup, scores(9.0))
    passback_worker(database, settings).run_once()
    grades = connected.platform.gradebook(connected.course.context_id)[_column(connected).id]
    assert (grades[connected.course.learner]["score"], grades[connected.course.learner]["max"]) == (40.0, 40.0)


def _column_after_first_launch(connected) -> float:
    connected.platform.begin_launch(connected.client.client_id, connected.course.instructor,
                                    connected.course.context_id, resource_link_id=HAND_LINK, with_lineitem=True)
    return _column(connected).score_maximum


def take_test_on_hand_link(connected, setup, scores):
    browser = FormBrowser()
    browser.get(connected.platform.begin_launch(connected.client.client_id, connected.course.learner,
                                                connected.course.context_id, resource_link_id=HAND_LINK,
                                                with_lineitem=True))
    session = setup.emulator.session_for_user(connected.course.learner)
    return setup.emulator.complete(session.token, scores=scores)


def test_grades_already_in_the_column_keep_their_share_when_moodle_rescales(connected, speechace_setup, settings,
                                                                           database):
    _set_up(connected, "100")  # the column already has 100 points: nothing to write
    assert not any(" updated" in event for event in connected.platform.events if event.startswith("line item"))
    take_test_on_hand_link(connected, speechace_setup, scores(7.2))
    passback_worker(database, settings).run_once()
    browser, page = _launch(connected, connected.course.instructor)
    settings_page = browser.get(connected.tool_url + link_url(page.text, "/settings"))
    (edit,) = [form for form in parse_forms(settings_page.text, settings_page.url) if "/settings" in form.action]
    saved = browser.submit(edit, {"score_maximum": "20"})
    assert 'data-testid="saved"' in saved.text and 'data-testid="column-updated"' in saved.text
    grades = connected.platform.gradebook(connected.course.context_id)[_column(connected).id]
    assert grades[connected.course.learner]["max"] == 20.0
    assert grades[connected.course.learner]["score"] == pytest.approx(16.0)  # 80 % of the new maximum
    assert "7.2 of 9 → 16 of 20 points" in text_of(saved.text)


def test_an_lms_that_lets_the_tool_only_send_grades_is_named_to_the_teacher(connected, speechace_setup):
    connected.platform.set_can_manage_lineitems(connected.client.client_id, False)  # Moodle's "grade sync only"
    page = _set_up(connected, "40")
    text = text_of(page.text)
    assert 'data-testid="column-differs"' in text and 'data-testid="column-refused"' in text
    assert "out of 100 points , not the 40 points set here" in words_of(page.text)
    assert "column management" in text
    assert 'data-testid="gradebook-maximum">100<' in text  # never "out of 40"
    assert _column(connected).score_maximum == 100.0


def test_moodles_setting_names_stay_english_and_say_so_in_a_translated_page(connected, speechace_setup):
    """Moodle's setting and its choice inside the Spanish sentence are marked lang="en" (WCAG 3.1.2): a screen
    reader reads them as the English words Moodle's screen shows."""
    connected.platform.set_can_manage_lineitems(connected.client.client_id, False)
    connected.platform.set_locale(connected.course.instructor, "es")
    page = _set_up(connected, "40")
    assert '<html lang="es"' in page.text
    refused = html.unescape(re.search(r'data-testid="column-refused">(.*?)</p>', page.text, re.S).group(1))
    assert refused.startswith("El LMS permite que la herramienta envíe calificaciones")
    assert ('ponga "<span lang="en">IMS LTI Assignment and Grade Services</span>" de la herramienta en '
            '"<span lang="en">Use this service for grade sync and column management</span>"') in refused


def test_an_lms_that_refuses_the_put_is_named_to_the_teacher(connected, speechace_setup, monkeypatch):
    def refuse(*args, **kwargs):
        raise PlatformError(403, "Not allowed in context")

    monkeypatch.setattr(connected.platform.ags, "update_lineitem", refuse)
    page = _set_up(connected, "40")
    text = text_of(page.text)
    assert 'data-testid="column-refused"' in text and "refused to change the column" in text
    assert _column(connected).score_maximum == 100.0
    # The teacher can try again from the page once the LMS allows it.
    monkeypatch.undo()
    browser = FormBrowser()
    _, teacher = _launch(connected, connected.course.instructor, browser)
    (button,) = [form for form in parse_forms(teacher.text, teacher.url) if form.action.endswith("/column")]
    assert 'data-testid="column-updated"' in browser.submit(button).text
    assert _column(connected).score_maximum == 40.0
