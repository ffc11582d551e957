"""A teacher adds a speaking test from the course editor (deep linking) or sets up a link added by hand."""

from __future__ import annotations

import html

import pytest
import requests
import sqlalchemy as sa
from joserfc import jws

from lti_tool.models import Activity
from lti_tool.models import LtiResourceLink
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import constants as c


def picker(connected, browser=None, sub=None):
    browser = browser or FormBrowser()
    page = browser.get(connected.platform.begin_launch(
        connected.client.client_id, sub or connected.course.instructor, connected.course.context_id,
        message_type=c.MSG_DEEP_LINKING))
    return browser, page


def submit_picker(browser, page, **choices):
    (form,) = [form for form in parse_forms(page.text, page.url) if form.attrs.get("data-testid") == "activity-form"]
    return browser.submit(form, {name: str(value) for name, value in choices.items()})


def test_deep_linking_round_trip_is_verified_by_the_platform(connected, speechace_setup, database):
    browser, page = picker(connected)
    assert page.status_code == 200 and "Placement speaking test" in page.text
    done = submit_picker(browser, page, title="Week 5 speaking", score_maximum=20, attempts_policy="best",
                         score_component="fluency")
    assert done.status_code == 200, done.text[:400]
    assert "Content added" in done.text  # the emulated LMS verified the JWT with the tool's JWKS
    result = connected.platform.deep_link_results[-1]
    claims = result["claims"]
    assert claims["aud"] in (connected.platform.issuer, [connected.platform.issuer])
    assert claims["iss"] == connected.client.client_id and claims["nonce"]
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == connected.client.deployment_id
    (item,) = result["content_items"]
    assert item["type"] == "ltiResourceLink" and item["url"] == f"{connected.tool_url}/lti/launch"
    with database.session() as session:
        activity = session.scalars(sa.select(Activity).where(Activity.title == "Week 5 speaking")).one()
        assert (activity.score_maximum, activity.attempts_policy, activity.score_component) == (20, "best",
                                                                                                "fluency")
    assert item["custom"] == {"activity": activity.public_id}  # an opaque id, never a secret
    assert item["lineItem"] == {"scoreMaximum": 20.0, "label": "Week 5 speaking", "resourceId": activity.public_id,
                                "tag": "speaking-test"}
    (line_item,) = [li for li in connected.platform.line_items_of(connected.course.context_id)
                    if li.resource_id == activity.public_id]
    assert line_item.score_maximum == 20
    assert speechace_setup.assessment.key not in str(claims)


def test_the_response_is_signed_with_the_tools_published_key(connected, speechace_setup):
    browser, page = picker(connected)
    submit_picker(browser, page)
    token = next(r for r in browser.history if r.url.startswith(connected.platform.url("/deep_link_return")))
    body = token.request.body
    raw = html.unescape(body if isinstance(body, str) else body.decode())
    encoded = raw.split("JWT=", 1)[1].split("&")[0]
    header = jws.extract_compact(requests.utils.unquote(encoded).encode()).protected
    published = {key["kid"] for key in requests.get(f"{connected.tool_url}/lti/jwks", timeout=10).json()["keys"]}
    assert header["alg"] == "RS256" and header["kid"] in published


def test_the_new_link_opens_the_chosen_test_for_learners(connected, speechace_setup):
    browser, page = picker(connected)
    submit_picker(browser, page, title="Chosen test")
    created = connected.platform.deep_link_results[-1]["created"][0]
    page = FormBrowser().get(connected.platform.begin_launch(
        connected.client.client_id, connected.course.learner, connected.course.context_id,
        resource_link_id=created["resource_link_id"]))
    assert page.status_code == 200, page.text[:300]
    assert 'id="provider-test"' in page.text and "Chosen test" in page.text


@pytest.mark.parametrize(("choices", "message"), [
    ({"score_maximum": "0"}, "above 0"),
    ({"score_maximum": "lots"}, "must be a number"),
    ({"assessment": "not-a-test"}, "Choose one of the speaking tests"),
    ({"score_component": "charm"}, "reports these scores"),
    ({"attempts_policy": "worst"}, "latest or the best"),
])
def test_bad_choices_are_explained_and_nothing_is_created(connected, speechace_setup, database, choices, message):
    browser, page = picker(connected)
    answer = submit_picker(browser, page, **choices)
    assert answer.status_code == 400
    assert message in html.unescape(answer.text)
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 1  # the fixture's only
    assert connected.platform.deep_link_results == []


def test_learner_cannot_use_deep_linking(connected, speechace_setup):
    _, page = picker(connected, sub=connected.course.learner)
    assert page.status_code == 403


def test_learner_cannot_post_to_the_picker(connected, speechace_setup, database):
    from lti_tool.models import LtiLaunch

    FormBrowser().get(connected.launch_url())  # a learner launch exists
    with database.session() as session:
        launch_id = session.scalars(sa.select(LtiLaunch.id)).one()
    response = requests.post(f"{connected.tool_url}/lti/deep-link/{launch_id}", timeout=10,
                             data={"assessment": "x", "score_maximum": "10"})
    assert response.status_code == 403


def test_a_link_added_by_hand_is_set_up_on_the_first_teacher_launch(connected, speechace_setup, database):
    learner_page = FormBrowser().get(connected.launch_url(resource_link_id="by-hand"))
    assert "not set up" in learner_page.text
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=connected.course.instructor, resource_link_id="by-hand"))
    assert 'data-testid="teacher-setup"' in page.text
    overview = submit_picker(browser, page, title="Set up by hand", score_maximum=10)
    assert overview.status_code == 200 and 'data-testid="attempts"' in overview.text
    with database.session() as session:
        link = session.scalars(sa.select(LtiResourceLink).where(LtiResourceLink.id_on_platform == "by-hand")).one()
        assert session.get(Activity, link.activity_id).title == "Set up by hand"
    again = FormBrowser().get(connected.launch_url(resource_link_id="by-hand"))
    assert 'id="provider-test"' in again.text


def test_no_assessments_configured_tells_the_teacher(connected):
    _, page = picker(connected)
    assert 'data-testid="no-assessments"' in page.text


def test_picker_defaults_to_showing_students_their_score(connected, speechace_setup, database):
    """The picker opens from the LMS's launch POST; that POST must not be read as the teacher's answers."""
    browser, page = picker(connected)
    (form,) = [form for form in parse_forms(page.text, page.url) if form.attrs.get("data-testid") == "activity-form"]
    assert form.fields.get("show_score") == "on"
    submit_picker(browser, page, title="Defaults")
    with database.session() as session:
        assert session.scalars(sa.select(Activity).where(Activity.title == "Defaults")).one().show_score_to_student


def test_a_link_added_by_hand_gets_a_gradebook_column_created(connected, speechace_setup, database):
    """No lineitem claim: the tool looks for the column, then creates it with the activity's maximum."""
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=connected.course.instructor, resource_link_id="by-hand"))
    submit_picker(browser, page, title="Column made by the tool", score_maximum=25)
    FormBrowser().get(connected.launch_url(resource_link_id="by-hand"))
    with database.session() as session:
        activity = session.scalars(sa.select(Activity).where(Activity.title == "Column made by the tool")).one()
        link = session.scalars(sa.select(LtiResourceLink).where(LtiResourceLink.id_on_platform == "by-hand")).one()
    (line_item,) = [item for item in connected.platform.line_items_of(connected.course.context_id)
                    if item.resource_id == activity.public_id]
    assert (line_item.score_maximum, line_item.label, line_item.tag) == (25, "Column made by the tool", "speaking-test")
    assert link.lineitem_url == connected.platform.lineitem_url(line_item)
    FormBrowser().get(connected.launch_url(resource_link_id="by-hand"))  # found again, not created twice
    assert len([item for item in connected.platform.line_items_of(connected.course.context_id)
                if item.resource_id == activity.public_id]) == 1


def test_without_column_management_the_teacher_is_told_which_setting_is_missing(connected, speechace_setup,
                                                                                database):
    from lti_tool.models import Attempt

    connected.platform.set_can_manage_lineitems(connected.client.client_id, False)  # Moodle "grade sync only"
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=connected.course.instructor, resource_link_id="by-hand"))
    submit_picker(browser, page, title="No column")
    learner = FormBrowser().get(connected.launch_url(resource_link_id="by-hand"))
    assert 'id="provider-test"' in learner.text  # the learner can still take the test
    with database.session() as session:
        detail = session.scalars(sa.select(Attempt.status_detail)).one()
    assert "grade sync and column management" in detail
    overview = FormBrowser().get(connected.launch_url(sub=connected.course.instructor, resource_link_id="by-hand"))
    assert "grade sync and column management" in html.unescape(overview.text)


def test_the_missing_setting_in_a_translated_page_names_moodles_setting_in_english(connected, speechace_setup):
    """The teacher's notice after the picker: Moodle's setting and its choice inside the French sentence are marked
    lang="en" (WCAG 3.1.2)."""
    connected.platform.set_can_manage_lineitems(connected.client.client_id, False)
    connected.platform.set_locale(connected.course.instructor, "fr")
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=connected.course.instructor, resource_link_id="by-hand"))
    placed = submit_picker(browser, page, title="No column")
    assert '<html lang="fr"' in placed.text and 'data-testid="column-missing"' in placed.text
    notice = html.unescape(placed.text.split('data-testid="column-missing">', 1)[1].split("</p>", 1)[0])
    assert notice.startswith("La plateforme n'a donné à cette activité aucune colonne")
    assert ('réglez « <span lang="en">IMS LTI Assignment and Grade Services</span> » de l\'outil sur '
            '« <span lang="en">Use this service for grade sync and column management</span> »') in notice


def test_another_schools_itep_products_are_not_offered(connected, itep_setup, database):
    from lti_tool.models import LtiDeployment
    from lti_tool.models import ProviderAccount

    _, page = picker(connected)
    assert "iTEP Academic" in page.text
    with database.session() as session:
        other = LtiDeployment(registration_id=connected.registration.id, deployment_id="other-school",
                              status="active")
        session.add(other)
        session.flush()
        session.get(ProviderAccount, itep_setup.account_pk).deployment_id = other.id
    _, page = picker(connected)
    assert "iTEP Academic" not in page.text
