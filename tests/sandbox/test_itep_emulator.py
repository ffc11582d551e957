"""The iTEP emulator, driven over real HTTP the way the tool (server side), a candidate and iTEP staff would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from flask import Flask
from flask import request

from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.itep import TEST_ID_PATTERN
from lti_tool.sandbox.itep import ItepEmulator
from lti_tool.sandbox.itep import ItepError
from lti_tool.sandbox.itep import create_itep_app
from lti_tool.sandbox.live_server import LiveServer

API_KEY = "itep-api-key-0123456789abcdef"
SIGNATURE_HEADER = "X-iTEP-Signature"
GTX = "GTX-Academic-Plus"
STX = "STX-Academic-Plus"
WEBHOOK_SECRET = "webhook-secret-42-abcdef"
# The "Raw" webhook output sample of iTEP's docs, verbatim.
DOCS_SAMPLE = (
    '{ "OID": "", "TestID": "3279B035APR", "Duration": "67.5", "TestDate": "6/10/2024", "TestMonth": "6", '
    '"TestDay": "10", "TestYear": "2024", "score_report_url": "https://www.iteptest.com/reports/ScoreReport.php?p='
    '8bee14e7f73fc44d9db69ff8bccfe36aAfcvq", "Overall_Level": "4.5", "Overall_cefr": "C1", "Grammar_Level": "3.5", '
    '"Grammar_Score": "68", "Grammar_Percent": "72", "Grammar_cefr": "B2", "Listening_Level": "5.0", '
    '"Listening_Score": "87", "Listening_Percent": "86", "Listening_cefr": "C1", "Reading_Level": "6.0", '
    '"Reading_Score": "100", "Reading_Percent": "100", "Reading_cefr": "C2", "Writing_Level": "4.0", '
    '"Writing_Score": "77", "Writing_Percent": "67", "Writing_cefr": "B2", "Writing_Question_Count": 2, '
    '"Writing_Question_1": "", "Writing_Answer_1": "", "Writing_Question_2": "", "Writing_Answer_2": "", '
    '"Speaking_Level": "4.0", "Speaking_Score": "77", "Speaking_Percent": "67", "Speaking_cefr": "B2", '
    '"Status": "Complete" }'
)
PER_TEST_KEYS = ("OID", "TestID", "TestDate", "TestMonth", "TestDay", "TestYear", "score_report_url")


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def signature(body: bytes, encoding: str = "hex", key: str = API_KEY) -> str:
    """Computed here, not by the emulator, so a wrong emulator signature fails the tests."""
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


@dataclass
class Captured:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]]
    body: bytes


@dataclass
class FakeTool:
    """The receiving tool: records every webhook POST and answers `status` with `answer`."""

    server: LiveServer
    received: list[Captured] = field(default_factory=list)
    status: int = 200
    answer: str = "recorded"

    def url(self, path: str = "/itep/results") -> str:
        return self.server.url + path

    def app(self) -> Flask:
        app = Flask("fake_tool")

        @app.post("/<path:path>")
        def capture(path: str) -> tuple[str, int]:
            body = request.get_data()
            self.received.append(Captured(request.path, parse_qs(request.query_string.decode()),
                                          dict(request.headers), request.form.to_dict(flat=False), body))
            return self.answer, self.status

        return app

    def payload(self, index: int = -1) -> dict[str, Any]:
        (data,) = self.received[index].form["data"]
        payload: dict[str, Any] = json.loads(data)
        return payload


@dataclass
class Itep:
    emulator: ItepEmulator
    url: str

    def post(self, body: bytes, headers: dict[str, str] | None = None, signed: bool = True,
             timeout: float = 5) -> requests.Response:
        sent = {"Content-Type": "application/json"}
        if signed:
            sent[self.emulator.signature_header] = signature(body, self.emulator.signature_encoding)
        sent.update(headers or {})
        return requests.post(self.emulator.fulfillment_url, data=body, headers=sent, timeout=timeout)

    def order(self, fields: dict[str, Any], timeout: float = 5) -> requests.Response:
        return self.post(compact({"product-code": GTX, **fields}), timeout=timeout)

    def assign(self, registration: dict[str, Any] | None = None, track: str = "RC", product: str = GTX) -> str:
        fields: dict[str, Any] = {"product-code": product, "email": "mary@example.edu", "track": track,
                                  "assigned-to": {"student-name": "Mary Poppins", "customer-candidate-id": 9810283},
                                  "registration": registration if registration is not None else
                                  {"First_Name": "Mary", "Last_Name": "Poppins", "trExternal_ID": "attempt-17"}}
        response = self.order(fields)
        assert response.status_code == 200, response.text
        return str(response.json()["test_id"])

    def available(self, code: str = GTX) -> int:
        return len(self.emulator.available_tests(code))


@pytest.fixture
def servers() -> Iterator[Callable[..., Itep]]:
    """Start an emulator with the given constructor arguments (signature header and encoding are knobs)."""
    with ExitStack() as stack:

        def start(**kwargs: Any) -> Itep:
            server = stack.enter_context(LiveServer())
            emulator = ItepEmulator(base_url=server.url, api_key=API_KEY, **kwargs)
            server.set_app(create_itep_app(emulator))
            emulator.add_product(GTX, inventory=3)
            emulator.add_product(STX, inventory=2)
            return Itep(emulator, server.url)

        yield start


@pytest.fixture
def itep(servers: Callable[..., Itep]) -> Itep:
    return servers()


@pytest.fixture
def tool() -> Iterator[FakeTool]:
    with LiveServer() as server:
        fake = FakeTool(server)
        server.set_app(fake.app())
        yield fake


# --- inventory and setup ---------------------------------------------------------------------------------
def test_products_start_with_ready_unassigned_test_ids(itep: Itep) -> None:
    tests = itep.emulator.available_tests(GTX)
    assert len(tests) == 3
    assert len({test.test_id for test in tests}) == 3
    for test in tests:
        assert TEST_ID_PATTERN.fullmatch(test.test_id)
        assert test.test_id.endswith("AP")  # Academic-Plus, like 123982B8AP
        assert re.fullmatch(r"[0-9]{5}", test.password)
        assert (test.status, test.assigned_to, test.available) == ("Ready", None, True)


@pytest.mark.parametrize("code", ["QSG-Academic-Plus", "Academic-Plus", "GTX-", "gtx-Academic-Plus"])
def test_product_codes_outside_the_api_groups_are_refused(itep: Itep, code: str) -> None:
    with pytest.raises(ValueError, match="GTX- or STX-"):
        itep.emulator.add_product(code)


def test_bad_setup_is_refused(itep: Itep) -> None:
    with pytest.raises(ValueError, match="already exists"):
        itep.emulator.add_product(GTX)
    with pytest.raises(ValueError, match="sections"):
        itep.emulator.add_product("GTX-Business-Core", sections=("Vocabulary",))
    with pytest.raises(ValueError, match="needs a secret"):
        itep.emulator.configure_tracking("RC", "http://tool.example/hook", auth="header")
    with pytest.raises(ValueError, match="signature_encoding"):
        ItepEmulator("http://itep.example", signature_encoding="base32")  # type: ignore[arg-type]


def test_index_shows_products_and_never_the_secrets(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url("/hook?sig=abc"), secret=WEBHOOK_SECRET)
    itep.assign()
    page = requests.get(f"{itep.url}/", timeout=5).text
    assert "id='available-GTX-Academic-Plus'>2/3<" in page
    assert SIGNATURE_HEADER in page
    assert API_KEY not in page and WEBHOOK_SECRET not in page and "sig=abc" not in page
    assert f"********{API_KEY[-4:]}" in page


# --- fulfillment: answers ------------------------------------------------------------------------------
def test_gtx_returns_the_test_id_and_password_and_assigns_it(itep: Itep) -> None:
    registration = {"First_Name": "Mary", "Last_Name": "Poppins", "Birthday": "7/8/1955", "trExternal_ID": "a-1"}
    body = compact({"product-code": GTX, "email": "mary@example.edu", "track": "RC", "sequence": 3,
                    "assigned-to": {"student-name": "Mary Poppins", "sequence": 3}, "registration": registration})
    response = itep.post(body)
    assert response.status_code == 200
    answer = response.json()
    test = itep.emulator.tests[answer["test_id"]]
    assert answer == {"status": "ok", "test_id": test.test_id, "password": test.password, "product_code": GTX,
                      "test_url": f"{itep.url}/test/{test.test_id}", "emailed": False}
    assert list(answer) == ["status", "test_id", "password", "product_code", "test_url", "emailed"]
    assert (test.assigned_to, test.registration, test.track, test.email) == (
        {"student-name": "Mary Poppins", "sequence": 3}, registration, "RC", "mary@example.edu")
    assert (test.status, test.available, test.oid) == ("Ready", False, "a-1")
    assert itep.emulator.emails_sent == []
    (record,) = itep.emulator.fulfillment_requests
    assert (record.body, record.status, record.test_id, record.response) == (body, 200, test.test_id, answer)
    assert record.header(SIGNATURE_HEADER) == signature(body)
    assert record.parsed["registration"] == registration


def test_stx_emails_the_test_id_and_answers_without_the_password(itep: Itep) -> None:
    response = itep.order({"product-code": STX, "email": "mary@example.edu", "bcc": "office@example.edu",
                           "registration": {"First_Name": "Mary"}})
    assert response.status_code == 200
    answer = response.json()
    test = itep.emulator.tests[answer["test_id"]]
    assert answer == {"status": "ok", "test_id": test.test_id, "product_code": STX,
                      "test_url": f"{itep.url}/test/{test.test_id}", "emailed": True}
    (email,) = itep.emulator.emails_sent
    assert (email.to, email.bcc, email.test_id) == ("mary@example.edu", "office@example.edu", test.test_id)
    assert test.test_id in email.body and test.password in email.body and "Dear Mary" in email.body


def test_json_strings_for_assigned_to_and_registration_are_parsed(itep: Itep) -> None:
    response = itep.order({"assigned-to": '{"student-name":"Mary"}', "registration": '{"trExternal_ID":"x-9"}'})
    assert response.status_code == 200
    test = itep.emulator.tests[response.json()["test_id"]]
    assert (test.assigned_to, test.oid) == ({"student-name": "Mary"}, "x-9")


def test_an_order_without_assigned_to_still_takes_the_id_out_of_inventory(itep: Itep) -> None:
    test_id = itep.order({}).json()["test_id"]
    assert itep.emulator.tests[test_id].assigned_to == {}
    assert test_id not in [test.test_id for test in itep.emulator.available_tests(GTX)]


# --- fulfillment: signature ------------------------------------------------------------------------------
@pytest.mark.parametrize(("encoding", "other"), [("hex", "base64"), ("base64", "hex")])
def test_signature_is_checked_in_the_configured_encoding(servers: Callable[..., Itep], encoding: str,
                                                         other: str) -> None:
    itep = servers(signature_encoding=encoding)
    body = compact({"product-code": GTX})
    accepted = itep.post(body, {SIGNATURE_HEADER: signature(body, encoding)}, signed=False)
    refused = itep.post(body, {SIGNATURE_HEADER: signature(body, other)}, signed=False)
    assert (accepted.status_code, refused.status_code) == (200, 401)
    assert itep.emulator.sign(body) == signature(body, encoding)


def test_the_signature_header_name_is_configurable(servers: Callable[..., Itep]) -> None:
    itep = servers(signature_header="X-Api-Signature")
    body = compact({"product-code": GTX})
    assert itep.post(body, {SIGNATURE_HEADER: signature(body)}, signed=False).status_code == 401
    assert itep.post(body, {"x-api-signature": signature(body)}, signed=False).status_code == 200


@pytest.mark.parametrize("presented", [None, "", "00" * 32, signature(b'{"product-code":"GTX-Academic-Plus"}', key="x"),
                                       signature(b'{"product-code":"STX-Academic-Plus"}')])
def test_a_wrong_or_missing_signature_is_unauthorized(itep: Itep, presented: str | None) -> None:
    body = compact({"product-code": GTX})
    response = itep.post(body, {} if presented is None else {SIGNATURE_HEADER: presented}, signed=False)
    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "Invalid signature"}
    assert itep.available() == 3
    assert itep.emulator.fulfillment_requests[-1].status == 401


# --- fulfillment: body checks ----------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    json.dumps({"product-code": GTX}, indent=2).encode(),
    json.dumps({"product-code": GTX}).encode(),  # ", " and ": " separators
    b'{"product-code":"GTX-Academic-Plus"}\n',
    b'{"product-code":"GTX-Academic-Plus",\r\n"track":"RC"}',
    b' {"product-code":"GTX-Academic-Plus"}',
    b'{"product-code":"GTX-Academic-Plus","track":"RC\\n"}\t',
])
def test_pretty_json_is_refused(itep: Itep, body: bytes) -> None:
    response = itep.post(body)
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": "Request body must be compact JSON"}
    assert itep.available() == 3


def test_spaces_and_escapes_inside_strings_are_compact(itep: Itep) -> None:
    body = compact({"product-code": GTX, "registration": {"First_Name": "Mary Ann", "Education": "High School",
                                                          "City": "Zürich \"old\" {town}"}})
    assert b"\\u00fc" in body
    assert itep.post(body).status_code == 200


@pytest.mark.parametrize(("body", "content_type", "status", "message"), [
    (b'{"product-code":"GTX-Academic-Plus"}', "application/x-www-form-urlencoded", 415,
     "Content-Type must be application/json"),
    (b'{"product-code":"GTX-Academic-Plus"', "application/json", 400, "Unable to parse request body"),
    (b'["GTX-Academic-Plus"]', "application/json", 400, "Request body must be a JSON object"),
    (b'{"track":"RC"}', "application/json", 400, "product-code is required"),
    (b'{"product-code":"GTX-Nope"}', "application/json", 400, "Unknown product code [GTX-Nope]"),
    (b'{"product-code":"gtx-academic-plus"}', "application/json", 400, "Unknown product code [gtx-academic-plus]"),
    (b'{"product-code":"STX-Academic-Plus"}', "application/json", 400, "Email is required for STX product codes"),
    (b'{"product-code":"STX-Academic-Plus","email":""}', "application/json", 400,
     "Email is required for STX product codes"),
    (b'{"product-code":"GTX-Academic-Plus","assigned-to":"{oops"}', "application/json", 400,
     "Invalid assigned-to JSON [{oops]"),
    (b'{"product-code":"GTX-Academic-Plus","registration":[1]}', "application/json", 400,
     "Invalid registration JSON [[1]]"),
])
def test_malformed_orders_are_refused_in_itep_style(itep: Itep, body: bytes, content_type: str, status: int,
                                                    message: str) -> None:
    response = itep.post(body, {"Content-Type": content_type})
    assert response.status_code == status
    assert response.json() == {"status": "error", "message": message}
    assert itep.available(GTX) + itep.available(STX) == 5


@pytest.mark.parametrize(("registration", "message"), [
    ({"DOB_Month": 13}, "Out of range Birth Month [13]"),
    ({"DOB_Month": "0"}, "Out of range Birth Month [0]"),
    ({"DOB_Month": "July"}, "Out of range Birth Month [July]"),
    ({"DOB_Day": 32}, "Out of range Birth Day [32]"),
    ({"DOB_Day": 0}, "Out of range Birth Day [0]"),
    ({"DOB_Year": 1900}, "Out of range Birth Year [1900]"),
    ({"Birthday": "7/8"}, "Unable to parse Birth Date [7/8]"),
    ({"Birthday": "July 8 1955"}, "Unable to parse Birth Date [July 8 1955]"),
    ({"Birthday": "7/8/1955/1"}, "Unable to parse Birth Date [7/8/1955/1]"),
    ({"Birthday": "13/8/1955"}, "Out of range Birth Month [13]"),
    ({"Birthday": "7/32/1955"}, "Out of range Birth Day [32]"),
    ({"Birthday": "8-13-1955"}, "Out of range Birth Month [13]"),  # D-M-YYYY
    ({"Birthday": "7/8/1899"}, "Out of range Birth Year [1899]"),
    ({"Birthday": "13/32/1955"}, "Out of range Birth Day [32]"),  # Day, Month, Year: the order the docs list them
    ({"Birthday": "1955-07-08"}, "Out of range Birth Day [1955]"),  # the docs' own example is not D-M-YYYY
    ({"Gender": "M"}, "Invalid Gender [M]"),
    ({"Education": "College"}, "Invalid Education [College]"),
    ({"Field_Of_Study": "Biology"}, "Invalid Study Field [Biology]"),  # also from the docs' example
    ({"First_Name": "Mary", "Gender": "Other", "DOB_Month": 13}, "Invalid Gender [Other]"),  # first error wins
])
def test_registration_errors_use_the_documented_texts(itep: Itep, registration: dict[str, Any],
                                                      message: str) -> None:
    response = itep.order({"registration": registration})
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": message}
    assert itep.available() == 3


@pytest.mark.parametrize("registration", [
    {"Birthday": "7/8/1955"}, {"Birthday": "8-7-1955"}, {"Birthday": "12/31/1901"},
    {"DOB_Month": 12, "DOB_Day": "31", "DOB_Year": 1901}, {"Gender": "female"}, {"Gender": "MALE"},
    {"Education": "bachelor's degree"}, {"Field_Of_Study": "OTHER LANGUAGES"}, {"Custom_Field": "kept"},
])
def test_valid_registrations_are_stored_as_sent(itep: Itep, registration: dict[str, Any]) -> None:
    response = itep.order({"registration": registration})
    assert response.status_code == 200, response.text
    assert itep.emulator.tests[response.json()["test_id"]].registration == registration


def test_unlisted_registration_fields_are_noted_in_the_events(itep: Itep) -> None:
    itep.order({"registration": {"trExternalID": "typo"}})
    assert "registration field 'trExternalID' is not in iTEP's list of valid fields" in itep.emulator.events


# --- fulfillment: inventory ------------------------------------------------------------------------------
def test_each_accepted_request_consumes_exactly_one_id_even_when_repeated(itep: Itep) -> None:
    body = compact({"product-code": GTX, "assigned-to": {"customer-candidate-id": 1}})
    first, second = itep.post(body), itep.post(body)  # the same purchase twice: not idempotent
    assert first.json()["test_id"] != second.json()["test_id"]
    assert itep.available() == 1
    assert itep.available(STX) == 2


def test_inventory_running_out_is_a_conflict(itep: Itep) -> None:
    assigned = {itep.order({}).json()["test_id"] for _ in range(3)}
    response = itep.order({})
    assert response.status_code == 409
    assert response.json() == {"status": "error", "message": f"No available test IDs for product code [{GTX}]"}
    assert len(assigned) == 3
    (bought,) = itep.emulator.add_inventory(GTX, 1)
    assert itep.order({}).json()["test_id"] == bought.test_id


# --- fulfillment: fault knobs ----------------------------------------------------------------------------
def test_injected_500s_answer_without_assigning(itep: Itep) -> None:
    itep.emulator.fail_next_fulfillment("500", times=2)
    assert [itep.order({}).status_code for _ in range(3)] == [500, 500, 200]
    assert [record.fault for record in itep.emulator.fulfillment_requests] == ["500", "500", None]
    assert itep.available() == 2


def test_injected_invalid_json_is_a_200_that_does_not_parse(itep: Itep) -> None:
    itep.emulator.fail_next_fulfillment("invalid_json")
    response = itep.order({})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(response.text)
    assert itep.available() == 3


def test_injected_timeout_assigns_an_id_the_caller_never_hears_about(itep: Itep) -> None:
    itep.emulator.timeout_sleep_seconds = 1.0
    itep.emulator.fail_next_fulfillment("timeout")
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        itep.order({}, timeout=0.3)
    assert time.monotonic() - started < 0.9
    deadline = time.monotonic() + 3
    while itep.emulator.fulfillment_requests[0].status == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    record = itep.emulator.fulfillment_requests[0]
    assert (record.fault, record.status) == ("timeout", 200)
    assert itep.emulator.tests[str(record.test_id)].assigned_to == {}
    assert itep.available() == 2


def test_unknown_fault_kind_is_refused(itep: Itep) -> None:
    with pytest.raises(ValueError, match="unknown fulfillment fault"):
        itep.emulator.fail_next_fulfillment("404")  # type: ignore[arg-type]


# --- results webhook -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("form_encoding", "content_type"), [("multipart", "multipart/form-data; boundary=-----"),
                                                             ("urlencoded", "application/x-www-form-urlencoded")])
def test_webhook_posts_one_data_field_shaped_like_the_docs_sample(itep: Itep, tool: FakeTool, form_encoding: str,
                                                                   content_type: str) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), secret=WEBHOOK_SECRET,
                                     form_encoding=form_encoding)  # type: ignore[arg-type]
    test_id = itep.assign()
    result = itep.emulator.fire_webhook(test_id, overall_level="4.5", overall_cefr="C1")
    (received,) = tool.received
    assert list(received.form) == ["data"]
    assert received.headers["Content-Type"].startswith(content_type)
    assert received.headers["User-Agent"] == "iTEP-Webhook-Emulator"
    payload, sample = tool.payload(), json.loads(DOCS_SAMPLE)
    assert list(payload) == list(sample)
    assert {key: value for key, value in payload.items() if key not in PER_TEST_KEYS} == {
        key: value for key, value in sample.items() if key not in PER_TEST_KEYS}
    assert (payload["OID"], payload["TestID"]) == ("attempt-17", test_id)
    assert re.fullmatch(re.escape(itep.url) + r"/reports/ScoreReport\.php\?p=[0-9a-f]{32}[A-Za-z]{5}",
                        payload["score_report_url"])
    month, day, year = payload["TestDate"].split("/")
    assert (payload["TestMonth"], payload["TestDay"], payload["TestYear"]) == (month, day, year)
    assert (result.status, result.response_text, result.payload()) == (200, "recorded", payload)
    assert itep.emulator.tests[test_id].status == "Complete"


def test_webhook_data_is_compact_json_with_php_style_slashes(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), auth="none")
    result = itep.emulator.fire_webhook(itep.assign())
    assert result.data.startswith('{"OID":"attempt-17","TestID":')
    assert "\\/reports\\/ScoreReport.php" in result.data and " " not in result.data
    itep.emulator.webhook_escape_slashes = False
    assert "/reports/ScoreReport.php" in itep.emulator.fire_webhook(itep.assign()).data


def test_oid_is_empty_without_a_trexternal_id(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), auth="none")
    itep.emulator.fire_webhook(itep.assign(registration={}))
    assert tool.payload()["OID"] == ""


def test_only_the_products_sections_are_sent(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.add_product("GTX-Business-Core", inventory=1, sections=("Reading", "Grammar", "Listening"))
    itep.emulator.configure_tracking("RC", tool.url(), auth="none")
    itep.emulator.fire_webhook(itep.assign(product="GTX-Business-Core"))
    keys = list(tool.payload())
    assert [key for key in keys if key.endswith("_Level")] == ["Overall_Level", "Grammar_Level", "Listening_Level",
                                                               "Reading_Level"]
    assert not any(key.startswith(("Writing", "Speaking")) for key in keys)


def test_sections_overrides_and_omissions_shape_the_payload(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), auth="none")
    test_id = itep.assign()
    itep.emulator.fire_webhook(test_id, status="Completed", overall_level="5.5", overall_cefr="C1",
                               sections={"Writing": {"Level": "5.0", "Question_Count": 1}, "Speaking": {}},
                               overrides={"Duration": "12", "Extra": "x"}, omit=("TestDay",))
    payload = tool.payload()
    assert (payload["Status"], payload["Overall_Level"], payload["Duration"], payload["Extra"]) == (
        "Completed", "5.5", "12", "x")
    assert (payload["Writing_Level"], payload["Writing_Question_Count"], payload["Speaking_Level"]) == (
        "5.0", 1, "4.0")
    assert "Writing_Question_2" not in payload and "Grammar_Level" not in payload and "TestDay" not in payload
    with pytest.raises(ValueError, match="unknown sections"):
        itep.emulator.fire_webhook(test_id, sections={"Vocabulary": {}})
    with pytest.raises(ValueError, match="unknown Speaking fields"):
        itep.emulator.fire_webhook(test_id, sections={"Speaking": {"level": "4"}})


@pytest.mark.parametrize(("auth", "webhook_path"), [("header", "/itep/results"), ("url_token", "/itep/results"),
                                                    ("url_token", "/itep/results?school=7"), ("none", "/itep/results")])
def test_webhook_authentication_per_tracking_code(itep: Itep, tool: FakeTool, auth: str, webhook_path: str) -> None:
    secret = "to+ken/&=" if auth == "url_token" else WEBHOOK_SECRET
    itep.emulator.configure_tracking("RC", tool.url(webhook_path), auth=auth,  # type: ignore[arg-type]
                                     secret=None if auth == "none" else secret, header_name="X-School-Token")
    itep.emulator.fire_webhook(itep.assign())
    (received,) = tool.received
    assert received.path == "/itep/results"
    assert received.headers.get("X-School-Token") == (secret if auth == "header" else None)
    expected_query = {"school": ["7"]} if "school" in webhook_path else {}
    if auth == "url_token":
        expected_query["token"] = [secret]
    assert received.query == expected_query


def test_resend_is_byte_identical(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url("/itep/results?a=%41"), auth="url_token", secret=WEBHOOK_SECRET)
    itep.emulator.fire_webhook(itep.assign())
    duplicate = itep.emulator.resend_webhook(0)
    first, second = tool.received
    assert second.body == first.body
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert (second.path, second.query) == (first.path, first.query) == ("/itep/results", {
        "a": ["A"], "token": [WEBHOOK_SECRET]})
    assert (duplicate.status, duplicate.data) == (200, itep.emulator.webhooks_sent[0].data)
    assert len(itep.emulator.webhooks_sent) == 2


def test_without_a_configured_tracking_code_nothing_is_sent(itep: Itep, tool: FakeTool) -> None:
    result = itep.emulator.fire_webhook(itep.assign(track="UNSET"))
    assert (result.skipped, result.url, result.status) == (True, None, None)
    assert result.payload()["Status"] == "Complete"
    assert tool.received == []
    with pytest.raises(ValueError, match="never sent"):
        itep.emulator.resend_webhook(0)


def test_post_raw_webhook_sends_arbitrary_fields(itep: Itep, tool: FakeTool) -> None:
    result = itep.emulator.post_raw_webhook(tool.url(), {"data": "{not json", "other": "1"},
                                            headers={"X-iTEP-Token": "forged"}, multipart=False)
    (received,) = tool.received
    assert received.form == {"data": ["{not json"], "other": ["1"]}
    assert received.headers["X-Itep-Token"] == "forged"
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert (result.status, result.data) == (200, "{not json")


def test_tool_errors_and_unreachable_tools_are_recorded(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), auth="none")
    tool.status, tool.answer = 500, "boom"
    assert (itep.emulator.fire_webhook(itep.assign()).status, itep.emulator.webhooks_sent[-1].response_text) == (
        500, "boom")
    gone = LiveServer()
    gone.stop()
    itep.emulator.configure_tracking("GONE", f"{gone.url}/hook", auth="none")
    result = itep.emulator.fire_webhook(itep.assign(track="GONE"))
    assert result.status is None
    assert result.error is not None and "ConnectionError" in result.error


def test_unknown_tests_are_not_found(itep: Itep) -> None:
    with pytest.raises(ItepError) as raised:
        itep.emulator.fire_webhook("999999B9AP")
    assert raised.value.status == 404
    assert requests.get(f"{itep.url}/test/999999B9AP", timeout=5).status_code == 404
    assert requests.get(f"{itep.url}/reports/ScoreReport.php?p=nope", timeout=5).status_code == 404


# --- the candidate's test and the score report -----------------------------------------------------------
def test_finishing_the_test_page_sends_a_finished_webhook_without_scores(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), secret=WEBHOOK_SECRET)
    test_id = itep.assign()
    browser = FormBrowser()
    page = browser.get(f"{itep.url}/test/{test_id}")
    assert f"<code id='test-id'>{test_id}</code>" in page.text and "Mary Poppins" in page.text
    (form,) = parse_forms(page.text, page.url)
    done = browser.submit(form)
    assert "id='done'" in done.text
    payload = tool.payload()
    assert (payload["Status"], payload["Overall_Level"], payload["Speaking_Level"], payload["OID"]) == (
        "Finished", "", "", "attempt-17")
    assert itep.emulator.tests[test_id].status == "Finished"
    assert "Finish test" not in requests.get(f"{itep.url}/test/{test_id}", timeout=5).text
    assert browser.session.post(form.action, timeout=5).status_code == 409


def test_finished_is_not_sent_when_the_tracking_code_does_not_ask_for_it(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), auth="none", send_finished=False)
    test_id = itep.assign()
    assert itep.emulator.finish_test(test_id) is None
    assert tool.received == []
    assert itep.emulator.tests[test_id].status == "Finished"
    itep.emulator.fire_webhook(test_id)
    assert tool.payload()["Status"] == "Complete"


def test_score_report_page_shows_the_latest_results(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), auth="none")
    test_id = itep.assign()
    itep.emulator.fire_webhook(test_id, status="Review")
    itep.emulator.fire_webhook(test_id, overall_level="5.5", overall_cefr="C1", sections={"Reading": {"Level": "2.5"}})
    first, second = (json.loads(result.data)["score_report_url"] for result in itep.emulator.webhooks_sent)
    assert first == second
    page = requests.get(second, timeout=5)
    assert page.status_code == 200
    assert "<td id='level-Overall'>5.5</td>" in page.text and "<td id='level-Reading'>2.5</td>" in page.text
    assert "level-Grammar" not in page.text and "<span id='status'>Complete</span>" in page.text


# --- admin trigger page ----------------------------------------------------------------------------------
def test_admin_lists_assigned_tests_and_fires_webhooks(itep: Itep, tool: FakeTool) -> None:
    itep.emulator.configure_tracking("RC", tool.url(), auth="url_token", secret=WEBHOOK_SECRET)
    test_id = itep.assign(registration={"First_Name": "<b>Mary</b>", "trExternal_ID": "a-2"})
    browser = FormBrowser()
    page = browser.get(f"{itep.url}/admin")
    assert page.text.count("<tr id='test-") == 1  # the two IDs left in inventory are not listed
    assert f"<tr id='test-{test_id}'>" in page.text
    assert "&lt;b&gt;Mary&lt;/b&gt;" in page.text and "<b>Mary</b>" not in page.text
    finish, complete, invalidate = parse_forms(page.text, page.url)
    tool.answer = "graded <ok>"
    answer = browser.submit(complete, {"level": "5.5", "cefr": "C1"})
    assert "HTTP 200" in answer.text and "graded &lt;ok&gt;" in answer.text
    assert WEBHOOK_SECRET not in answer.text
    assert (tool.payload()["TestID"], tool.payload()["Status"], tool.payload()["Overall_Level"],
            tool.payload()["Overall_cefr"]) == (test_id, "Complete", "5.5", "C1")
    browser.submit(invalidate)
    assert tool.payload()["Status"] == "Invalidated"
    assert browser.submit(finish).status_code == 409  # already past Finished
