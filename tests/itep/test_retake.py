"""A retake (or a teacher's reset) of an iTEP attempt is a new iTEP test: a new fulfillment request, a new test
ID for the learner, and the earlier test's late webhooks refused instead of counting for the new try."""

from __future__ import annotations

import re

import sqlalchemy as sa

from lti_tool.maintenance import passback_worker
from lti_tool.models import Result
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from tests.itep.test_fulfillment import open_itep
from tests.teacher.test_views_agree import learner_name
from tests.teacher.test_views_agree import teacher_resets


def _test_id(text: str) -> str:
    found = re.search(r'data-testid="test-id">([^<]+)<', text)
    assert found is not None, text[:800]
    return found.group(1)


def _results(database) -> int:
    with database.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Result))


def test_a_retake_gets_a_new_test_id_and_the_old_tests_webhook_no_longer_counts(connected, itep_setup, database,
                                                                                 settings):
    emulator, browser = itep_setup.emulator, FormBrowser()
    first = _test_id(open_itep(connected, itep_setup.gtx_activity, browser=browser).text)
    assert emulator.fire_webhook(first, status="Complete", overall_level="4.5").status == 200
    assert passback_worker(database, settings).run_once()["sent"] == 1
    done = open_itep(connected, itep_setup.gtx_activity, browser=browser)
    (form,) = [form for form in parse_forms(done.text, done.url) if form.attrs.get("data-testid") == "retake-form"]
    retaken = browser.submit(form, {"confirm": "replace"})
    assert retaken.status_code == 200, retaken.text[:500]
    second = _test_id(retaken.text)
    assert second != first and len(emulator.fulfillment_requests) == 2
    assert _test_id(open_itep(connected, itep_setup.gtx_activity).text) == second  # reopening keeps the new one
    results = _results(database)
    late = emulator.fire_webhook(first, status="Invalidated")
    assert late.status == 409 and "earlier try" in late.response_text and _results(database) == results
    assert emulator.fire_webhook(second, status="Complete", overall_level="5.0").status == 200
    assert _results(database) == results + 1


def test_a_teachers_reset_gives_the_student_a_new_test_id(connected, itep_setup, database):
    """After the teacher's reset the student's next visit asks iTEP again (a new fulfillment call, a new test
    ID): the first test is Complete at iTEP and could not be taken again."""
    emulator = itep_setup.emulator
    first = _test_id(open_itep(connected, itep_setup.gtx_activity).text)
    assert emulator.fire_webhook(first, status="Complete", overall_level="4.5").status == 200
    teacher_resets(connected, itep_setup.gtx_activity, learner_name(connected, database))
    second = _test_id(open_itep(connected, itep_setup.gtx_activity).text)
    assert second != first and len(emulator.fulfillment_requests) == 2
    assert emulator.test(first).status == "Complete" and emulator.test(second).status == "Ready"
    assert emulator.fire_webhook(first, status="Complete", overall_level="5.0").status == 409  # the old test
