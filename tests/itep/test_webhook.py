"""iTEP's results webhook: one form field ``data`` holding JSON, authenticated as configured, mapped to the
attempt by OID/TestID, and turned into what the gradebook must show."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from lti_tool.models import Attempt
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from tests.itep.test_fulfillment import open_itep


def assigned_test_id(connected, itep_setup) -> str:
    page = open_itep(connected, itep_setup.gtx_activity)
    return re.search(r'data-testid="test-id">([^<]+)<', page.text).group(1)


def submissions(database) -> list[ScoreSubmission]:
    with database.session() as session:
        return list(session.scalars(sa.select(ScoreSubmission).order_by(ScoreSubmission.id)))


def test_complete_result_is_graded_on_the_line_item_scale(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)
    sent = itep_setup.emulator.fire_webhook(test_id, status="Complete", overall_level="4.5", overall_cefr="C1")
    assert sent.status == 200, sent.response_text
    (submission,) = submissions(database)
    assert submission.score_given == pytest.approx(4.5 / 6 * 60)
    assert (submission.grading_progress, submission.activity_progress) == ("FullyGraded", "Completed")
    assert "C1" in submission.comment and "iTEP overall 4.5 / 6" in submission.comment
    with database.session() as session:
        result = session.scalars(sa.select(Result)).one()
        assert result.scores["overall"] == 4.5 and result.scores["speaking"] == 4.0
        assert result.report_url.startswith(itep_setup.emulator.url("/reports/ScoreReport.php"))


@pytest.mark.parametrize("status", ["Completed", "COMPLETE", "complete"])
def test_both_spellings_of_complete_in_any_case(connected, itep_setup, database, status):
    test_id = assigned_test_id(connected, itep_setup)
    assert itep_setup.emulator.fire_webhook(test_id, status=status).status == 200
    assert submissions(database)[0].grading_progress == "FullyGraded"


def test_finished_is_submitted_and_pending(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)
    assert itep_setup.emulator.finish_test(test_id).status == 200
    (submission,) = submissions(database)
    assert submission.score_given is None
    assert (submission.activity_progress, submission.grading_progress) == ("Submitted", "Pending")


def test_a_late_finished_does_not_pull_back_a_grade(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)
    itep_setup.emulator.fire_webhook(test_id, status="Complete")
    itep_setup.emulator.fire_webhook(test_id, status="Finished", overrides={"TestDate": "1/2/2030"})
    assert [s.grading_progress for s in submissions(database)] == ["FullyGraded"]


@pytest.mark.parametrize(("itep_account_options", "grading"), [
    ({}, ("Initialized", "NotReady")),
    ({"on_invalidated": "pending"}, ("Submitted", "Pending")),
], ids=["withdraw", "pending"])
def test_invalidation_withdraws_or_sets_pending_as_configured(connected, itep_setup, database, grading,
                                                              itep_account_options):
    test_id = assigned_test_id(connected, itep_setup)
    itep_setup.emulator.fire_webhook(test_id, status="Complete")
    assert itep_setup.emulator.fire_webhook(test_id, status="Invalidated").status == 200
    latest = submissions(database)[-1]
    assert latest.score_given is None
    assert (latest.activity_progress, latest.grading_progress) == grading
    with database.session() as session:
        attempt = session.scalars(sa.select(Attempt)).one()
        assert "invalidated" in attempt.status_detail
        assert session.scalars(sa.select(Result.status).order_by(Result.id)).all()[0] == "invalidated"


@pytest.mark.parametrize("status", ["Review", "Problem", "Technical Difficulty"])
def test_review_and_problems_are_shown_to_the_teacher_without_touching_the_grade(connected, itep_setup, database,
                                                                                 status):
    test_id = assigned_test_id(connected, itep_setup)
    assert itep_setup.emulator.fire_webhook(test_id, status=status).status == 200
    assert submissions(database) == []
    with database.session() as session:
        assert status in session.scalars(sa.select(Attempt.status_detail)).one()


def test_duplicate_webhook_changes_nothing(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)
    itep_setup.emulator.fire_webhook(test_id)
    again = itep_setup.emulator.resend_webhook(0)
    assert again.status == 200 and json.loads(again.response_text)["status"] == "duplicate"
    assert len(submissions(database)) == 1


# --- bad input: 4xx, nothing changed -----------------------------------------------------------------------------

def _webhook_url(connected, itep_setup) -> str:
    return f"{connected.tool_url}/callbacks/itep?account={itep_setup.account_pk}"


def _auth(itep_setup) -> dict[str, str]:
    return {"X-iTEP-Token": itep_setup.webhook_secret}


def _payload(test_id: str, **changes) -> dict:
    base = {"OID": "", "TestID": test_id, "Duration": "60", "TestDate": "6/10/2026", "TestMonth": "6",
            "TestDay": "10", "TestYear": "2026", "score_report_url": "https://example.org/r", "Overall_Level": "4.0",
            "Overall_cefr": "B2", "Status": "Complete"}
    return {**base, **changes}


@pytest.mark.parametrize(("fields", "headers", "status", "reason"), [
    pytest.param({"other": "x"}, None, 400, "no form field named data", id="no-data"),
    pytest.param({"data": "{not json"}, None, 400, "not valid JSON", id="invalid-json"),
    pytest.param({"data": "[1, 2]"}, None, 400, "JSON object", id="not-an-object"),
    pytest.param({"data": json.dumps(_payload("NOPE123"))}, None, 404, "No test of this iTEP account",
                 id="unknown-test"),
    pytest.param("level-7", None, 400, "outside 0–6", id="level-out-of-range"),
    pytest.param("level-text", None, 400, "not a number", id="level-not-a-number"),
    pytest.param("no-level", None, 400, "no Overall_Level", id="level-missing"),
    pytest.param("good", {"X-iTEP-Token": "wrong"}, 401, "credentials", id="wrong-credentials"),
    pytest.param("good", {}, 401, "credentials", id="no-credentials"),
    pytest.param("odd-status", None, 400, "not one iTEP documents", id="unknown-status"),
])
def test_bad_webhook_is_refused_and_changes_nothing(connected, itep_setup, database, fields, headers, status, reason):
    test_id = assigned_test_id(connected, itep_setup)
    built = {
        "level-7": {"data": json.dumps(_payload(test_id, Overall_Level="7.0"))},
        "level-text": {"data": json.dumps(_payload(test_id, Overall_Level="high"))},
        "no-level": {"data": json.dumps({k: v for k, v in _payload(test_id).items() if k != "Overall_Level"})},
        "good": {"data": json.dumps(_payload(test_id))},
        "odd-status": {"data": json.dumps(_payload(test_id, Status="Teleported"))},
    }
    sent = itep_setup.emulator.post_raw_webhook(_webhook_url(connected, itep_setup),
                                                built.get(fields, fields) if isinstance(fields, str) else fields,
                                                headers=_auth(itep_setup) if headers is None else headers)
    assert sent.status == status, sent.response_text
    assert reason in json.loads(sent.response_text)["error"]
    assert submissions(database) == []
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Result)) == 0


def test_webhook_for_an_unknown_account_is_404(connected, itep_setup):
    sent = itep_setup.emulator.post_raw_webhook(f"{connected.tool_url}/callbacks/itep?account=999",
                                                {"data": "{}"}, headers=_auth(itep_setup))
    assert sent.status == 404


@pytest.mark.parametrize("itep_account_options", [{"webhook_auth": "url_token"}])
def test_token_in_the_url_authenticates_when_configured(connected, itep_setup, database, itep_account_options):
    test_id = assigned_test_id(connected, itep_setup)
    assert itep_setup.emulator.fire_webhook(test_id).status == 200
    assert len(submissions(database)) == 1
    forged = itep_setup.emulator.post_raw_webhook(_webhook_url(connected, itep_setup) + "&token=guess",
                                                  {"data": json.dumps(_payload(test_id))})
    assert forged.status == 401


def test_urlencoded_webhook_is_read_as_well(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)
    sent = itep_setup.emulator.post_raw_webhook(_webhook_url(connected, itep_setup),
                                                {"data": json.dumps(_payload(test_id))}, headers=_auth(itep_setup),
                                                multipart=False)
    assert sent.status == 200
    assert submissions(database)[0].status == SubmissionStatus.PENDING


def _other_school_account(database, itep_setup) -> int:
    from lti_tool.providers.itep_accounts import add_itep_account
    with database.session() as session:
        other = add_itep_account(session, "Other school iTEP", itep_setup.emulator.fulfillment_url,
                                 "other-api-key-0002", "OT", "other-hook-secret-456", signature_header="X-Itep-Hmac")
        return other.id


def test_another_accounts_secret_cannot_grade_this_accounts_test(connected, itep_setup, database):
    test_id = assigned_test_id(connected, itep_setup)  # an attempt of itep_setup's account (school A)
    other = _other_school_account(database, itep_setup)
    url = f"{connected.tool_url}/callbacks/itep?account={other}"
    headers = {"X-iTEP-Token": "other-hook-secret-456"}
    foreign = itep_setup.emulator.post_raw_webhook(url, {"data": json.dumps(_payload(test_id))}, headers=headers)
    unknown = itep_setup.emulator.post_raw_webhook(url, {"data": json.dumps(_payload("NEVER-ISSUED"))},
                                                   headers=headers)
    by_oid = itep_setup.emulator.post_raw_webhook(url, {"data": json.dumps(_payload("", OID=_oid(database)))},
                                                  headers=headers)
    assert foreign.status == unknown.status == by_oid.status == 404
    assert foreign.response_text == unknown.response_text == by_oid.response_text
    assert submissions(database) == []
    with database.session() as session:
        assert session.scalars(sa.select(Result)).all() == []
    # The test's own account still grades it: the refusal was about the account, not the test.
    assert itep_setup.emulator.fire_webhook(test_id, status="Complete").status == 200
    assert len(submissions(database)) == 1


def _oid(database) -> str:
    with database.session() as session:
        return session.scalars(sa.select(Attempt.public_id)).one()


@pytest.mark.parametrize("payload", [
    pytest.param({"TestID": "T\x00X"}, id="nul-in-testid"),
    pytest.param({"Overall_cefr": "B\x002"}, id="nul-in-cefr"),
    pytest.param({"Status": "Complete" + "x" * 200}, id="long-status"),
    pytest.param({"TestID": "T" * 201}, id="testid-longer-than-its-column"),
    pytest.param({"score_report_url": "https://example.org/" + "r" * 2000}, id="long-report-url"),
    pytest.param({"Overall_Level": 10 ** 400}, id="400-digit-level"),
    pytest.param({"nested": json.loads("[" * 100 + "]" * 100)}, id="100-deep"),
])
def test_webhook_values_that_the_database_would_refuse_are_400(connected, itep_setup, database, payload):
    test_id = assigned_test_id(connected, itep_setup)
    data = json.dumps({**_payload(test_id), **payload})
    sent = itep_setup.emulator.post_raw_webhook(_webhook_url(connected, itep_setup), {"data": data},
                                                headers=_auth(itep_setup))
    assert sent.status == 400, sent.response_text
    assert submissions(database) == []


def test_the_attempt_remembers_when_the_learner_finished_until_the_test_is_reset(connected, itep_setup, database):
    """What Canvas shows as the submission time: the finish, not the grading days later."""
    def finished_at():
        with database.session() as session:
            return session.scalars(sa.select(Attempt.datetime_finished)).one()

    test_id = assigned_test_id(connected, itep_setup)
    assert finished_at() is None
    itep_setup.emulator.finish_test(test_id)
    finished = finished_at()
    assert finished is not None
    itep_setup.emulator.fire_webhook(test_id, status="Complete")
    assert finished_at() == finished
    itep_setup.emulator.fire_webhook(test_id, status="Invalidated")
    assert finished_at() is None  # reset: the learner's next finish counts
