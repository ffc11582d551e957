"""The sandbox demo: an emulated LMS registered with the tool, launching it in an iframe, with the Speechace and
iTEP emulators configured in the tool; never in production. (tests/browser walks it in Chromium.)"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC
from datetime import datetime

import pytest
import sqlalchemy as sa

from lti_tool.activities import create_activity
from lti_tool.config import ConfigError
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import ProviderAccount
from lti_tool.providers.speechace_assessments import add_speechace_assessment
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.demo import ITEP_TRACK
from lti_tool.sandbox.demo import build_sandbox
from lti_tool.sandbox.demo import create_sandbox_app
from lti_tool.sandbox.demo import start_sandbox
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform.models import LineItem


@pytest.mark.parametrize("env", ["production", "testing"])
def test_sandbox_refuses_to_start_outside_development(settings, database, env):
    with pytest.raises(ConfigError, match="only with LTI_TOOL_ENV=development"):
        start_sandbox(replace(settings, env=env), database, 0)


def iframe_src(page: str) -> str:
    return html.unescape(re.search(r"<iframe[^>]*src='([^']+)'", page).group(1))


def test_course_page_launches_the_tool_in_an_iframe(app, settings, database):
    with LiveServer() as server:
        sandbox = build_sandbox(settings, database, server.url)
        server.set_app(create_sandbox_app(sandbox, settings.base_url))
        browser = FormBrowser()
        course = browser.get(f"{server.url}/course").text
        for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Katherine Johnson", "Margaret Hamilton"):
            assert name in course
        assert "Speaking test: introduce yourself" in course
        assert "data-testid='add-speaking-test'" in course  # the teacher is the default person
        for sub, landing in ((sandbox.teacher.sub, "teacher-setup"), ("grace", "learner-landing")):
            page = browser.get(f"{server.url}/course/open/{sub}/speaking-1").text
            iframe = re.search(r"<iframe[^>]*>", page).group(0)
            assert f"microphone {settings.base_url}" in html.unescape(iframe)
            src = iframe_src(page)
            assert src.startswith(settings.url("/lti/login"))
            assert landing in browser.get(src).text


def test_a_second_demo_run_replaces_the_sandbox_registration(app, settings, database):
    with LiveServer() as server:
        first = build_sandbox(settings, database, server.url)
        second = build_sandbox(settings, database, server.url)
        server.set_app(create_sandbox_app(second, settings.base_url))
        assert first.client.client_id != second.client.client_id
        page = FormBrowser().get(f"{server.url}/course/open/grace/speaking-2").text
        assert "learner-landing" in FormBrowser().get(iframe_src(page)).text


def test_the_demo_configures_one_speechace_test_and_one_itep_account_again_on_each_run(app, settings, database):
    development = replace(settings, env="development")
    with database.session() as session:
        kept = add_speechace_assessment(session, "The school's own test", test_url="https://speechace.example/t")
    lms, sandbox = start_sandbox(development, database, 0)
    try:
        assert lms in sandbox.servers and len({server.port for server in sandbox.servers}) == 3
        with database.session() as session:
            first_test = session.scalars(sa.select(Assessment).where(Assessment.title.contains("(sandbox)"))
                                         .where(Assessment.provider == "speechace")).one()
            create_activity(session, first_test, "From the last run")
    finally:
        sandbox.stop()
    lms, sandbox = start_sandbox(development, database, 0)
    try:
        with database.session() as session:
            rows = session.scalars(sa.select(Assessment).order_by(Assessment.id)).all()
            assert [(row.title, row.provider) for row in rows] == [
                ("The school's own test", "speechace"), ("Speechace placement test (sandbox)", "speechace"),
                ("iTEP Academic (sandbox)", "itep")]
            assert rows[0].id == kept.id
            assert rows[1].settings["oembed_url"].startswith(sandbox.speechace.base_url)
            assert session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0
            (account,) = session.scalars(sa.select(ProviderAccount)).all()
            assert account.settings["endpoint_url"] == sandbox.itep.fulfillment_url
            assert rows[2].settings["account_id"] == account.id
        webhook = sandbox.itep.tracking_codes[ITEP_TRACK].webhook_url
        assert webhook == f"{settings.base_url}/callbacks/itep?account={account.id}"
    finally:
        sandbox.stop()


def test_add_a_speaking_test_deep_links_and_returns_to_the_course(app, settings, database):
    lms, sandbox = start_sandbox(replace(settings, env="development"), database, 0)
    try:
        teacher, browser = sandbox.teacher.sub, FormBrowser()
        assert browser.get(f"{lms.url}/course/add/grace").status_code == 403
        picker = browser.get(iframe_src(browser.get(f"{lms.url}/course/add/{teacher}").text))
        (form,) = [form for form in parse_forms(picker.text, picker.url)
                   if form.attrs.get("data-testid") == "activity-form"]
        done = browser.submit(form, {"title": "Week 5 speaking", "score_maximum": "20"})
        (created,) = sandbox.platform.deep_link_results[-1]["created"]
        back = f"/course?as={teacher}&added={created['resource_link_id']}"
        assert "Content added" in done.text and f'window.top.location.href = "{back}"' in done.text
        course = browser.get(f"{lms.url}{back}").text
        assert "“Week 5 speaking” was added to the course" in course and "graded out of 20" in course
        student_view = browser.get(f"{lms.url}/course?as=grace").text
        assert f"/course/open/grace/{created['resource_link_id']}" in student_view
        assert "add-speaking-test" not in student_view
    finally:
        sandbox.stop()


def test_gradebook_lists_line_items_and_students_with_their_scores(app, settings, database):
    with LiveServer() as server:
        sandbox = build_sandbox(settings, database, server.url)
        server.set_app(create_sandbox_app(sandbox, settings.base_url))
        platform, client_id = sandbox.platform, sandbox.client.client_id
        item = platform.create_line_item(LineItem(id="", context_id=sandbox.course_id, client_id=client_id,
                                                  label="Week 5 speaking", score_maximum=20))
        platform.ags.post_score(sandbox.course_id, item.id, client_id, {
            "userId": "grace", "scoreGiven": 7.2, "scoreMaximum": 9, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": datetime.now(UTC).isoformat()})
        teacher_view = FormBrowser().get(f"{server.url}/course/gradebook").text
        assert "Week 5 speaking" in teacher_view and "out of 20" in teacher_view
        assert re.search(r"data-learner='grace'>.*?data-score='16'.*?16 / 20", teacher_view)
        assert "data-learner='katherine'" in teacher_view and "data-learner='margaret'" not in teacher_view
        student_view = FormBrowser().get(f"{server.url}/course/gradebook?as=katherine").text
        assert "data-learner='katherine'" in student_view and "data-learner='grace'" not in student_view
        assert FormBrowser().get(f"{server.url}/course/gradebook?as=nobody").status_code == 404
