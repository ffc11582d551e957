"""Corrections count: a result that differs from the attempt's last one reaches the gradebook whatever its date;
only an identical repeat is a duplicate."""

from __future__ import annotations

import json

import pytest

from lti_tool.maintenance import passback_worker
from tests.itep.test_webhook import assigned_test_id
from tests.itep.test_webhook import submissions
from tests.test_end_to_end_grades import grade_of


def _answer(sent) -> str:
    assert sent.status == 200, sent.response_text
    return str(json.loads(sent.response_text)["status"])


def test_complete_invalidated_complete_on_one_day_reaches_the_gradebook(connected, itep_setup, database, settings):
    test_id = assigned_test_id(connected, itep_setup)
    emulator = itep_setup.emulator
    assert _answer(emulator.fire_webhook(test_id, status="Complete", overall_level="4.5")) != "duplicate"
    assert _answer(emulator.fire_webhook(test_id, status="Invalidated")) != "duplicate"
    assert _answer(emulator.fire_webhook(test_id, status="Complete", overall_level="5.0")) != "duplicate"
    passback_worker(database, settings).run_once()
    entry = grade_of(connected)
    assert entry["score"] / entry["max"] == pytest.approx(5.0 / 6)
    assert entry["gradingProgress"] == "FullyGraded"


def test_a_complete_corrected_on_the_same_day_is_new(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)
    itep_setup.emulator.fire_webhook(test_id, status="Complete", overall_level="4.5")
    assert _answer(itep_setup.emulator.fire_webhook(test_id, status="Complete", overall_level="5.0")) != "duplicate"
    assert [s.score_given for s in submissions(database)][-1] == pytest.approx(5.0 / 6 * 60)


def test_back_to_an_earlier_outcome_is_new_but_an_identical_repeat_is_not(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)
    emulator = itep_setup.emulator
    emulator.fire_webhook(test_id, status="Complete", overall_level="4.5")
    emulator.fire_webhook(test_id, status="Invalidated")
    assert _answer(emulator.fire_webhook(test_id, status="Complete", overall_level="4.5")) != "duplicate"
    assert _answer(emulator.resend_webhook(2)) == "duplicate"
    assert [s.score_given is not None for s in submissions(database)] == [True, False, True]
