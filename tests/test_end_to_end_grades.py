"""The whole path: a learner takes the test, the provider reports, the worker sends, the LMS gradebook shows it —
once, correctly, even when the LMS was down for a while."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
import sqlalchemy as sa

from lti_tool.db import utcnow
from lti_tool.grading import PassbackWorker
from lti_tool.http import HttpSession
from lti_tool.maintenance import passback_worker
from lti_tool.maintenance import start_background
from lti_tool.models import Attempt
from lti_tool.models import AttemptStatus
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import constants as c
from tests.itep.test_fulfillment import open_itep
from tests.speechace.test_callback import take_test


def grade_of(connected, sub=None) -> dict:
    book = connected.platform.gradebook(connected.course.context_id)
    entries = [scores[sub or connected.course.learner] for scores in book.values()
               if (sub or connected.course.learner) in scores]
    assert len(entries) == 1, book
    return entries[0]


def test_speechace_score_reaches_the_gradebook(connected, speechace_setup, settings, database):
    assert take_test(connected, speechace_setup).status == 200
    counts = passback_worker(database, settings).run_once()
    assert counts["sent"] == 1, counts
    entry = grade_of(connected)
    assert entry["score"] / entry["max"] == pytest.approx(6.5 / 9, abs=1e-4)
    assert entry["gradingProgress"] == "FullyGraded" and entry["activityProgress"] == "Completed"
    assert "/teacher/results/" in entry["comment"]
    with database.session() as session:
        assert session.scalars(sa.select(Attempt.status)).one() == AttemptStatus.GRADED
    # The teacher now sees the attempt as graded.
    teacher = FormBrowser().get(connected.launch_url(sub=connected.course.instructor,
                                                     custom={"activity": speechace_setup.activity_public_id}))
    assert 'data-status="graded"' in teacher.text


def test_embedded_worker_sends_right_after_the_callback(app, connected, speechace_setup, settings, database):
    stop = threading.Event()
    services = app.extensions["lti_tool.services"]
    services.passback = start_background(database, settings, stop)
    try:
        take_test(connected, speechace_setup)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not connected.platform.score_posts:
            time.sleep(0.05)
        assert len(connected.platform.score_posts) == 1
    finally:
        stop.set()
        services.passback.wake()
        services.passback = None


def test_lms_down_for_an_hour_then_up_the_score_arrives_once(connected, speechace_setup, settings, database):
    take_test(connected, speechace_setup)
    connected.platform.set_down(True)
    now = [utcnow()]
    worker = PassbackWorker(database, HttpSession(timeout=5), settings, clock=lambda: now[0])
    for _ in range(6):
        worker.run_once()
        now[0] += dt.timedelta(minutes=10)
    assert connected.platform.score_posts == []
    connected.platform.set_down(False)
    now[0] += dt.timedelta(hours=1)
    worker.run_once()
    worker.run_once()
    assert len(connected.platform.score_posts) == 1
    assert grade_of(connected)["score"] > 0


def test_deep_linked_activity_is_graded_in_its_own_line_item(connected, speechace_setup, settings, database):
    browser = FormBrowser()
    page = browser.get(connected.platform.begin_launch(connected.client.client_id, connected.course.instructor,
                                                       connected.course.context_id, message_type=c.MSG_DEEP_LINKING))
    (form,) = [f for f in parse_forms(page.text, page.url) if f.attrs.get("data-testid") == "activity-form"]
    browser.submit(form, {"title": "Graded by column", "score_maximum": "40"})
    created = connected.platform.deep_link_results[-1]["created"][0]
    learner = FormBrowser()
    learner.get(connected.platform.begin_launch(connected.client.client_id, connected.course.learner,
                                                connected.course.context_id,
                                                resource_link_id=created["resource_link_id"]))
    token = speechace_setup.emulator.session_for_user(connected.course.learner).token
    speechace_setup.emulator.complete(token, scores={"overall": 9.0, "pronunciation": 9, "fluency": 9,
                                                     "vocab": 9, "grammar": 9})
    passback_worker(database, settings).run_once()
    book = connected.platform.gradebook(connected.course.context_id)
    entry = book[created["lineitem_id"]][connected.course.learner]
    assert entry["score"] == pytest.approx(40) and entry["max"] == pytest.approx(40)


def test_itep_result_reaches_the_gradebook(connected, itep_setup, settings, database):
    page = open_itep(connected, itep_setup.gtx_activity)
    test_id = re.search(r'data-testid="test-id">([^<]+)<', page.text).group(1)
    itep_setup.emulator.fire_webhook(test_id, status="Completed", overall_level="3.0", overall_cefr="B1")
    assert passback_worker(database, settings).run_once()["sent"] == 1
    entry = grade_of(connected)
    assert entry["score"] / entry["max"] == pytest.approx(3.0 / 6)
    assert "B1" in entry["comment"]
