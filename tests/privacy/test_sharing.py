"""What the providers learn about a learner: by default the LMS's opaque user id alone; names and email only
when the installation, or an assessment, turns them on (as the emulators recorded the requests)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.privacy.sharing import sharing_settings
from tests.itep.test_fulfillment import open_itep
from tests.speechace.test_embed import open_activity

# What the emulated LMS shares about its learner (sandbox PlatformEmulator.add_default_course).
IDENTITY = ("Alan", "Turing", "alan@example.edu")


def oembed_params(speechace_setup) -> dict[str, str]:
    (request,) = speechace_setup.emulator.oembed_requests
    return request.params


def names_the_learner(text: str) -> list[str]:
    return [part for part in IDENTITY if part.lower() in text.lower()]


def set_assessment_sharing(database, assessment_pk: int, choice: str, reason: str = "the provider needs it") -> None:
    with database.session() as session:
        assessment = session.get(Assessment, assessment_pk)
        assessment.settings = sharing_settings(assessment.settings, choice, reason)


def test_speechace_gets_only_the_lms_user_id_by_default(connected, speechace_setup):
    page = open_activity(connected, speechace_setup)
    assert page.status_code == 200, page.text[:300]
    params = oembed_params(speechace_setup)
    assert params["app_user_id"] == connected.course.learner
    assert "app_user_fullname" not in params and "app_user_email" not in params
    # Nothing else in the request (the callback URL included) names the learner either.
    callback = dict(parse_qsl(urlsplit(params["app_score_submission_url"]).query))
    assert names_the_learner(json.dumps(params)) == [] and connected.course.learner not in json.dumps(callback)


@pytest.mark.parametrize(("settings_overrides", "expected"), [
    ({"share_learner_identity": "name"}, {"app_user_fullname": "Alan Turing"}),
    ({"share_learner_identity": "name-and-email"}, {"app_user_fullname": "Alan Turing",
                                                    "app_user_email": "alan@example.edu"}),
])
def test_speechace_gets_what_the_installation_turned_on(connected, speechace_setup, settings_overrides, expected):
    open_activity(connected, speechace_setup)
    params = oembed_params(speechace_setup)
    shared = {name: params[name] for name in ("app_user_fullname", "app_user_email") if name in params}
    assert shared == expected


@pytest.mark.parametrize("settings_overrides", [{"share_learner_identity": "name-and-email"}])
def test_an_assessment_keeps_the_learner_anonymous_against_the_installation_default(
        connected, speechace_setup, database, settings_overrides):
    set_assessment_sharing(database, speechace_setup.assessment_pk, "id-only")
    open_activity(connected, speechace_setup)
    assert names_the_learner(json.dumps(oembed_params(speechace_setup))) == []


def test_an_assessment_turns_names_and_email_on(connected, speechace_setup, database):
    set_assessment_sharing(database, speechace_setup.assessment_pk, "name-and-email")
    open_activity(connected, speechace_setup)
    params = oembed_params(speechace_setup)
    assert (params["app_user_fullname"], params["app_user_email"]) == ("Alan Turing", "alan@example.edu")


def test_itep_gets_no_name_and_no_email_by_default(connected, itep_setup, database):
    page = open_itep(connected, itep_setup.gtx_activity)
    assert 'data-testid="test-id"' in page.text, page.text[:300]
    (request,) = itep_setup.emulator.fulfillment_requests
    assert names_the_learner(request.body.decode()) == []
    sent = json.loads(request.body)
    with database.session() as session:
        attempt = session.scalars(sa.select(Attempt)).one()
    assert "email" not in sent and sent["registration"]["Email"] == "" and sent["assigned-to"]["email"] == ""
    assert sent["registration"]["trExternal_ID"] == attempt.public_id  # the tool's opaque id of the attempt


@pytest.mark.parametrize("settings_overrides", [{"share_learner_identity": "name"}])
def test_itep_gets_the_name_without_the_email_when_names_are_on(connected, itep_setup, settings_overrides):
    open_itep(connected, itep_setup.gtx_activity)
    sent = json.loads(itep_setup.emulator.fulfillment_requests[0].body)
    assert sent["assigned-to"]["student-name"] == "Alan Turing" and sent["registration"]["Email"] == ""
    assert "alan@example.edu" not in itep_setup.emulator.fulfillment_requests[0].body.decode()


def test_itep_stx_needs_the_email_turned_on_and_says_so(connected, itep_setup, database):
    refused = open_itep(connected, itep_setup.stx_activity)
    assert refused.status_code == 502 and "your school does not send it" in refused.text
    assert itep_setup.emulator.fulfillment_requests == []
    with database.session() as session:
        stx = session.scalars(sa.select(Assessment).where(Assessment.title == "iTEP by email")).one()
    set_assessment_sharing(database, stx.id, "name-and-email", "iTEP e-mails the test ID to the learner")
    page = open_itep(connected, itep_setup.stx_activity)
    assert 'data-testid="test-emailed"' in page.text, page.text[:300]
    assert json.loads(itep_setup.emulator.fulfillment_requests[0].body)["email"] == "alan@example.edu"


@pytest.mark.parametrize(("choice", "reason", "problem"), [
    ("name", "", "Say why"), ("name-and-email", "   ", "Say why"), ("everything", "because", "Choose one of"),
    ("name", "x" * 501, "longer than 500"), ("name", "tab\x00nul", "control characters"),
])
def test_names_or_email_need_a_reason(choice, reason, problem):
    with pytest.raises(ValueError, match=problem):
        sharing_settings({"mode": "oembed"}, choice, reason)


def test_the_default_clears_the_override_and_its_reason():
    on = sharing_settings({"mode": "oembed"}, "name", "  the report   shows names ")
    assert on == {"mode": "oembed", "share_learner_identity": "name",
                  "share_learner_identity_reason": "the report shows names"}
    assert sharing_settings(on, "", "") == {"mode": "oembed"}
    assert sharing_settings(on, "id-only", "") == {"mode": "oembed", "share_learner_identity": "id-only"}
