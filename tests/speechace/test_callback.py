"""Speechace's completion callback: verified, stored once, queued for the gradebook; bad input changes nothing."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from lti_tool.models import Attempt
from lti_tool.models import AttemptStatus
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.sandbox.browser import FormBrowser
from tests.speechace.test_embed import open_activity
from tests.sql_capture import statements_sent

GOOD_SCORES = {"overall": 6.5, "pronunciation": 7.0, "fluency": 6.0, "vocab": 6.5, "grammar": 6.0}


def take_test(connected, setup, sub=None, scores=None, content_type="application/json"):
    """Open the activity as a learner and finish the test; returns the emulator's callback result."""
    open_activity(connected, setup, sub=sub)
    session = setup.emulator.session_for_user(sub or connected.course.learner)
    return setup.emulator.complete(session.token, scores=scores, content_type=content_type)


def counts(database) -> tuple[int, int]:
    with database.session() as session:
        return (session.scalar(sa.select(sa.func.count()).select_from(Result)),
                session.scalar(sa.select(sa.func.count()).select_from(ScoreSubmission)))


def test_completed_test_is_stored_and_queued_for_the_gradebook(connected, speechace_setup, database):
    callback = take_test(connected, speechace_setup)
    assert callback.status == 200, callback.response_text
    assert json.loads(callback.response_text) == {"status": "accepted"}
    with database.session() as session:
        result = session.scalars(sa.select(Result)).one()
        assert result.scores == GOOD_SCORES and result.scale_maximum == 9
        assert result.report_url == json.loads(callback.body)["reportUrl"]
        assert "key" not in result.payload
        submission = session.scalars(sa.select(ScoreSubmission)).one()
        assert submission.status == SubmissionStatus.PENDING
        assert submission.score_given == pytest.approx(6.5 / 9 * 100, abs=1e-3)
        assert submission.score_maximum == 100
        assert (submission.grading_progress, submission.activity_progress) == ("FullyGraded", "Completed")
        assert result.report_url not in submission.comment  # the capability URL never goes to the LMS
        assert f"/teacher/results/{result.public_id}" in submission.comment
        assert session.scalars(sa.select(Attempt.status)).one() == AttemptStatus.SUBMITTED


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/jsonp"])
def test_a_body_not_declared_as_json_is_415_and_stores_nothing(connected, speechace_setup, database, content_type):
    callback = take_test(connected, speechace_setup, content_type=content_type)
    assert callback.status == 415, callback.response_text
    assert "application/json" in json.loads(callback.response_text)["error"]
    assert counts(database) == (0, 0)


def test_json_with_a_charset_is_accepted(connected, speechace_setup, database):
    assert take_test(connected, speechace_setup, content_type="application/json; charset=utf-8").status == 200
    assert counts(database) == (1, 1)


def test_status_shows_submitted_and_the_score_after_the_callback(connected, speechace_setup):
    browser = FormBrowser()
    page = open_activity(connected, speechace_setup, browser=browser)
    status_url = re.search(r'data-status-url="([^"]+)"', page.text).group(1)
    token = speechace_setup.emulator.session_for_user(connected.course.learner).token
    speechace_setup.emulator.complete(token)
    status = browser.get(f"{connected.tool_url}{status_url}").json()
    assert status["submitted"] is True and status["status"] == "submitted"
    assert {name: status["score"][name] for name in ("value", "out_of", "component")} == {
        "value": 6.5, "out_of": 9.0, "component": "overall"}
    assert status["state"] == "grade_on_its_way" and status["in_gradebook"] is False


@pytest.mark.parametrize("speechace_activity_options", [{"show_score_to_student": False}])
def test_score_is_hidden_when_the_activity_says_so(connected, speechace_setup, speechace_activity_options):
    browser = FormBrowser()
    page = open_activity(connected, speechace_setup, browser=browser)
    status_url = re.search(r'data-status-url="([^"]+)"', page.text).group(1)
    speechace_setup.emulator.complete(speechace_setup.emulator.session_for_user(connected.course.learner).token)
    assert "score" not in browser.get(f"{connected.tool_url}{status_url}").json()


# --- refused callbacks: 4xx with a reason, nothing stored -------------------------------------------------------

def _latest_learner(setup) -> str:
    """The app_user_id of the latest test session opened: the learner the callback URL was issued for."""
    sessions = list(setup.emulator.sessions.values())
    return sessions[-1].user_id if sessions else "nobody"


def _good_body(setup, report_id="a1b2c3d4e5f6", user=None) -> dict:
    return {"version": "1.0", "key": setup.assessment.key, "courseId": setup.assessment.course_id,
            "quizId": setup.assessment.quiz_id, "userId": user or _latest_learner(setup), "score": dict(GOOD_SCORES),
            "reportUrl": setup.emulator.url(f"/placement/report/{report_id}")}


def _callback_url(connected, setup) -> str:
    open_activity(connected, setup)
    return setup.emulator.session_for_user(connected.course.learner).submission_url


def _post(url, body, content_type="application/json") -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers={"Content-Type": content_type}, timeout=10)


def _with_score(**changes):
    def change(body):
        body["score"].update(changes)
    return change


def _drop(*path):
    def change(body):
        target = body
        for part in path[:-1]:
            target = target[part]
        target.pop(path[-1])
    return change


def _set(name, value):
    def change(body):
        body[name] = value
    return change


BAD_BODIES = [
    pytest.param(_set("key", "WRONGKEY12345678"), 403, "key", id="wrong-key"),
    pytest.param(_drop("key"), 403, "key", id="no-key"),
    pytest.param(_drop("score"), 400, "score object", id="no-scores"),
    pytest.param(_drop("score", "overall"), 400, "overall", id="overall-missing"),
    pytest.param(_with_score(overall="excellent"), 400, "not a number", id="non-numeric"),
    pytest.param(_with_score(fluency=True), 400, "not a number", id="boolean"),
    pytest.param(_with_score(overall="6.5"), 400, "'overall' is not a number", id="numeric-string"),
    pytest.param(_with_score(grammar=10 ** 400), 400, "digits", id="400-digit-score"),
    pytest.param(_set("userId", "somebody-else"), 403, "userId", id="another-learner"),
    pytest.param(_drop("userId"), 403, "userId", id="no-user"),
    pytest.param(_set("userId", True), 403, "userId", id="user-not-an-id"),
    pytest.param(_set("courseId", 424242), 403, "courseId", id="another-speechace-course"),
    pytest.param(_drop("courseId"), 403, "courseId", id="no-course"),
    pytest.param(_drop("quizId"), 403, "quizId", id="no-quiz"),
    pytest.param(_set("quizId", [1]), 403, "quizId", id="quiz-not-an-id"),
    pytest.param(_set("reportUrl", "https://example.org/\x00"), 400, "reportUrl", id="nul-in-report-url"),
    pytest.param(_with_score(overall=-1), 400, "outside", id="negative"),
    pytest.param(_with_score(grammar=9.5), 400, "outside", id="out-of-range"),
    pytest.param(_set("score", [6.5]), 400, "score object", id="scores-not-an-object"),
    pytest.param(_drop("reportUrl"), 400, "reportUrl", id="no-report-url"),
    pytest.param(_set("reportUrl", "javascript:alert(1)"), 400, "reportUrl", id="report-url-not-http"),
]


@pytest.mark.parametrize(("change", "status", "reason"), BAD_BODIES)
def test_bad_callback_is_refused_and_stores_nothing(connected, speechace_setup, database, change, status, reason):
    url = _callback_url(connected, speechace_setup)
    body = _good_body(speechace_setup)
    change(body)
    response = _post(url, body)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]
    assert counts(database) == (0, 0)


@pytest.mark.parametrize(("raw", "reason"), [
    pytest.param(b"{not json", "not valid JSON", id="malformed-json"),
    pytest.param(b'["a", "list"]', "JSON object", id="not-an-object"),
    pytest.param(b'{"score": {"overall": NaN}}', "NaN is not a number", id="nan"),
    pytest.param(b'{"score": {"overall": Infinity}}', "Infinity is not a number", id="infinity"),
    pytest.param(b"\xff\xfe", "not UTF-8", id="not-utf8"),
    pytest.param(b"[" * 3000 + b"]" * 3000, "nested deeper", id="3000-deep"),
])
def test_unparseable_callback_is_refused(connected, speechace_setup, database, raw, reason):
    response = _post(_callback_url(connected, speechace_setup), raw)
    assert response.status_code == 400 and reason in response.json()["error"]
    assert counts(database) == (0, 0)


def test_body_over_64_kb_is_refused(connected, speechace_setup, database):
    body = _good_body(speechace_setup)
    body["padding"] = "x" * (65 * 1024)
    response = _post(_callback_url(connected, speechace_setup), body)
    assert response.status_code == 413
    assert counts(database) == (0, 0)


def test_callback_cannot_be_moved_to_another_student(connected, speechace_setup, database):
    """Grace finished; someone replays her callback URL with Alan's user id: the signature stops it."""
    url = _callback_url(connected, speechace_setup)
    FormBrowser().get(connected.launch_url(sub=connected.course.instructor))  # another user row exists
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    for field, value in (("user", str(int(query["user"]) + 1)), ("quiz", "999"), ("course", "999")):
        moved = {**query, field: value}
        response = _post(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(moved)}",
                         _good_body(speechace_setup))
        assert response.status_code == 403, field
        assert "signature" in response.json()["error"]
    unsigned = {name: value for name, value in query.items() if name != "sig"}
    assert _post(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(unsigned)}",
                 _good_body(speechace_setup)).status_code == 403
    assert counts(database) == (0, 0)


def test_unknown_provider_callback_is_404(app, tool_server):
    assert requests.post(f"{tool_server.url}/callbacks/nobody", data=b"{}", timeout=10).status_code == 404


# --- idempotency and attempts ----------------------------------------------------------------------------------

def test_duplicate_callback_stores_nothing_new_and_queues_no_second_grade(connected, speechace_setup, database):
    first = take_test(connected, speechace_setup)
    assert first.status == 200
    again = speechace_setup.emulator.resend(0)
    assert again.status == 200 and json.loads(again.response_text) == {"status": "duplicate"}
    assert counts(database) == (1, 1)


def test_a_new_attempt_is_recorded_and_replaces_the_queued_grade(connected, speechace_setup, database):
    take_test(connected, speechace_setup, scores={**GOOD_SCORES, "overall": 5.0})
    take_test(connected, speechace_setup, scores={**GOOD_SCORES, "overall": 8.0})
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Result)) == 2
        submissions = session.scalars(sa.select(ScoreSubmission).order_by(ScoreSubmission.id)).all()
        assert [s.status for s in submissions] == [SubmissionStatus.SUPERSEDED, SubmissionStatus.PENDING]
        assert submissions[-1].score_given == pytest.approx(8.0 / 9 * 100, abs=1e-3)


@pytest.mark.parametrize("speechace_activity_options", [{"attempts_policy": "best", "score_maximum": 20}])
def test_best_policy_keeps_the_best_attempt(connected, speechace_setup, database, speechace_activity_options):
    take_test(connected, speechace_setup, scores={**GOOD_SCORES, "overall": 8.0})
    take_test(connected, speechace_setup, scores={**GOOD_SCORES, "overall": 4.5})
    with database.session() as session:
        latest = session.scalars(sa.select(ScoreSubmission).order_by(ScoreSubmission.id.desc())).first()
        assert latest.score_given == pytest.approx(8.0 / 9 * 20, abs=1e-3)
        assert latest.score_maximum == 20


@pytest.mark.parametrize("speechace_activity_options", [{"score_component": "pronunciation"}])
def test_a_component_can_be_the_gradebook_score(connected, speechace_setup, database, speechace_activity_options):
    take_test(connected, speechace_setup, scores={**GOOD_SCORES, "pronunciation": 9.0})
    with database.session() as session:
        assert session.scalars(sa.select(ScoreSubmission.score_given)).one() == pytest.approx(100)


# --- the teacher's report ----------------------------------------------------------------------------------------

def _teacher_page(connected, setup, sub=None):
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=sub or connected.course.instructor,
                                            custom={"activity": setup.activity_public_id}))
    return browser, page


def test_teacher_sees_the_attempt_and_opens_the_report(connected, speechace_setup):
    take_test(connected, speechace_setup)
    browser, page = _teacher_page(connected, speechace_setup)
    assert 'data-status="submitted"' in page.text and "Alan Turing" in page.text
    report_link = html.unescape(re.search(r'href="([^"]*/teacher/results/[^"]+)"', page.text).group(1))
    report = browser.get(f"{connected.tool_url}{report_link}")
    assert report.status_code == 200, report.text[:300]
    assert 'data-testid="report-answers"' in report.text and "report-problem" not in report.text
    assert "Overall" in report.text and "6.5" in report.text


def test_learner_cannot_open_a_report(connected, speechace_setup, database):
    take_test(connected, speechace_setup)
    browser = FormBrowser()
    page = open_activity(connected, speechace_setup, browser=browser)
    launch_id = re.search(r"/lti/attempt/([^/\"]+)/status", page.text).group(1)
    with database.session() as session:
        public_id = session.scalars(sa.select(Result.public_id)).one()
    response = browser.get(f"{connected.tool_url}/teacher/results/{public_id}?launch={launch_id}")
    assert response.status_code == 403


def test_teacher_of_another_course_cannot_open_a_report(connected, speechace_setup, database):
    from lti_tool.sandbox.platform import constants as c

    take_test(connected, speechace_setup)
    connected.platform.add_context("course-202", "Other course", "OTH")
    connected.platform.add_user("other-teacher", "Olga", "Other")
    connected.platform.enrol("course-202", "other-teacher", [c.ROLE_INSTRUCTOR])
    browser = FormBrowser()
    page = browser.get(connected.platform.begin_launch(connected.client.client_id, "other-teacher", "course-202",
                                                       resource_link_id="other-link"))
    assert page.status_code == 200
    launch_id = _launch_id_of(database, "other-teacher")
    with database.session() as session:
        public_id = session.scalars(sa.select(Result.public_id)).one()
    assert browser.get(f"{connected.tool_url}/teacher/results/{public_id}?launch={launch_id}").status_code == 403


def _launch_id_of(database, sub) -> str:
    from lti_tool.models import LtiLaunch
    from lti_tool.models import LtiUser

    with database.session() as session:
        return session.scalars(sa.select(LtiLaunch.id).join(LtiUser, LtiUser.id == LtiLaunch.user_id)
                               .where(LtiUser.sub == sub).order_by(LtiLaunch.expires_at.desc())).first()


def test_report_page_without_a_launch_asks_to_open_from_the_course(app, tool_server):
    response = requests.get(f"{tool_server.url}/teacher/results/anything", timeout=10)
    assert response.status_code == 401 and "Open this page from your course" in response.text


def test_oversized_report_is_not_loaded_but_the_scores_are_shown(connected, speechace_setup):
    speechace_setup.emulator.report_padding_bytes = 2 * 1024 * 1024
    take_test(connected, speechace_setup)
    browser, page = _teacher_page(connected, speechace_setup)
    report_link = html.unescape(re.search(r'href="([^"]*/teacher/results/[^"]+)"', page.text).group(1))
    report = browser.get(f"{connected.tool_url}{report_link}")
    assert report.status_code == 200
    assert 'data-testid="report-problem"' in report.text and "6.5" in report.text


# --- the cheap path and its fallbacks ----------------------------------------------------------------------------

def _services(app):
    return app.extensions["lti_tool.services"]


def _signed(app, url: str, drop=(), **changes) -> str:
    from lti_tool.providers.signing import CallbackSigner

    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items() if name != "sig" and name not in drop}
    query.update({name: str(value) for name, value in changes.items()})
    signer = CallbackSigner(_services(app).settings.secret_key, "speechace")
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode({**query, 'sig': signer.sign(query)})}"


def test_a_callback_costs_one_statement_on_postgresql(app, connected, speechace_setup, database):
    """The usual callback (settings kept by the process) is a single write; SQLite runs its steps one by one."""
    url = _callback_url(connected, speechace_setup)
    assert _post(url, _good_body(speechace_setup, "0001")).status_code == 200  # reads the settings once
    with statements_sent(_services(app).database.engine) as statements:
        response = _post(url, _good_body(speechace_setup, "0002"))
    assert response.json() == {"status": "accepted"}
    assert len(statements) == (1 if database.is_postgresql else 4), statements
    assert counts(database) == (2, 2)


def test_a_retake_leaves_the_attempt_row_alone(connected, speechace_setup, database):
    url = _callback_url(connected, speechace_setup)
    assert _post(url, _good_body(speechace_setup, "0001")).status_code == 200
    with database.session() as session:
        first = session.scalars(sa.select(Attempt)).one()
    assert _post(url, _good_body(speechace_setup, "0002")).status_code == 200
    with database.session() as session:
        again = session.scalars(sa.select(Attempt)).one()
    assert (again.status, again.status_detail) == (AttemptStatus.SUBMITTED, None)
    assert again.datetime_updated == first.datetime_updated  # the status did not change: no write
    assert counts(database) == (2, 2)


def test_a_graded_attempt_is_submitted_again_by_a_retake(connected, speechace_setup, database):
    url = _callback_url(connected, speechace_setup)
    assert _post(url, _good_body(speechace_setup, "0001")).status_code == 200
    with database.session() as session:
        session.execute(sa.update(Attempt).values(status=AttemptStatus.GRADED.value, status_detail="was sent"))
    assert _post(url, _good_body(speechace_setup, "0002")).status_code == 200
    with database.session() as session:
        attempt = session.scalars(sa.select(Attempt)).one()
        assert (attempt.status, attempt.status_detail) == (AttemptStatus.SUBMITTED, None)


def test_a_url_issued_before_the_activity_was_signed_into_it_still_works(app, connected, speechace_setup, database):
    legacy = _signed(app, _callback_url(connected, speechace_setup), drop=("activity",))
    response = _post(legacy, _good_body(speechace_setup))
    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    assert _post(legacy, _good_body(speechace_setup)).json() == {"status": "duplicate"}
    assert counts(database) == (1, 1)


def test_the_activity_cannot_be_added_to_a_legacy_signature(app, connected, speechace_setup, database):
    url = _callback_url(connected, speechace_setup)
    legacy = urlsplit(_signed(app, url, drop=("activity",)))
    query = {name: values[0] for name, values in parse_qs(legacy.query).items()}
    query["activity"] = "999"
    response = _post(f"{legacy.scheme}://{legacy.netloc}{legacy.path}?{urlencode(query)}", _good_body(speechace_setup))
    assert response.status_code == 403 and counts(database) == (0, 0)


def test_an_attempt_moved_to_another_activity_is_graded_by_its_current_one(connected, speechace_setup, database):
    from lti_tool.activities import create_activity
    from lti_tool.models import Assessment

    url = _callback_url(connected, speechace_setup)  # signed with the first activity
    with database.session() as session:
        assessment = session.get_one(Assessment, speechace_setup.assessment_pk)
        other = create_activity(session, assessment, "Moved here", score_maximum=20)
        session.execute(sa.update(Attempt).values(activity_id=other.id))
    response = _post(url, _good_body(speechace_setup))
    assert response.json() == {"status": "accepted"}
    with database.session() as session:
        assert session.scalars(sa.select(ScoreSubmission.score_maximum)).one() == 20


def test_a_callback_for_a_removed_attempt_is_404(connected, speechace_setup, database):
    url = _callback_url(connected, speechace_setup)
    with database.session() as session:
        session.execute(sa.delete(Attempt))
    response = _post(url, _good_body(speechace_setup))
    assert response.status_code == 404 and "No attempt matches" in response.json()["error"]
    assert counts(database) == (0, 0)


def test_a_write_that_fails_midway_stores_nothing_and_the_retry_is_queued(connected, speechace_setup, database,
                                                                          monkeypatch):
    """The result and its queued score are one write: a failure in its last step (the outbox row) leaves no
    result behind, so the provider's retry is accepted and queued instead of answered "duplicate"."""
    from lti_tool.grading import policy

    real_submission = policy._submission
    monkeypatch.setattr(policy, "_submission", lambda *args, **kwargs: {**real_submission(*args, **kwargs),
                                                                        "activity_progress": None})  # NOT NULL
    url = _callback_url(connected, speechace_setup)
    assert _post(url, _good_body(speechace_setup)).status_code == 500
    assert counts(database) == (0, 0)
    monkeypatch.setattr(policy, "_submission", real_submission)
    assert _post(url, _good_body(speechace_setup)).json() == {"status": "accepted"}
    assert counts(database) == (1, 1)


def test_a_key_changed_by_another_process_is_accepted_at_once_and_the_old_one_expires(app, connected, speechace_setup,
                                                                                    database):
    from lti_tool.models import Assessment

    configs = _services(app).callback_configs
    now = [1000.0]
    configs.clock = lambda: now[0]
    url = _callback_url(connected, speechace_setup)
    old_key = speechace_setup.assessment.key
    assert _post(url, _good_body(speechace_setup, "0001")).status_code == 200  # the old key is kept
    with database.session() as session:  # e.g. `lti-tool` run elsewhere: this process is not told
        session.get_one(Assessment, speechace_setup.assessment_pk).secret = "AnotherKey000001"
    new_body = {**_good_body(speechace_setup, "0002"), "key": "AnotherKey000001"}
    assert _post(url, new_body).json() == {"status": "accepted"}  # a refusal is decided on fresh settings
    now[0] += 31
    old_body = {**_good_body(speechace_setup, "0003"), "key": old_key}
    response = _post(url, old_body)
    assert response.status_code == 403 and "key" in response.json()["error"]
    assert counts(database) == (2, 2)


# --- a grade only for the learner Speechace names ---------------------------------------------------------------

def _result_owners(database) -> list[str]:
    from lti_tool.models import LtiUser
    with database.session() as session:
        return list(session.scalars(sa.select(LtiUser.sub).join(Attempt, Attempt.user_id == LtiUser.id)
                                    .join(Result, Result.attempt_id == Attempt.id)))


def test_one_learners_callback_body_posted_to_another_learners_url_changes_nothing(connected, speechace_setup,
                                                                                   database):
    """Student 1 finished; her exact body replayed to student 2's signed URL must not become student 2's grade."""
    first = take_test(connected, speechace_setup)
    assert first.status == 200
    from lti_tool.sandbox.platform import constants
    second_learner = f"{connected.course.learner}-2"
    connected.platform.add_user(second_learner, "Second", "Learner")
    connected.platform.enrol(connected.course.context_id, second_learner, [constants.ROLE_LEARNER])
    open_activity(connected, speechace_setup, sub=second_learner)
    second_url = speechace_setup.emulator.session_for_user(second_learner).submission_url
    replayed = speechace_setup.emulator.post_raw(second_url, first.body.replace(b"a", b"a"))  # same bytes
    assert replayed.status == 403, replayed.response_text
    assert "userId" in json.loads(replayed.response_text)["error"]
    assert counts(database) == (1, 1) and _result_owners(database) == [connected.course.learner]
    # Student 2's own completion still counts: the URL was not spoiled.
    session = speechace_setup.emulator.session_for_user(second_learner)
    assert speechace_setup.emulator.complete(session.token).status == 200
    assert sorted(_result_owners(database)) == sorted([connected.course.learner, second_learner])


def test_a_legacy_url_checks_the_user_id_against_the_stored_learner(app, connected, speechace_setup, database):
    legacy = _signed(app, _callback_url(connected, speechace_setup))  # signed without the learner, as before
    refused = _post(legacy, _good_body(speechace_setup, user="somebody-else"))
    assert refused.status_code == 403 and "userId" in refused.json()["error"]
    assert counts(database) == (0, 0)
    assert _post(legacy, _good_body(speechace_setup)).status_code == 200
    assert counts(database) == (1, 1)
