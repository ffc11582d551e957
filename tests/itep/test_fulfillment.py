"""A learner opens an iTEP activity: exactly one test ID, fetched with an HMAC-signed request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from lti_tool.models import Attempt
from lti_tool.models import FulfillmentState
from lti_tool.sandbox.browser import FormBrowser


def open_itep(connected, activity, sub=None, browser=None, tamper=None):
    if tamper is not None:
        connected.platform.tamper_next_id_token(tamper)
    return (browser or FormBrowser()).get(connected.launch_url(sub=sub, custom={"activity": activity},
                                                               with_lineitem=True))


def attempt_row(database) -> Attempt:
    with database.session() as session:
        return session.scalars(sa.select(Attempt)).one()


def test_gtx_learner_gets_a_test_id_and_password(connected, itep_setup, database):
    page = open_itep(connected, itep_setup.gtx_activity)
    assert page.status_code == 200, page.text[:400]
    test_id = re.search(r'data-testid="test-id">([^<]+)<', page.text).group(1)
    assert re.search(r'data-testid="test-password">\d+<', page.text)
    assert test_id in {t.test_id for t in itep_setup.emulator.tests.values() if t.assigned_to}
    attempt = attempt_row(database)
    assert (attempt.provider_reference, attempt.fulfillment_state) == (test_id, FulfillmentState.DONE)


@pytest.mark.parametrize("settings_overrides", [{"share_learner_identity": "name-and-email"}])
def test_the_request_is_compact_json_signed_over_its_exact_bytes(connected, itep_setup, database, settings_overrides):
    open_itep(connected, itep_setup.gtx_activity)
    (request,) = itep_setup.emulator.fulfillment_requests
    body = request.body
    assert b"\n" not in body and b": " not in body and b", " not in body
    expected = hmac.new(b"itep-api-key-0001", body, hashlib.sha256).hexdigest()
    assert request.header("X-Itep-Hmac") == expected
    sent = json.loads(body)
    attempt = attempt_row(database)
    assert sent["product-code"] == "GTX-Academic-Plus" and sent["track"] == "RC"
    assert sent["email"] == "alan@example.edu"
    assert sent["registration"] == {"First_Name": "Alan", "Last_Name": "Turing", "Email": "alan@example.edu",
                                    "trExternal_ID": attempt.public_id}
    assert sent["assigned-to"]["attempt-id"] == attempt.public_id
    assert sent["assigned-to"]["student-name"] == "Alan Turing" and sent["assigned-to"]["expire"]


@pytest.mark.parametrize("itep_account_options", [{"signature_encoding": "base64"}])
def test_base64_signatures_are_configuration(connected, itep_setup, itep_account_options):
    page = open_itep(connected, itep_setup.gtx_activity)
    assert 'data-testid="test-id"' in page.text
    request = itep_setup.emulator.fulfillment_requests[0]
    digest = hmac.new(b"itep-api-key-0001", request.body, hashlib.sha256).digest()
    assert request.header("X-Itep-Hmac") == base64.b64encode(digest).decode()


def test_relaunching_shows_the_same_id_without_asking_again(connected, itep_setup):
    first = open_itep(connected, itep_setup.gtx_activity)
    second = open_itep(connected, itep_setup.gtx_activity)
    pattern = r'data-testid="test-id">([^<]+)<'
    assert re.search(pattern, first.text).group(1) == re.search(pattern, second.text).group(1)
    assert len(itep_setup.emulator.fulfillment_requests) == 1


def test_double_click_or_two_tabs_yield_one_test_id(connected, itep_setup, database):
    urls = [connected.launch_url(custom={"activity": itep_setup.gtx_activity}) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        pages = list(pool.map(lambda url: FormBrowser().get(url), urls))
    assert len(itep_setup.emulator.fulfillment_requests) == 1
    ids = {match.group(1) for page in pages if (match := re.search(r'data-testid="test-id">([^<]+)<', page.text))}
    assert len(ids) == 1
    assert all(page.status_code in (200, 502) for page in pages)  # the losers see "being prepared"
    assert len(itep_setup.emulator.available_tests("GTX-Academic-Plus")) == 2


@pytest.mark.parametrize("settings_overrides", [{"share_learner_identity": "name-and-email"}])
def test_stx_tells_the_learner_the_email_was_sent(connected, itep_setup, settings_overrides):
    page = open_itep(connected, itep_setup.stx_activity)
    assert 'data-testid="test-emailed"' in page.text and "test-password" not in page.text
    assert len(itep_setup.emulator.emails_sent) == 1


@pytest.mark.parametrize("settings_overrides", [{"share_learner_identity": "name-and-email"}])
def test_stx_without_an_email_is_refused_before_sending(connected, itep_setup, settings_overrides):
    page = open_itep(connected, itep_setup.stx_activity, tamper=lambda header, claims: claims.pop("email") and None)
    assert page.status_code == 502 and "email address" in page.text
    assert itep_setup.emulator.fulfillment_requests == []


def test_no_inventory_shows_itep_message_then_a_retry_gets_one_id(connected, itep_setup, database):
    emulator = itep_setup.emulator
    while emulator.available_tests("GTX-Academic-Plus"):  # other buyers took the whole inventory
        emulator.available_tests("GTX-Academic-Plus")[0].assigned_to = {"someone": "else"}
    page = open_itep(connected, itep_setup.gtx_activity)
    assert page.status_code == 502
    assert "No available test IDs" in page.text
    attempt = attempt_row(database)
    assert attempt.fulfillment_state == FulfillmentState.FAILED and "No available test IDs" in attempt.status_detail
    emulator.add_inventory("GTX-Academic-Plus", 1)
    retry = open_itep(connected, itep_setup.gtx_activity)
    assert 'data-testid="test-id"' in retry.text
    assert len([r for r in emulator.fulfillment_requests if r.status == 200]) == 1


def test_server_error_is_retried_on_the_next_visit(connected, itep_setup):
    itep_setup.emulator.fail_next_fulfillment("500")
    assert open_itep(connected, itep_setup.gtx_activity).status_code == 502
    assert 'data-testid="test-id"' in open_itep(connected, itep_setup.gtx_activity).text


@pytest.mark.parametrize("settings_overrides", [{"http_timeout_seconds": 0.5}])
def test_a_timeout_is_never_retried_automatically(connected, itep_setup, database, settings_overrides):
    """iTEP may have assigned an ID before the answer was lost: asking again could hand out a second one."""
    itep_setup.emulator.timeout_sleep_seconds = 1.5
    itep_setup.emulator.fail_next_fulfillment("timeout")
    first = open_itep(connected, itep_setup.gtx_activity)
    assert first.status_code == 502 and "do not start another test" in first.text
    again = open_itep(connected, itep_setup.gtx_activity)
    assert again.status_code == 502
    assert len(itep_setup.emulator.fulfillment_requests) == 1
    attempt = attempt_row(database)
    assert attempt.fulfillment_state == FulfillmentState.UNCERTAIN
    assert attempt.public_id in attempt.status_detail  # the teacher can look it up at iTEP


def test_unreachable_itep_is_a_clear_page(connected, itep_setup, database):
    from lti_tool.models import ProviderAccount

    with database.session() as session:
        account = session.get(ProviderAccount, itep_setup.account_pk)
        account.settings = {**account.settings, "endpoint_url": "http://127.0.0.1:9/nowhere"}
    page = open_itep(connected, itep_setup.gtx_activity)
    assert page.status_code == 502 and "cannot be reached" in page.text
    assert attempt_row(database).fulfillment_state == FulfillmentState.FAILED
