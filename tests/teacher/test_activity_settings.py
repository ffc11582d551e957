"""Editing an activity after it was added: the changes stick, reach the gradebook column, and stay inside the
teacher's course and link."""

from __future__ import annotations

import html

import sqlalchemy as sa

from lti_tool.models import Activity
from lti_tool.models import ScoreSubmission
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import constants as c
from tests.speechace.test_callback import take_test
from tests.teacher.support import known_class
from tests.teacher.support import link_url
from tests.teacher.support import scores
from tests.teacher.support import teacher_page


def _settings_form(connected, setup):
    browser, page = teacher_page(connected, setup)
    form_page = browser.get(connected.tool_url + link_url(page.text, "/settings"))
    assert form_page.status_code == 200, form_page.text[:300]
    (form,) = [form for form in parse_forms(form_page.text, form_page.url) if form.action.endswith("/settings")]
    return browser, form_page, form


def _lineitem(connected):
    (item,) = connected.platform.line_items_of(connected.course.context_id)
    return item


def test_changes_stick_and_reach_the_line_item(connected, speechace_setup, database):
    take_test(connected, speechace_setup)  # the link and its column exist
    browser, form_page, form = _settings_form(connected, speechace_setup)
    assert form.fields["title"] == "Unit 3 speaking test" and form.fields["score_maximum"] == "100"
    assert ">Vocabulary (0–9)<" in form_page.text and ">vocab<" not in form_page.text
    assert form.fields["max_attempts"] == ""
    saved = browser.submit(form, {"title": "Unit 3 — speaking", "score_maximum": "20",
                                  "score_component": "pronunciation", "attempts_policy": "best", "show_score": "",
                                  "max_attempts": "2"})
    assert saved.status_code == 200 and 'data-testid="saved"' in saved.text
    assert 'data-testid="column-updated"' in saved.text
    with database.session() as session:
        activity = session.scalars(sa.select(Activity)).one()
        assert (activity.title, activity.score_maximum, activity.score_component, activity.attempts_policy,
                activity.show_score_to_student, activity.max_attempts) == (
            "Unit 3 — speaking", 20.0, "pronunciation", "best", False, 2)
    item = _lineitem(connected)
    assert (item.label, item.score_maximum) == ("Unit 3 — speaking", 20.0)
    assert "the best attempt counts" in html.unescape(saved.text)
    # The next result is graded on the new settings: pronunciation, out of 20.
    take_test(connected, speechace_setup, scores=scores(3.0))
    with database.session() as session:
        newest = session.scalars(sa.select(ScoreSubmission).order_by(ScoreSubmission.id.desc())).first()
        assert (newest.score_given, newest.score_maximum) == (round(7.0 / 9 * 20, 4), 20.0)


def test_a_wrong_value_is_a_400_that_says_what_to_fix_and_changes_nothing(connected, speechace_setup, database):
    take_test(connected, speechace_setup)
    browser, _, form = _settings_form(connected, speechace_setup)
    for overrides, words in (({"score_maximum": "lots"}, "must be a number"),
                             ({"score_maximum": "0"}, "above 0"),
                             ({"score_maximum": "nan"}, "above 0"),
                             ({"score_component": "speaking"}, "Speechace reports these scores"),
                             ({"title": "  "}, "Give the activity a title"),
                             ({"max_attempts": "0"}, "between 1 and 100"),
                             ({"max_attempts": "two"}, "whole number")):
        refused = browser.submit(form, overrides)
        assert refused.status_code == 400 and words in html.unescape(refused.text), overrides
    with database.session() as session:
        assert session.scalars(sa.select(Activity.score_maximum)).one() == 100.0
    assert _lineitem(connected).score_maximum == 100.0


def _other_course_teacher(connected, setup, custom_activity: bool = True):
    """Olga teaches course-202; her link names the same activity when ``custom_activity``."""
    connected.platform.add_context("course-202", "Other", "OTH")
    connected.platform.add_user("olga", "Olga", "Other")
    connected.platform.enrol("course-202", "olga", [c.ROLE_INSTRUCTOR])
    browser = FormBrowser()
    page = browser.get(connected.platform.begin_launch(
        connected.client.client_id, "olga", "course-202", resource_link_id="other-link", with_lineitem=True,
        custom={"activity": setup.activity_public_id} if custom_activity else None))
    return browser, page


def test_a_teacher_of_another_course_sees_and_changes_nothing_here(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    browser, page = _other_course_teacher(connected, speechace_setup)
    assert page.status_code == 200 and "Alan Turing" not in page.text
    settings_url = connected.tool_url + link_url(page.text, "/settings")
    assert browser.get(settings_url).status_code == 403  # the activity is this course's too
    assert browser.post(settings_url, data={"title": "Hijacked", "score_maximum": "1", "score_component": "overall",
                                            "attempts_policy": "latest"}).status_code == 403
    export = browser.get(connected.tool_url + link_url(page.text, "/export.csv"))
    assert export.status_code == 200 and "Alan Turing" not in export.content.decode("utf-8-sig")
    assert "Stella" not in export.content.decode("utf-8-sig")
    status = browser.get(connected.tool_url + link_url(page.text, "/status.json")).json()
    assert status["rows"] == [] and sum(status["counts"].values()) == 0
    with database.session() as session:
        assert session.scalars(sa.select(Activity.title)).one() == "Unit 3 speaking test"
    # And the teacher of this course cannot change the shared activity either, now that it is shared.
    ada_browser, ada_page = teacher_page(connected, speechace_setup)
    assert ada_browser.get(connected.tool_url + link_url(ada_page.text, "/settings")).status_code == 403


def test_a_link_without_an_activity_has_no_export_json_or_settings(connected, speechace_setup):
    browser, page = _other_course_teacher(connected, speechace_setup, custom_activity=False)
    assert 'data-testid="teacher-setup"' in page.text  # the picker: nothing set up at this link

    (form,) = [form for form in parse_forms(page.text, page.url) if "/setup/" in form.action]
    launch_id = form.action.rstrip("/").rsplit("/", 1)[-1]
    for suffix, expected in (("/export.csv", 404), ("/status.json", 404), ("/settings", 403)):
        assert browser.get(f"{connected.tool_url}/teacher/link/{launch_id}{suffix}").status_code == expected, suffix
