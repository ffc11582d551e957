"""The Speechace emulator, driven over real HTTP the way the tool (server side) and a browser would."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from flask import request

from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.speechace import REPORT_ID_PATTERN
from lti_tool.sandbox.speechace import SpeechaceAssessment
from lti_tool.sandbox.speechace import SpeechaceEmulator
from lti_tool.sandbox.speechace import create_speechace_app

POST_MESSAGE = "window.parent.postMessage('speechaceActivityComplete', '*')"
# %41 and %2F are deliberate: a client that re-quotes URLs would turn them into "A" and "/".
SUBMISSION_QUERY = "attempt=a1b2&sig=x%2By%2F%41z&empty="


@dataclass
class Captured:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeTool:
    """The receiving tool: records every score POST and answers `status`; `on_post` runs while handling it."""

    server: LiveServer
    received: list[Captured] = field(default_factory=list)
    status: int = 200
    on_post: Callable[[dict[str, Any]], None] | None = None

    @property
    def submission_url(self) -> str:
        return f"{self.server.url}/speechace/scores?{SUBMISSION_QUERY}"

    def app(self) -> Flask:
        app = Flask("fake_tool")

        @app.post("/<path:path>")
        def capture(path: str) -> tuple[str, int]:
            self.received.append(Captured(request.method, request.path, request.query_string.decode(),
                                          dict(request.headers), request.get_data()))
            if self.on_post is not None:
                self.on_post(json.loads(request.get_data()))
            return "recorded", self.status

        return app


@dataclass
class Speechace:
    emulator: SpeechaceEmulator
    url: str
    assessment: SpeechaceAssessment

    def oembed(self, **params: str) -> requests.Response:
        """Call the share link as the tool does, appending the optional app_* parameters."""
        return self.oembed_within(5, params)

    def oembed_within(self, timeout: float, params: dict[str, str] | None = None) -> requests.Response:
        link = self.assessment.share_link + ("&" + urlencode(params) if params else "")
        return requests.get(link, timeout=timeout)

    def open_session(self, submission_url: str | None = None, user_id: str = "user-42") -> str:
        params = {"app_user_id": user_id, "app_user_fullname": "Alan Turing", "app_user_email": "alan@example.edu"}
        if submission_url is not None:
            params["app_score_submission_url"] = submission_url
        response = self.oembed(**params)
        assert response.status_code == 200, response.text
        match = re.search(r'src="[^"]*/embed/session/([0-9a-f]+)"', response.json()["html"])
        assert match is not None
        return match.group(1)


@pytest.fixture
def speechace() -> Iterator[Speechace]:
    with LiveServer() as server:
        emulator = SpeechaceEmulator(base_url=server.url)
        server.set_app(create_speechace_app(emulator))
        yield Speechace(emulator, server.url, emulator.add_assessment("Placement test", course_id=1234))


@pytest.fixture
def tool() -> Iterator[FakeTool]:
    with LiveServer() as server:
        fake = FakeTool(server)
        server.set_app(fake.app())
        yield fake


def report_id_of(report_url: str) -> str:
    match = REPORT_ID_PATTERN.search(report_url)
    assert match is not None, report_url
    return match.group(1)


# --- assessments and share links -------------------------------------------------------------------------
def test_share_link_has_the_documented_format(speechace: Speechace) -> None:
    assessment = speechace.assessment
    assert re.fullmatch(r"[A-Za-z0-9]{16}", assessment.key)
    encoded_base = quote(speechace.url, safe="")
    assert assessment.share_link == (f"{speechace.url}/embed/oembed?url={encoded_base}%2Fplacement%2Fapi%2Fcourse"
                                     f"%2F1234%2F&key={assessment.key}")
    assert isinstance(assessment.quiz_id, int)


def test_random_keys_and_course_ids_differ(speechace: Speechace) -> None:
    first, second = speechace.emulator.add_assessment(), speechace.emulator.add_assessment()
    assert first.key != second.key
    assert len({first.course_id, second.course_id, 1234}) == 3


def test_invalid_or_duplicate_assessment_setup_is_refused(speechace: Speechace) -> None:
    with pytest.raises(ValueError, match="letters and digits"):
        speechace.emulator.add_assessment(key="short")
    with pytest.raises(ValueError, match="already exists"):
        speechace.emulator.add_assessment(course_id=1234)


def test_index_lists_assessments_with_masked_keys(speechace: Speechace) -> None:
    page = requests.get(f"{speechace.url}/", timeout=5).text
    key = speechace.assessment.key
    assert "Placement test" in page
    assert key not in page
    assert f"************{key[-4:]}" in page


# --- oEmbed ----------------------------------------------------------------------------------------------
def test_oembed_with_the_right_key_returns_an_iframe_to_a_new_session(speechace: Speechace, tool: FakeTool) -> None:
    params = {"app_user_id": "user-42", "app_user_fullname": "Alan Turing", "app_user_email": "alan@example.edu",
              "app_score_submission_url": tool.submission_url}
    response = speechace.oembed(**params)
    assert response.status_code == 200
    body = response.json()
    (token, session), = speechace.emulator.sessions.items()
    assert body["html"] == (f'<iframe src="{speechace.url}/embed/session/{token}" width="100%" height="640" '
                            'frameborder="0" allow="microphone; autoplay"></iframe>')
    assert (body["version"], body["type"], body["provider_name"], body["title"]) == (
        "1.0", "rich", "Speechace", "Placement test")
    assert (session.user_id, session.user_fullname, session.user_email) == ("user-42", "Alan Turing",
                                                                           "alan@example.edu")
    assert session.submission_url == tool.submission_url
    assert session.assessment == speechace.assessment
    assert speechace.emulator.session_for_user("user-42") is session
    (recorded,) = speechace.emulator.oembed_requests
    assert recorded.params == {"url": speechace.assessment.course_url, "key": speechace.assessment.key, **params}
    assert (recorded.status, recorded.session_token) == (200, token)


def test_each_oembed_call_opens_a_new_session_and_the_latest_wins(speechace: Speechace) -> None:
    first, second = speechace.open_session(), speechace.open_session()
    assert first != second
    latest = speechace.emulator.session_for_user("user-42")
    assert latest is not None and latest.token == second
    assert speechace.emulator.session_for_user("nobody") is None


@pytest.mark.parametrize("key", ["WRONGKEY00000000", "", None])
def test_oembed_with_a_wrong_or_missing_key_is_forbidden(speechace: Speechace, key: str | None) -> None:
    params = {"url": speechace.assessment.course_url, **({"key": key} if key is not None else {})}
    response = requests.get(f"{speechace.url}/embed/oembed", params=params, timeout=5)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "key" in response.text
    assert speechace.emulator.sessions == {}
    assert speechace.emulator.oembed_requests[-1].status == 403


def test_a_key_of_another_course_is_forbidden(speechace: Speechace) -> None:
    other = speechace.emulator.add_assessment()
    params = {"url": speechace.assessment.course_url, "key": other.key}
    assert requests.get(f"{speechace.url}/embed/oembed", params=params, timeout=5).status_code == 403


@pytest.mark.parametrize("course_path", ["/placement/api/course/999/", "/placement/api/course/1234",
                                         "/placement/api/course/abc/"])
def test_oembed_for_an_unknown_course_url_is_not_found(speechace: Speechace, course_path: str) -> None:
    params = {"url": speechace.url + course_path, "key": speechace.assessment.key}
    response = requests.get(f"{speechace.url}/embed/oembed", params=params, timeout=5)
    assert response.status_code == 404
    assert speechace.emulator.sessions == {}


def test_oembed_for_a_course_on_another_host_is_not_found(speechace: Speechace) -> None:
    params = {"url": "https://speak.speechace.co/placement/api/course/1234/", "key": speechace.assessment.key}
    assert requests.get(f"{speechace.url}/embed/oembed", params=params, timeout=5).status_code == 404


@pytest.mark.parametrize("submission_url", ["javascript:alert(1)", "ftp://tool.example/scores", "/relative", ""])
def test_oembed_refuses_a_non_http_submission_url(speechace: Speechace, submission_url: str) -> None:
    response = speechace.oembed(app_user_id="u1", app_score_submission_url=submission_url)
    assert response.status_code == 400
    assert speechace.emulator.sessions == {}


# --- oEmbed fault knobs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "404"])
def test_injected_http_failures(speechace: Speechace, kind: str) -> None:
    speechace.emulator.fail_next_oembed(kind, times=2)  # type: ignore[arg-type]
    assert [speechace.oembed().status_code for _ in range(3)] == [int(kind), int(kind), 200]
    assert [record.fault for record in speechace.emulator.oembed_requests] == [kind, kind, None]


def test_injected_invalid_json_is_a_200_that_does_not_parse(speechace: Speechace) -> None:
    speechace.emulator.fail_next_oembed("invalid_json")
    response = speechace.oembed()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(response.text)
    assert "html" in speechace.oembed().json()


def test_injected_no_html_omits_only_the_html_field(speechace: Speechace) -> None:
    speechace.emulator.fail_next_oembed("no_html")
    body = speechace.oembed().json()
    assert "html" not in body
    assert body["provider_name"] == "Speechace"


def test_injected_timeout_outlasts_a_short_client_timeout(speechace: Speechace) -> None:
    speechace.emulator.timeout_sleep_seconds = 1.0
    speechace.emulator.fail_next_oembed("timeout")
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        speechace.oembed_within(0.2)
    assert time.monotonic() - started < 0.9
    assert speechace.oembed().status_code == 200


def test_unknown_fault_kind_is_refused(speechace: Speechace) -> None:
    with pytest.raises(ValueError, match="unknown oEmbed fault"):
        speechace.emulator.fail_next_oembed("503")  # type: ignore[arg-type]


# --- the embedded test page ------------------------------------------------------------------------------
def test_session_page_has_the_finish_button_the_scores_and_the_post_message(speechace: Speechace) -> None:
    token = speechace.open_session()
    page = requests.get(f"{speechace.url}/embed/session/{token}", timeout=5).text
    assert "id='finish'" in page
    assert "Alan Turing" in page
    assert "Placement test" in page
    assert "id='done' hidden>Test complete" in page
    assert f"{speechace.url}/embed/session/{token}/complete" in page
    assert page.count(POST_MESSAGE) == 1  # only in the finish handler
    (form,) = parse_forms(page)
    assert form.fields == {"overall": "6.5", "pronunciation": "7", "fluency": "6", "vocab": "6.5", "grammar": "6"}


def test_post_message_on_load_knob_adds_a_message_at_load(speechace: Speechace) -> None:
    token = speechace.open_session()
    speechace.emulator.post_message_on_load = True
    page = requests.get(f"{speechace.url}/embed/session/{token}", timeout=5).text
    assert page.count(POST_MESSAGE) == 2


def test_session_page_escapes_the_user_name(speechace: Speechace) -> None:
    response = speechace.oembed(app_user_id="u1", app_user_fullname="<script>alert(1)</script>")
    token = next(iter(speechace.emulator.sessions))
    page = requests.get(f"{speechace.url}/embed/session/{token}", timeout=5).text
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_unknown_session_is_not_found(speechace: Speechace) -> None:
    assert requests.get(f"{speechace.url}/embed/session/nope", timeout=5).status_code == 404
    assert requests.post(f"{speechace.url}/embed/session/nope/complete", json={}, timeout=5).status_code == 404


# --- completion and score callbacks ----------------------------------------------------------------------
def expected_body(speechace: Speechace, report_url: str, scores: dict[str, float],
                  user_id: str = "user-42") -> dict[str, Any]:
    return {"version": "1.0", "key": speechace.assessment.key, "courseId": 1234,
            "quizId": speechace.assessment.quiz_id, "userId": user_id, "score": scores, "reportUrl": report_url}


def test_complete_posts_the_documented_body_to_the_submission_url_unchanged(speechace: Speechace,
                                                                            tool: FakeTool) -> None:
    token = speechace.open_session(tool.submission_url)
    scores = {"overall": 4.0, "pronunciation": 7.6, "fluency": 6.5, "vocab": 6.6, "grammar": 5.5}
    tool.status = 202
    result = speechace.emulator.complete(token, scores)
    (received,) = tool.received
    assert (received.method, received.path, received.query_string) == ("POST", "/speechace/scores",
                                                                       SUBMISSION_QUERY)
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"] == "Speechace-Emulator"
    report_url = json.loads(received.body)["reportUrl"]
    assert re.fullmatch(re.escape(speechace.url) + r"/placement/report/[0-9a-f]{26}", report_url)
    assert json.loads(received.body) == expected_body(speechace, report_url, scores)
    assert list(json.loads(received.body)) == ["version", "key", "courseId", "quizId", "userId", "score",
                                               "reportUrl"]
    assert (result.status, result.response_text, result.url, result.body) == (
        202, "recorded", tool.submission_url, received.body)
    assert speechace.emulator.callbacks_sent == [result]


def test_each_completion_gets_a_new_report(speechace: Speechace, tool: FakeTool) -> None:
    token = speechace.open_session(tool.submission_url)
    first, second = speechace.emulator.complete(token), speechace.emulator.complete(token)
    assert first.report_id != second.report_id
    assert speechace.emulator.sessions[token].report_ids == [first.report_id, second.report_id]


def test_finish_over_http_with_json_scores(speechace: Speechace, tool: FakeTool) -> None:
    token = speechace.open_session(tool.submission_url)
    scores = {"overall": 8.5, "pronunciation": 8.0, "fluency": 9, "vocab": 7.5, "grammar": 0}
    response = requests.post(f"{speechace.url}/embed/session/{token}/complete", json=scores, timeout=5)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["completed"], answer["callbackStatus"]) == (True, 200)
    assert json.loads(tool.received[0].body)["score"] == {name: float(value) for name, value in scores.items()}
    assert json.loads(tool.received[0].body)["reportUrl"] == answer["reportUrl"]


def test_finish_without_javascript_submits_the_form_and_ends_with_the_message(speechace: Speechace,
                                                                             tool: FakeTool) -> None:
    token = speechace.open_session(tool.submission_url)
    browser = FormBrowser()
    (form,) = parse_forms(browser.get(f"{speechace.url}/embed/session/{token}").text)
    done = browser.submit(form, {"overall": "5.5"})
    assert done.status_code == 200
    assert "id='done'" in done.text
    assert POST_MESSAGE in done.text
    assert json.loads(tool.received[0].body)["score"]["overall"] == 5.5


@pytest.mark.parametrize("scores", [{"overall": 9.5}, {"overall": -1}, {"overall": "high"}, {"accent": 5.0},
                                    {"overall": True}])
def test_scores_outside_the_scale_are_refused(speechace: Speechace, tool: FakeTool,
                                              scores: dict[str, Any]) -> None:
    token = speechace.open_session(tool.submission_url)
    response = requests.post(f"{speechace.url}/embed/session/{token}/complete", json=scores, timeout=5)
    assert response.status_code == 400
    with pytest.raises(ValueError):
        speechace.emulator.complete(token, scores)
    assert tool.received == []


def test_wrong_content_type_variant_sends_the_same_json_bytes(speechace: Speechace, tool: FakeTool) -> None:
    token = speechace.open_session(tool.submission_url)
    result = speechace.emulator.complete(token, content_type="text/plain")
    (received,) = tool.received
    assert received.headers["Content-Type"] == "text/plain"
    report_url = speechace.emulator.report_url(result.report_id or "")
    scores = {"overall": 6.5, "pronunciation": 7.0, "fluency": 6.0, "vocab": 6.5, "grammar": 6.0}
    assert received.body == json.dumps(expected_body(speechace, report_url, scores)).encode()


def test_resend_duplicates_a_callback_byte_for_byte(speechace: Speechace, tool: FakeTool) -> None:
    token = speechace.open_session(tool.submission_url)
    speechace.emulator.complete(token, content_type="application/json; charset=utf-8")
    duplicate = speechace.emulator.resend(0)
    first, second = tool.received
    assert (second.path, second.query_string, second.body) == (first.path, first.query_string, first.body)
    assert second.headers["Content-Type"] == first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert duplicate.status == 200
    assert len(speechace.emulator.callbacks_sent) == 2


def test_post_raw_sends_arbitrary_bytes(speechace: Speechace, tool: FakeTool) -> None:
    result = speechace.emulator.post_raw(tool.submission_url, b"not json at all", "application/json")
    (received,) = tool.received
    assert (received.body, received.query_string, result.status) == (b"not json at all", SUBMISSION_QUERY, 200)
    assert speechace.emulator.callbacks_sent == [result]


def test_without_a_submission_url_the_callback_is_recorded_and_skipped(speechace: Speechace,
                                                                       tool: FakeTool) -> None:
    token = speechace.open_session(submission_url=None)
    result = speechace.emulator.complete(token)
    assert (result.skipped, result.url, result.status) == (True, None, None)
    assert result.json()["userId"] == "user-42"
    assert tool.received == []
    with pytest.raises(ValueError, match="never sent"):
        speechace.emulator.resend(0)


def test_tool_errors_and_unreachable_tools_are_recorded(speechace: Speechace, tool: FakeTool) -> None:
    tool.status = 500
    assert speechace.emulator.complete(speechace.open_session(tool.submission_url)).status == 500
    gone = LiveServer()
    gone.stop()
    result = speechace.emulator.complete(speechace.open_session(f"{gone.url}/scores"))
    assert result.status is None
    assert result.error is not None and "ConnectionError" in result.error


def test_the_tool_may_fetch_the_report_while_handling_the_callback(speechace: Speechace, tool: FakeTool) -> None:
    fetched: list[dict[str, Any]] = []

    def fetch_report(body: dict[str, Any]) -> None:
        api_url = f"{speechace.url}/placement/api/report/{report_id_of(body['reportUrl'])}/"
        fetched.append(requests.get(api_url, timeout=5).json())

    tool.on_post = fetch_report
    result = speechace.emulator.complete(speechace.open_session(tool.submission_url), {"overall": 3.0})
    assert result.status == 200
    assert fetched[0]["scoring"]["overall"]["score"] == 3.0


# --- reports ---------------------------------------------------------------------------------------------
def completed_report(speechace: Speechace, tool: FakeTool, scores: dict[str, float]) -> str:
    speechace.emulator.complete(speechace.open_session(tool.submission_url), scores)
    return report_id_of(json.loads(tool.received[-1].body)["reportUrl"])


def test_report_json_has_the_scores_and_documented_fields(speechace: Speechace, tool: FakeTool) -> None:
    scores = {"overall": 4.0, "pronunciation": 7.6, "fluency": 6.5, "vocab": 6.6, "grammar": 5.5}
    report_id = completed_report(speechace, tool, scores)
    response = requests.get(f"{speechace.url}/placement/api/report/{report_id}/", timeout=5)
    assert response.status_code == 200
    report = response.json()
    assert {name: report["scoring"][name]["score"] for name in scores} == scores
    assert isinstance(report["default_rubric"], str)
    questions = report["questions"]
    assert [question["order"] for question in questions] == [1, 2]
    assert len({question["question_attempt_id"] for question in questions}) == 2
    for question in questions:
        assert isinstance(question["question_attempt_id"], int)
        assert question["answer"].strip()
        assert question["dialect"] == "en-us"
        (default,) = [rubric for rubric in question["rubrics"] if rubric["default"] is True]
        assert default["score_map"] == {"4.0": "44.4"}
        assert isinstance(default["original_name"], str)
    assert "padding" not in report


def test_report_page_shows_the_scores(speechace: Speechace, tool: FakeTool) -> None:
    report_id = completed_report(speechace, tool, {"overall": 7.5})
    page = requests.get(f"{speechace.url}/placement/report/{report_id}/", timeout=5)
    assert page.status_code == 200
    assert "<td id='score-overall'>7.5</td>" in page.text
    assert "Alan Turing" in page.text


def test_unknown_reports_are_not_found(speechace: Speechace) -> None:
    for path in ("/placement/api/report/abc123/", "/placement/report/abc123/"):
        assert requests.get(speechace.url + path, timeout=5).status_code == 404


def test_report_padding_and_delay_knobs(speechace: Speechace, tool: FakeTool) -> None:
    report_id = completed_report(speechace, tool, {})
    speechace.emulator.report_padding_bytes = 2_000_000
    speechace.emulator.report_delay_seconds = 0.3
    started = time.monotonic()
    response = requests.get(f"{speechace.url}/placement/api/report/{report_id}/", timeout=5)
    assert time.monotonic() - started >= 0.3
    assert len(response.content) > 2_000_000
    assert response.json()["scoring"]["overall"]["score"] == 6.5
