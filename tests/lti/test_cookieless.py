"""Launches that cannot count on the tool's cookie, over HTTP without a browser: the platform-storage pages and
their completion step, the cookie check before the platform's single-use hint is spent, and the same-origin
re-post. The real browser runs them in tests/browser/test_cookieless.py; here each check can be broken alone.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import constants as c
from tests.lti.test_launch_refused import assert_refused
from tests.lti.test_launch_refused import no_launch_recorded

FRAMED = {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "cross-site"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Dest": "iframe"}


def data_attributes(page: str, element_id: str) -> dict[str, str]:
    tag = re.search(rf'<div id="{element_id}"[^>]*>', page, re.S)
    assert tag, f"no #{element_id} on the page"
    return {name: html.unescape(value) for name, value in re.findall(r'data-([a-z-]+)="([^"]*)"', tag.group(0))}


def hint_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["lti_message_hint"][0]


@pytest.fixture
def storage_platform(connected):
    connected.platform.platform_storage = True
    return connected


def stored_launch(session: requests.Session, connected) -> tuple[dict[str, str], dict[str, str]]:
    """The JavaScript's part, by hand: the login page's values, then the platform's form post (without cookies).
    Returns the login page's data attributes and the fields the platform posted to the tool."""
    login = session.get(connected.launch_url(), headers=FRAMED, timeout=10)
    assert login.status_code == 200, login.text[:300]
    values = data_attributes(login.text, "lti-login")
    auth = session.get(values["auth-url"], timeout=10)
    (form,) = parse_forms(auth.text, auth.url)
    session.cookies.clear()  # the browser refuses the tool's cookie inside the LMS frame
    return values, form.fields


def test_login_with_a_storage_target_hands_the_state_and_nonce_to_the_page(storage_platform):
    response = requests.get(storage_platform.launch_url(), headers=FRAMED, timeout=10)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)  # no inline script on the page
    values = data_attributes(response.text, "lti-login")
    assert values["storage-target"] == c.STORAGE_TARGET
    assert values["platform-origin"] == storage_platform.platform.base_url  # its /auth origin
    auth = parse_qs(urlsplit(values["auth-url"]).query)
    assert values["state"] == auth["state"][0] and values["nonce"] == auth["nonce"][0]
    login_id = values["state-key"].removeprefix("lti-tool-state-")
    assert values["nonce-key"] == "lti-tool-nonce-" + login_id


def test_framed_login_checks_the_cookie_before_the_hint_is_spent(connected):
    url = connected.launch_url()
    session = requests.Session()
    login = session.get(url, headers=FRAMED, timeout=10)
    assert login.status_code == 200
    values = data_attributes(login.text, "lti-login")
    assert "storage-target" not in values
    assert connected.platform.launches[hint_of(url)].hint_used is False  # the LMS has not been asked yet
    new_window = html.unescape(re.search(r'id="lti-new-window-button" href="([^"]+)"', login.text).group(1))
    assert hint_of(new_window) == hint_of(url) and "lti_storage_target" not in new_window
    assert 'rel="opener"' in login.text
    assert session.get(values["cookie-check-url"], timeout=10).json() == {"cookie": True}
    assert requests.get(values["cookie-check-url"], timeout=10).json() == {"cookie": False}


def test_top_level_login_goes_straight_to_the_platform(connected):
    response = requests.get(connected.launch_url(), headers={"Sec-Fetch-Dest": "document"}, allow_redirects=False,
                            timeout=10)
    assert response.status_code == 302


def test_a_storage_target_that_is_no_frame_name_is_refused(connected, tool_server):
    url = connected.launch_url() + "&lti_storage_target=" + requests.utils.quote("x'><script>")
    assert_refused(requests.get(url, timeout=10), 400, "lti_storage_target")


def test_without_the_cookie_the_launch_page_reads_platform_storage_and_completes(storage_platform, database,
                                                                                 tool_server):
    session = requests.Session()
    values, posted = stored_launch(session, storage_platform)
    page = session.post(f"{tool_server.url}/lti/launch", data=posted, timeout=10)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    launch_page = data_attributes(page.text, "lti-storage-launch")
    assert launch_page["state-key"] == values["state-key"] and launch_page["nonce-key"] == values["nonce-key"]
    assert no_launch_recorded(database)
    proof = {**posted, "stored_state": values["state"], "stored_nonce": values["nonce"]}
    done = session.post(f"{tool_server.url}/lti/launch/storage", data=proof, headers=SAME_ORIGIN, timeout=10)
    assert done.status_code == 200, done.text[:300]
    assert 'data-testid="learner-landing"' in done.text
    again = session.post(f"{tool_server.url}/lti/launch/storage", data=proof, headers=SAME_ORIGIN, timeout=10)
    assert_refused(again, 401, "already used")  # single use, as with the cookie


@pytest.mark.parametrize(("change", "headers", "status", "reason"), [
    pytest.param({"stored_nonce": "0" * 64}, SAME_ORIGIN, 401, "does not hold this launch", id="wrong-nonce"),
    pytest.param({"stored_state": "other"}, SAME_ORIGIN, 401, "does not hold this launch", id="wrong-state"),
    pytest.param({"stored_nonce": ""}, SAME_ORIGIN, 401, "does not hold this launch", id="no-nonce"),
    pytest.param({}, {"Sec-Fetch-Site": "cross-site"}, 403, "tool's own launch page", id="cross-site-post"),
    pytest.param({}, {"Origin": "https://attacker.example"}, 403, "tool's own launch page", id="foreign-origin"),
    pytest.param({}, {}, 403, "tool's own launch page", id="no-origin-at-all"),
])
def test_the_storage_completion_is_as_strict_as_the_cookie(storage_platform, database, tool_server, change,
                                                           headers, status, reason):
    session = requests.Session()
    values, posted = stored_launch(session, storage_platform)
    proof = {**posted, "stored_state": values["state"], "stored_nonce": values["nonce"], **change}
    refused = session.post(f"{tool_server.url}/lti/launch/storage", data=proof, headers=headers, timeout=10)
    assert_refused(refused, status, reason)
    assert no_launch_recorded(database)


def test_the_tools_own_origin_is_enough_without_fetch_metadata(storage_platform, tool_server):
    session = requests.Session()
    values, posted = stored_launch(session, storage_platform)
    proof = {**posted, "stored_state": values["state"], "stored_nonce": values["nonce"]}
    done = session.post(f"{tool_server.url}/lti/launch/storage", data=proof, headers={"Origin": tool_server.url},
                        timeout=10)
    assert done.status_code == 200, done.text[:300]


def test_storage_proof_is_refused_for_a_login_that_did_not_offer_storage(connected, database, tool_server):
    session = requests.Session()
    login = session.get(connected.launch_url(), allow_redirects=False, timeout=10)
    auth_url = login.headers["Location"]
    query = parse_qs(urlsplit(auth_url).query)
    (form,) = parse_forms(session.get(auth_url, timeout=10).text, auth_url)
    proof = {**form.fields, "stored_state": query["state"][0], "stored_nonce": query["nonce"][0]}
    refused = requests.post(f"{tool_server.url}/lti/launch/storage", data=proof, headers=SAME_ORIGIN, timeout=10)
    assert_refused(refused, 401, "did not start with platform storage")
    assert no_launch_recorded(database)


def test_a_top_level_cross_site_post_without_the_cookie_is_posted_again_from_the_tool(connected, tool_server):
    session = requests.Session()
    login = session.get(connected.launch_url(), allow_redirects=False, timeout=10)
    (form,) = parse_forms(session.get(login.headers["Location"], timeout=10).text, login.headers["Location"])
    top_level = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "cross-site"}
    cookies = session.cookies.copy()
    session.cookies.clear()  # a SameSite=Lax cookie does not go with the platform's cross-site POST
    page = session.post(f"{tool_server.url}/lti/launch", data=form.fields, headers=top_level, timeout=10)
    assert page.status_code == 200 and 'id="lti-resubmit"' in page.text
    (again,) = parse_forms(page.text, page.url)
    assert again.fields["resubmitted"] == "1"
    # Posted again from the tool's page: same origin, the cookie comes with it.
    done = requests.post(again.action, data=again.fields, cookies=cookies,
                         headers={"Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "same-origin"}, timeout=10)
    assert done.status_code == 200 and 'data-testid="learner-landing"' in done.text
    # Without the cookie, the re-post is refused as any cookieless launch (and not posted once more).
    session2 = requests.Session()
    login2 = session2.get(connected.launch_url(), allow_redirects=False, timeout=10)
    (form2,) = parse_forms(session2.get(login2.headers["Location"], timeout=10).text, login2.headers["Location"])
    refused = requests.post(f"{tool_server.url}/lti/launch", data={**form2.fields, "resubmitted": "1"},
                            headers=top_level, timeout=10)
    assert_refused(refused, 401, "new window")


def test_the_sandbox_refuses_a_replayed_hint_as_moodle_does(connected):
    url = connected.launch_url()
    session = requests.Session()
    auth_url = session.get(url, allow_redirects=False, timeout=10).headers["Location"]
    assert session.get(auth_url, timeout=10).status_code == 200
    replay_auth = session.get(session.get(url, allow_redirects=False, timeout=10).headers["Location"], timeout=10)
    assert replay_auth.status_code == 400 and replay_auth.text == "Invalid request"


def test_canvas_refusing_a_consumed_launch_is_explained_to_the_student(connected):
    """A login replayed after its launch was used (a reload, a copied link): Canvas posts ``launch_no_longer_valid``
    instead of an id_token, and the student is told to start again from the course, not to call an administrator."""
    connected.platform.flavor = "canvas"  # its signed hint, its consumed-launch answer
    browser = FormBrowser()
    url = connected.launch_url()
    assert browser.get(url).status_code == 200
    again = browser.get(url)
    assert again.status_code == 400
    assert again.url.endswith("/lti/launch")  # Canvas posted its error to the tool
    assert ("The LMS refused this launch: The launch has either expired or already been consumed "
            "(launch_no_longer_valid). Open the activity again from the course page.") in html.unescape(again.text)
    assert "Please open the activity again" in again.text


def test_the_login_page_speaks_the_browsers_language_and_gives_the_script_its_sentences(connected):
    """Before the launch there is no LMS locale: the login page follows Accept-Language, and the sentences
    static/lti-launch.js shows come from the page, in that language, never from the script."""
    response = requests.get(connected.launch_url(), headers={**FRAMED, "Accept-Language": "es-MX,es;q=0.9"},
                            timeout=10)
    assert response.status_code == 200 and 'lang="es"' in response.text
    assert "Abriendo la actividad…" in html.unescape(response.text)
    box = re.search(r'<p id="lti-opened-elsewhere"[^>]*>', response.text, re.S)
    assert box, "no #lti-opened-elsewhere on the page"
    words = {name: html.unescape(value) for name, value in re.findall(r'data-(msg-[a-z-]+)="([^"]*)"', box.group(0))}
    assert set(words) == {"msg-opening", "msg-opened", "msg-opened-titled"}
    assert "{title}" in words["msg-opened-titled"] and all(words.values())
