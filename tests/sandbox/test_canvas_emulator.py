"""The emulator's Canvas mode against Canvas's own rules, driven over HTTP like a tool would."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.sandbox.platform import constants as c
from tests.sandbox.test_platform_emulator import Lms
from tests.sandbox.test_platform_emulator import coupled_lineitem
from tests.sandbox.test_platform_emulator import post_score
from tests.sandbox.test_platform_emulator import registration_body
from tests.sandbox.test_platform_emulator import request_token
from tests.sandbox.test_platform_emulator import score
from tests.sandbox.test_platform_emulator import start_lms  # noqa: F401 (a fixture)

NOW = "2024-05-01T10:00:00.000Z"


@pytest.fixture
def canvas(start_lms: Callable[..., Lms]) -> Lms:  # noqa: F811
    return start_lms("canvas")


def lineitem_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


def grade(lms: Lms, lineitem_url: str) -> dict[str, Any]:
    return lms.emulator.gradebook(lms.course.context_id)[lineitem_id(lineitem_url)][lms.course.learner]


def stamp(seconds: int) -> str:
    return f"2024-05-01T10:00:{seconds:02d}.000Z"


def test_configuration_names_the_auth_domain_as_a_bare_host_and_needs_the_token_in_its_url(canvas: Lms) -> None:
    start = urlsplit(canvas.emulator.begin_dynamic_registration(f"{canvas.tool.url}/register"))
    configuration_url = parse_qs(start.query)["openid_configuration"][0]
    assert requests.get(configuration_url.partition("?")[0], timeout=5).status_code == 401
    config = requests.get(configuration_url, timeout=5).json()
    auth_host = urlsplit(canvas.emulator.auth_base_url).netloc
    assert config["authorization_server"] == auth_host and "://" not in auth_host
    assert config["token_endpoint"] == f"{canvas.emulator.auth_base_url}/login/oauth2/token"
    assert config["jwks_uri"] == f"{canvas.emulator.auth_base_url}/api/lti/security/jwks"
    assert config["registration_endpoint"] == f"{canvas.url}/register"  # the school's own domain
    platform = config[c.PLATFORM_CONFIGURATION]
    assert platform[c.CANVAS_ACCOUNT_NAME] == "Sandbox Community College"
    assert {"type": c.MSG_DEEP_LINKING, "placements": list(c.CANVAS_PLACEMENTS[c.MSG_DEEP_LINKING])} in \
        platform["messages_supported"]
    # Keys and tokens live on the auth domain only.
    assert requests.get(f"{canvas.url}/jwks", timeout=5).status_code == 404
    assert requests.get(config["jwks_uri"], timeout=5).json()["keys"]


def test_the_client_assertion_must_name_the_token_endpoint(canvas: Lms) -> None:
    bare_host = urlsplit(canvas.emulator.auth_base_url).netloc
    refused = request_token(canvas, canvas.tool.client_assertion(canvas.client.client_id, bare_host), (c.SCOPE_SCORE,))
    assert (refused.status_code, refused.json()["error_description"]) == (401, "the 'aud' is invalid")
    both = [canvas.emulator.token_url, bare_host]
    granted = request_token(canvas, canvas.tool.client_assertion(canvas.client.client_id, both), (c.SCOPE_SCORE,))
    assert granted.status_code == 200, granted.text


def test_login_carries_no_deployment_id_but_the_id_token_does(canvas: Lms) -> None:
    login = urlsplit(canvas.emulator.begin_launch(canvas.client.client_id, canvas.course.learner,
                                                  canvas.course.context_id, resource_link_id="link-1"))
    params = parse_qs(login.query)
    assert "lti_deployment_id" not in params and params["canvas_environment"] == ["prod"]
    assert canvas.launch(resource_link_id="link-1")[c.CLAIM_DEPLOYMENT_ID] == canvas.client.deployment_id


def test_registration_keeps_the_first_message_per_placement_and_answers_without_a_deployment(canvas: Lms) -> None:
    start = urlsplit(canvas.emulator.begin_dynamic_registration(f"{canvas.tool.url}/register"))
    params = {key: values[0] for key, values in parse_qs(start.query).items()}
    body = registration_body(canvas.tool.url)
    body[c.TOOL_CONFIGURATION]["messages"] = [
        {"type": c.MSG_RESOURCE_LINK},  # no placements: Canvas gives it link_selection
        {"type": c.MSG_DEEP_LINKING, "placements": ["link_selection", "assignment_selection", "unknown_place"]},
    ]
    body[c.TOOL_CONFIGURATION][c.CANVAS_TOOL_ID] = "tool-x"
    answer = requests.post(f"{canvas.url}/register", json=body, timeout=5,
                           headers={"Authorization": f"Bearer {params['registration_token']}"}).json()
    assert "deployment_id" not in answer[c.TOOL_CONFIGURATION]
    tool = canvas.emulator.tools[answer["client_id"]]
    assert {name: message["type"] for name, message in tool.placements.items()} == {
        "link_selection": c.MSG_RESOURCE_LINK, "assignment_selection": c.MSG_DEEP_LINKING}
    assert tool.registration_extensions == {c.CANVAS_TOOL_ID: "tool-x"}
    login = canvas.emulator.open_placement(tool.client_id, canvas.course.instructor, canvas.course.context_id,
                                           "link_selection")
    pending = canvas.emulator.launches[parse_qs(urlsplit(login).query)["lti_message_hint"][0]]
    assert pending.message_type == c.MSG_RESOURCE_LINK  # Modules → External Tool adds a bare launch


def test_each_new_submission_is_an_attempt_and_limits_refuse_with_422(canvas: Lms) -> None:
    lineitem_url = coupled_lineitem(canvas)
    canvas.emulator.limit_attempts(lineitem_id(lineitem_url), 1)
    learner = canvas.course.learner
    first = {**score(learner, stamp(0)), c.CLAIM_CANVAS_SUBMISSION: {"new_submission": True}}
    assert post_score(canvas, lineitem_url, first).status_code == 200
    # Canvas's default is a new submission: a score without the extension takes an attempt too.
    again = post_score(canvas, lineitem_url, score(learner, stamp(1)))
    assert (again.status_code, again.json()["errors"]["message"]) == (
        422, "The maximum number of allowed attempts has been reached for this submission")
    regrade = {**score(learner, stamp(2), given=9), c.CLAIM_CANVAS_SUBMISSION: {"new_submission": False}}
    assert post_score(canvas, lineitem_url, regrade).status_code == 200
    assert (grade(canvas, lineitem_url)["attempts"], grade(canvas, lineitem_url)["score"]) == (1, 90.0)


def test_submitted_at_is_kept_from_the_new_submission_and_refused_in_the_future(canvas: Lms) -> None:
    lineitem_url, learner = coupled_lineitem(canvas), canvas.course.learner
    finished = "2024-04-30T08:00:00.250+00:00"
    body = {**score(learner, stamp(0)), "submission": {"submittedAt": finished}}
    assert post_score(canvas, lineitem_url, body).status_code == 200
    assert grade(canvas, lineitem_url)["submitted_at"] == finished
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    late = {**score(learner, stamp(1)), c.CLAIM_CANVAS_SUBMISSION: {"submitted_at": future}}
    assert post_score(canvas, lineitem_url, late).status_code == 400


def test_a_teachers_grade_stays_when_the_tool_prioritizes_it_and_comments_add_up(canvas: Lms) -> None:
    lineitem_url, learner = coupled_lineitem(canvas), canvas.course.learner
    assert post_score(canvas, lineitem_url, {**score(learner, stamp(0)), "comment": "first"}).status_code == 200
    canvas.emulator.grade_by_teacher(lineitem_id(lineitem_url), learner, 55.0)
    kept = {**score(learner, stamp(1), given=9), "comment": "second",
            c.CLAIM_CANVAS_SUBMISSION: {"new_submission": False, "prioritize_non_tool_grade": True}}
    assert post_score(canvas, lineitem_url, kept).status_code == 200
    assert (grade(canvas, lineitem_url)["score"], grade(canvas, lineitem_url)["comments"]) == (55.0, ["first",
                                                                                                    "second"])
    overwrite = {**score(learner, stamp(2), given=9), c.CLAIM_CANVAS_SUBMISSION: {"new_submission": False}}
    assert post_score(canvas, lineitem_url, overwrite).status_code == 200
    assert grade(canvas, lineitem_url)["score"] == 90.0


def test_non_students_and_concluded_courses_get_422(canvas: Lms) -> None:
    lineitem_url = coupled_lineitem(canvas)
    teacher = post_score(canvas, lineitem_url, score(canvas.course.instructor, NOW))
    assert (teacher.status_code, teacher.json()["errors"]["message"]) == (
        422, "User not found in course or is not a student")
    canvas.emulator.conclude_course(canvas.course.context_id)
    concluded = post_score(canvas, lineitem_url, score(canvas.course.learner, NOW))
    assert concluded.status_code == 422 and "concluded" in concluded.json()["errors"]["message"]


def test_throttling_answers_403_and_calls_need_a_user_agent(canvas: Lms) -> None:
    lineitem_url = coupled_lineitem(canvas)
    canvas.emulator.throttle_next()
    throttled = post_score(canvas, lineitem_url, score(canvas.course.learner, NOW))
    assert (throttled.status_code, throttled.text) == (403, "403 Forbidden (Rate Limit Exceeded)\n")
    token = canvas.token(c.SCOPE_SCORE)
    anonymous = requests.post(f"{lineitem_url}/scores", json=score(canvas.course.learner, NOW), timeout=5,
                              headers={"Authorization": f"Bearer {token}", "Content-Type": c.MEDIA_SCORE,
                                       "User-Agent": ""})
    assert anonymous.status_code == 403 and "User-Agent" in anonymous.text
    assert post_score(canvas, lineitem_url, score(canvas.course.learner, NOW)).status_code == 200


def test_the_message_hint_is_a_signed_jwt_for_five_minutes_and_its_launch_is_consumed_at_the_first_use(
        canvas: Lms) -> None:
    """As lti_advantage_adapter.rb and authentication_controller.rb: the hint is Canvas's own HS256 JWT naming the
    cached launch; the first /authorize fetches and deletes that launch, a second one is told so in the form post."""
    login = canvas.emulator.begin_launch(canvas.client.client_id, canvas.course.learner, canvas.course.context_id)
    hint = parse_qs(urlsplit(login).query)["lti_message_hint"][0]
    header, claims = (json.loads(base64.urlsafe_b64decode(part + "==")) for part in hint.split(".")[:2])
    assert header["alg"] == "HS256"
    assert claims["context_id"] == canvas.course.context_id and len(claims["verifier"]) == 128
    assert 290 <= claims["exp"] - time.time() <= 300
    assert canvas.browser.get(login).text == "launched"
    assert "id_token" in canvas.tool.posts[-1]
    # The same login again (a tool replaying it in a new window): no id_token, Canvas's error instead.
    assert canvas.browser.get(login).text == "launched"
    assert canvas.tool.posts[-1] == {"error": "launch_no_longer_valid", "state": canvas.tool.posts[-1]["state"],
                                     "error_description": "The launch has either expired or already been consumed"}


@pytest.mark.parametrize("spoil", ["altered", "expired"])
def test_an_altered_or_expired_message_hint_is_refused(canvas: Lms, spoil: str) -> None:
    login = canvas.emulator.begin_launch(canvas.client.client_id, canvas.course.learner, canvas.course.context_id)
    hint = parse_qs(urlsplit(login).query)["lti_message_hint"][0]
    if spoil == "altered":
        head, body, signature = hint.split(".")
        claims = {**json.loads(base64.urlsafe_b64decode(body + "==")), "context_id": "another-course"}
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        canvas.emulator.launches[f"{head}.{forged}.{signature}"] = canvas.emulator.launches[hint]
        login = login.replace(hint, f"{head}.{forged}.{signature}")
    else:
        canvas.emulator.clock = lambda: time.time() + 301
    answer = canvas.browser.get(login)
    assert (answer.status_code, answer.text) == (400, "Invalid lti_message_hint")
    assert canvas.tool.posts == []
