"""Submission Review (LTI-SR 1.0, Moodle's "Grade analysis"): the gradebook launches back to one learner's result.

A teacher sees the learner the ``for_user`` claim names; a learner sees only their own; never a result of another
course, another activity or another school.
"""

from __future__ import annotations

import html

from lti_tool.lti.registration import ToolUrls
from lti_tool.lti.registration import tool_registration_request
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.platform import constants as c
from tests.speechace.test_callback import take_test

REVIEW = c.MSG_SUBMISSION_REVIEW


def review(connected, setup, sub, for_user, resource_link_id="link-1", context_id=None):
    """The LMS's review launch from the gradebook column of ``resource_link_id``."""
    url = connected.platform.begin_launch(
        connected.client.client_id, sub, context_id or connected.course.context_id,
        resource_link_id=resource_link_id, message_type=REVIEW, for_user=for_user, with_lineitem=True,
        custom={"activity": setup.activity_public_id})
    return FormBrowser().get(url)


def enrol(connected, sub, given, family, context_id=None):
    connected.platform.add_user(sub, given, family, email=f"{sub}@example.edu")
    connected.platform.enrol(context_id or connected.course.context_id, sub, [c.ROLE_LEARNER])


def test_teacher_sees_the_named_students_result(connected, speechace_setup):
    enrol(connected, "grace", "Grace", "Hopper")
    take_test(connected, speechace_setup)  # Alan: 6.5
    take_test(connected, speechace_setup, sub="grace", scores={"overall": 4.0, "pronunciation": 4, "fluency": 4,
                                                               "vocab": 4, "grammar": 4})
    page = review(connected, speechace_setup, connected.course.instructor, "grace")
    assert page.status_code == 200, page.text[:300]
    text = html.unescape(page.text)
    assert "Grace Hopper — Unit 3 speaking test" in text
    assert 'data-testid="report-scores"' in text and "Overall</td><td>4 of 9" in text
    assert "Alan Turing" not in text

    alan = html.unescape(review(connected, speechace_setup, connected.course.instructor,
                                connected.course.learner).text)
    assert "Alan Turing — Unit 3 speaking test" in alan and "Overall</td><td>6.5 of 9" in alan


def test_student_sees_their_own_result_only(connected, speechace_setup):
    enrol(connected, "grace", "Grace", "Hopper")
    take_test(connected, speechace_setup)
    own = review(connected, speechace_setup, connected.course.learner, connected.course.learner)
    assert own.status_code == 200, own.text[:300]
    assert 'data-testid="own-result"' in own.text and 'data-testid="own-score"' in own.text
    assert "6.5 of 9 →" in own.text
    assert 'data-testid="report-scores"' not in own.text  # the teacher's report (and its capability link) stays hidden

    someone_else = review(connected, speechace_setup, connected.course.learner, "grace")
    assert someone_else.status_code == 403
    assert "only their own submission" in html.unescape(someone_else.text)


def test_a_student_of_another_course_is_refused(connected, speechace_setup):
    other = connected.platform.add_context("course-202", "Advanced Phonetics", "PHON202")
    enrol(connected, "edsger", "Edsger", "Dijkstra", context_id=other.id)
    take_test(connected, speechace_setup)
    # Edsger is known to the tool (same school), from a launch in the other course only.
    FormBrowser().get(connected.platform.begin_launch(connected.client.client_id, "edsger", other.id,
                                                      resource_link_id="link-202"))
    refused = review(connected, speechace_setup, connected.course.instructor, "edsger")
    assert refused.status_code == 403
    assert "no submission in this course" in html.unescape(refused.text)


def test_another_activity_of_the_course_never_shows_this_ones_result(connected, speechace_setup):
    take_test(connected, speechace_setup)  # on link-1
    page = review(connected, speechace_setup, connected.course.instructor, connected.course.learner,
                  resource_link_id="link-2")
    assert page.status_code == 200
    assert 'data-testid="review-pending"' in page.text and "has not started" in page.text
    assert 'data-testid="report-scores"' not in page.text


def test_another_school_with_the_same_student_id_sees_nothing_of_this_one(connected, speechace_setup, database):
    from lti_tool.lti.registration import PlatformDetails
    from lti_tool.lti.registration import register_platform

    take_test(connected, speechace_setup)
    # The same LMS under a second registration (another school, another client_id): same sub, other people.
    second = connected.platform.register_tool("Speaking tests (school B)",
                                              oidc_initiation_url=connected.client.oidc_initiation_url,
                                              target_link_uri=connected.client.target_link_uri,
                                              jwks_uri=connected.client.jwks_uri)
    with database.session() as session:
        register_platform(session, PlatformDetails(
            issuer=connected.platform.issuer, client_id=second.client_id,
            auth_login_url=connected.platform.url("/auth"), auth_token_url=connected.platform.url("/token"),
            key_set_url=connected.platform.url("/jwks"), name="School B"), "manual", [second.deployment_id],
            approve=True)
    url = connected.platform.begin_launch(second.client_id, connected.course.instructor,
                                          connected.course.context_id, resource_link_id="link-b",
                                          message_type=REVIEW, for_user=connected.course.learner,
                                          with_lineitem=True, custom={"activity": speechace_setup.activity_public_id})
    page = FormBrowser().get(url)
    assert page.status_code == 200, page.text[:300]
    assert 'data-testid="report-scores"' not in page.text and "has not started" in page.text


def test_dynamic_registration_declares_submission_review_except_to_canvas():
    urls = ToolUrls(login="https://tool.example/lti/login", launch="https://tool.example/lti/launch",
                    jwks="https://tool.example/lti/jwks", registration="https://tool.example/lti/register",
                    canvas_config="https://tool.example/lti/config/canvas.json")
    moodle = tool_registration_request(urls, "moodle")
    messages = moodle["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]
    assert {"type": REVIEW, "target_link_uri": urls.launch} in messages
    canvas = tool_registration_request(urls, "canvas")
    types = [m["type"] for m in canvas["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]]
    assert REVIEW not in types
