"""A learner opens a Speechace activity: the tool calls oEmbed server-side and shows the test in its own iframe."""

from __future__ import annotations

import html
import logging
import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from lti_tool.models import Attempt
from lti_tool.models import AttemptStatus
from lti_tool.sandbox.browser import FormBrowser


def open_activity(connected, setup, sub=None, tamper=None, browser=None):
    if tamper is not None:
        connected.platform.tamper_next_id_token(tamper)
    browser = browser or FormBrowser()
    return browser.get(connected.launch_url(sub=sub, custom={"activity": setup.activity_public_id},
                                            with_lineitem=True))


def iframe_of(page: str) -> dict[str, str]:
    tag = re.search(r"<iframe[^>]*id=\"provider-test\"[^>]*>", page, re.S)
    assert tag, "no provider iframe on the page"
    return {name: html.unescape(value) for name, value in re.findall(r'(\w+)="([^"]*)"', tag.group(0))}


def test_learner_sees_the_test_in_an_iframe_with_the_microphone_delegated(connected, speechace_setup, database):
    page = open_activity(connected, speechace_setup)
    assert page.status_code == 200, page.text[:400]
    iframe = iframe_of(page.text)
    session_token = speechace_setup.emulator.session_for_user(connected.course.learner).token
    assert iframe["src"] == speechace_setup.emulator.url(f"/embed/session/{session_token}")
    origin = speechace_setup.emulator.url("").rstrip("/")
    for feature in ("microphone", "camera", "autoplay"):
        assert f"{feature} {origin}" in iframe["allow"]
    assert 'data-testid="new-window"' in page.text  # the fallback when the LMS frame blocks the microphone
    assert f'data-provider-origin="{origin}"' in page.text  # postMessage accepted from the provider only
    with database.session() as session:
        attempt = session.scalars(sa.select(Attempt)).one()
        assert attempt.status == AttemptStatus.STARTED
        assert attempt.lineitem_url  # the launch's lineitem claim


@pytest.mark.parametrize("settings_overrides", [{"share_learner_identity": "name-and-email"}])
def test_oembed_gets_the_learner_and_a_signed_callback_url(connected, speechace_setup, settings_overrides):
    open_activity(connected, speechace_setup)
    (request,) = speechace_setup.emulator.oembed_requests
    params = request.params
    assert params["key"] == speechace_setup.assessment.key  # sent server-side only
    assert params["app_user_id"] == connected.course.learner
    assert params["app_user_fullname"] == "Alan Turing"
    assert params["app_user_email"] == "alan@example.edu"
    callback = urlsplit(params["app_score_submission_url"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == f"{connected.tool_url}/callbacks/speechace"
    assert set(parse_qs(callback.query)) == {"course", "quiz", "user", "activity", "sig"}
    assert request.user_agent.startswith("lti-tool/")


@pytest.mark.parametrize("settings_overrides", [{"share_learner_identity": "name-and-email"}])
def test_only_what_the_lms_shared_is_sent(connected, speechace_setup, settings_overrides):
    def private(header, claims):
        for name in ("email", "name", "given_name", "family_name"):
            claims.pop(name, None)

    open_activity(connected, speechace_setup, tamper=private)
    params = speechace_setup.emulator.oembed_requests[-1].params
    assert "app_user_email" not in params and "app_user_fullname" not in params
    assert params["app_user_id"] == connected.course.learner


def test_the_key_never_reaches_the_browser_or_the_logs(connected, speechace_setup, caplog):
    caplog.set_level(logging.DEBUG)
    page = open_activity(connected, speechace_setup)
    key = speechace_setup.assessment.key
    assert key not in page.text
    assert key not in caplog.text


@pytest.mark.parametrize("settings_overrides", [{"http_timeout_seconds": 0.5}])
@pytest.mark.parametrize("fault", ["500", "404", "timeout", "invalid_json", "no_html"])
def test_oembed_failure_gives_a_clear_page_with_retry(connected, speechace_setup, database, fault,
                                                      settings_overrides):
    speechace_setup.emulator.timeout_sleep_seconds = 1.5
    speechace_setup.emulator.fail_next_oembed(fault)
    browser = FormBrowser()
    page = open_activity(connected, speechace_setup, browser=browser)
    assert page.status_code == 502
    assert 'data-testid="provider-error"' in page.text and "Traceback" not in page.text
    retry = re.search(r'href="([^"]+)" data-testid="retry"', page.text).group(1)
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 1  # recorded anyway
    again = browser.get(f"{connected.tool_url}{html.unescape(retry)}")
    assert again.status_code == 200, again.text[:300]
    assert iframe_of(again.text)["src"].startswith(speechace_setup.emulator.url("/embed/session/"))


def test_iframe_mode_uses_the_configured_test_url_without_oembed(connected, speechace, database):
    from lti_tool.activities import create_activity
    from lti_tool.providers.speechace_assessments import add_speechace_assessment

    with database.session() as session:
        assessment = add_speechace_assessment(session, "Iframe test", test_url="https://tests.example/take?t=1")
        activity = create_activity(session, assessment, "Iframe speaking test")
        public_id = activity.public_id
    page = FormBrowser().get(connected.launch_url(custom={"activity": public_id}))
    src = iframe_of(page.text)["src"]
    assert src.startswith("https://tests.example/take?t=1&app_user_id=")
    assert "app_score_submission_url=" in src and "key=" not in src
    assert "microphone https://tests.example" in iframe_of(page.text)["allow"]
    assert speechace.oembed_requests == []


def test_activity_not_set_up_tells_the_learner(connected):
    page = FormBrowser().get(connected.launch_url())
    assert 'data-testid="learner-landing"' in page.text and "not set up" in page.text


def test_status_before_any_result_is_started(connected, speechace_setup):
    browser = FormBrowser()
    page = open_activity(connected, speechace_setup, browser=browser)
    status_url = re.search(r'data-status-url="([^"]+)"', page.text).group(1)
    status = browser.get(f"{connected.tool_url}{status_url}").json()
    assert (status["state"], status["status"], status["submitted"]) == ("in_progress", "started", False)


def test_expired_or_forged_launch_handle_is_refused(connected, app):
    response = app.test_client().get("/lti/attempt/not-a-real-launch/status")
    assert response.status_code == 401
