"""The AGS client: scores URL, error classification, line items and paging that keeps the URL's case."""

from __future__ import annotations

import pytest
import requests

from lti_tool.grading import AccessTokens
from lti_tool.grading import AgsClient
from lti_tool.grading import AgsRejectedError
from lti_tool.grading import AgsUnavailableError
from lti_tool.grading import ScoreConflictError
from lti_tool.grading import scores_url
from lti_tool.grading.ags import platform_message
from lti_tool.http import HttpSession
from lti_tool.sandbox.platform import constants as c
from tests.grading.support import RecordingHttp

MIXED_CONTEXT = "Course-MiXed-Case"


@pytest.fixture
def http():
    return RecordingHttp()


@pytest.fixture
def ags(http):
    return AgsClient(http, AccessTokens(http))


@pytest.fixture
def session(database):
    with database.sessionmaker() as session:
        yield session


def score_for(sub: str, given: float = 7.0) -> dict:
    return {"userId": sub, "scoreGiven": given, "scoreMaximum": 10.0, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": "2030-01-01T00:00:00.000+00:00"}


@pytest.mark.parametrize(("lineitem_url", "expected"), [
    ("https://lms.example/ags/lineitems/7", "https://lms.example/ags/lineitems/7/scores"),
    ("https://lms.example/ags/lineitems/7/", "https://lms.example/ags/lineitems/7/scores"),
    ("https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem?type_id=3",
     "https://lms.example/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=3"),
    ("https://Canvas.example/api/lti/courses/1/line_items/AbC", "https://Canvas.example/api/lti/courses/1/line_items/AbC/scores"),
])
def test_scores_url_goes_before_the_query(lineitem_url, expected):
    assert scores_url(lineitem_url) == expected


def _response(status: int, body: str) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content, response.url = status, body.encode(), "https://lms.example/x"
    return response


@pytest.mark.parametrize(("body", "expected"), [
    ('{"errors": [{"message": "User not found or not a student"}]}', "User not found or not a student"),
    ('{"errors": {"type": "unprocessable_entity", "message": "Not a student"}}', "Not a student"),
    ('{"error": "invalid_grant", "error_description": "Token expired"}', "Token expired"),
    ("Incorrect score received\n  (user is not gradable)", "Incorrect score received (user is not gradable)"),
    ("", "HTTP 422"),
])
def test_platform_message_finds_the_human_sentence(body, expected):
    assert platform_message(_response(422, body)) == expected


def test_a_score_with_a_query_string_line_item_is_posted_to_its_scores(connected, ags, session, browser):
    browser.get(connected.launch_url(with_lineitem=True))
    [item] = connected.platform.line_items_of(connected.course.context_id)
    lineitem_url = connected.platform.lineitem_url(item) + "?type_id=3"  # Moodle-style
    ags.post_score(session, connected.registration, lineitem_url, score_for(connected.course.learner))
    grade = connected.platform.gradebook(connected.course.context_id)[item.id][connected.course.learner]
    assert grade["score"] == pytest.approx(70.0)


@pytest.mark.parametrize(("status", "error"), [
    (409, ScoreConflictError), (404, AgsRejectedError), (422, AgsRejectedError), (403, AgsRejectedError),
    (500, AgsUnavailableError), (503, AgsUnavailableError), (429, AgsUnavailableError),
])
def test_score_errors_are_classified_with_the_lms_text(connected, ags, session, browser, status, error):
    browser.get(connected.launch_url(with_lineitem=True))
    [item] = connected.platform.line_items_of(connected.course.context_id)
    connected.platform.fail_next("/scores", status, body=f"answer {status}")
    with pytest.raises(error) as raised:
        ags.post_score(session, connected.registration, connected.platform.lineitem_url(item),
                       score_for(connected.course.learner))
    assert (raised.value.status, raised.value.detail) == (status, f"answer {status}")


def test_a_timeout_is_unavailable_without_status(connected, session, browser):
    browser.get(connected.launch_url(with_lineitem=True))
    [item] = connected.platform.line_items_of(connected.course.context_id)
    # Only the score POST is slow and short of time: the token comes first, with time to spare on a busy machine.
    ags = AgsClient(HttpSession(timeout=0.2), AccessTokens(HttpSession(timeout=10)))
    ags.tokens.get(session, connected.registration, [c.SCOPE_SCORE])
    connected.platform.delay_seconds = 0.5
    try:
        with pytest.raises(AgsUnavailableError) as raised:
            ags.post_score(session, connected.registration, connected.platform.lineitem_url(item),
                           score_for(connected.course.learner))
    finally:
        connected.platform.delay_seconds = 0.0
    assert raised.value.status is None and "Timeout" in raised.value.detail


def test_line_items_are_created_and_read_across_pages_keeping_the_url_case(connected, ags, http, session):
    platform = connected.platform
    platform.add_context(MIXED_CONTEXT, "Mixed case course", "MX")
    container = platform.url(f"/contexts/{MIXED_CONTEXT}/lineitems")
    for number in range(5):
        created = ags.create_lineitem(session, connected.registration, container, f"Unit {number}", 10.0,
                                      resource_id=f"Speaking-{number}", tag="Other" if number == 2 else "Oral-Exam")
        assert created["id"].startswith(container + "/") and created["tag"] in ("Other", "Oral-Exam")
    assert len(platform.line_items_of(MIXED_CONTEXT)) == 5
    http.responses.clear()

    items = ags.get_lineitems(session, connected.registration, container + "?limit=1", tag="Oral-Exam")

    assert [item["label"] for item in items] == ["Unit 0", "Unit 1", "Unit 3", "Unit 4"]
    pages = [response for response in http.responses if "/lineitems" in response.url]
    assert len(pages) == 4  # one page per item: every rel="next" link was followed
    next_url = pages[0].links["next"]["url"]
    assert MIXED_CONTEXT in next_url and "tag=Oral-Exam" in next_url
    token = ags.tokens.get(session, connected.registration, [c.SCOPE_LINEITEM_READONLY])
    lowered = requests.get(next_url.lower(), headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert lowered.status_code == 404  # what pylti1p3's lower-casing would have got


def test_line_items_filtered_by_resource_id(connected, ags, session):
    container = connected.platform.url(f"/contexts/{connected.course.context_id}/lineitems")
    for resource_id in ("Speaking-A", "Speaking-B"):
        ags.create_lineitem(session, connected.registration, container, resource_id, 20.0, resource_id=resource_id)
    items = ags.get_lineitems(session, connected.registration, container, resource_id="Speaking-B")
    assert [(item["label"], item["scoreMaximum"]) for item in items] == [("Speaking-B", 20.0)]


def test_creating_a_line_item_for_an_unknown_link_is_rejected(connected, ags, session):
    container = connected.platform.url(f"/contexts/{connected.course.context_id}/lineitems")
    with pytest.raises(AgsRejectedError) as raised:
        ags.create_lineitem(session, connected.registration, container, "Unit 9", 10.0, resource_link_id="nope")
    assert raised.value.status == 400 and "unknown resourceLinkId" in raised.value.detail


def test_membership_pages_follow_mixed_case_cursors(connected, ags, http, session):
    platform = connected.platform
    for number in range(3):
        platform.add_user(f"extra-{number}", "Extra", str(number))
        platform.enrol(connected.course.context_id, f"extra-{number}", [c.ROLE_LEARNER])
    url = platform.url(f"/contexts/{connected.course.context_id}/memberships?limit=2")

    pages = list(ags.pages(session, connected.registration, url, [c.SCOPE_NRPS], c.MEDIA_MEMBERSHIP_CONTAINER))

    members = [member["user_id"] for page in pages for member in page.json()["members"]]
    assert sorted(members) == sorted([connected.course.instructor, connected.course.learner,
                                      "extra-0", "extra-1", "extra-2"])
    cursor = pages[0].links["next"]["url"].split("cursor=")[1]
    assert cursor != cursor.lower()  # the emulator's cursors are mixed-case and matched exactly
