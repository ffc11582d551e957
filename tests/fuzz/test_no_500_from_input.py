"""Property-based fuzz: no request value gets a 5xx. Every route of the app's url_map is covered (a new route is
fuzzed automatically): every POST endpoint with hostile bodies, every path parameter with hostile values, and
hostile header values; the two provider callbacks also with authenticated requests, so the fuzz reaches past
the signature and secret checks into parsing and storage. Runs on both databases; derandomized, so CI is
reproducible, and bounded (``max_examples``) so the module stays well under a minute per backend."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from lti_tool.sandbox.browser import FormBrowser
from tests.itep.test_webhook import assigned_test_id

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(["\x7f", "\x85", "\x9f"])
HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=CONTROL, min_size=1, max_size=5),
    st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=10), st.text(max_size=10)),
    st.builds(lambda n: "x" * n, st.sampled_from([255, 256, 501, 1001, 2001, 5000])),
    st.sampled_from(["http://[::1", "https://[", "%00", "../../etc/passwd", "é€😀", "\ud800".encode(
        "utf-8", "surrogatepass").decode("latin-1"), "9" * 400, "-1", "0", "NaN", "1e999"]),
)
HUGE_NUMBERS = st.sampled_from([10 ** 400, -(10 ** 400), 1e308, 2 ** 63, -(2 ** 63) - 1, 2 ** 31])
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         HUGE_NUMBERS, HOSTILE_TEXT)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(HOSTILE_TEXT, inner, max_size=4), max_leaves=12)
DEEP_JSON = st.builds(lambda depth, open_, close: open_ * depth + close * depth,
                      st.sampled_from([40, 1000, 3000]), st.just("["), st.just("]")) \
    | st.builds(lambda depth: '{"a":' * depth + "1" + "}" * depth, st.sampled_from([40, 3000]))
RAW_NUMBERS = st.sampled_from(["9" * 400, "1" + "0" * 5000, "1e99999", "-0.0000" + "1" * 400])
CONTENT_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
                                 "text/plain", "application/json; charset=latin-1", "", "application/jsonp",
                                 "multipart/form-data; boundary=", "application/json\x00"])
# No CR/LF: no HTTP client can send them in a header value (the test client refuses them too).
HEADER_VALUES = st.one_of(HOSTILE_TEXT, st.text(alphabet=st.characters(min_codepoint=0x100, max_codepoint=0x2FFF),
                                                min_size=1, max_size=10)).map(
    lambda value: value.replace("\r", "?").replace("\n", "?"))


def _routes(app: Any) -> list[Any]:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def _path(rule: Any, values: dict[str, str]) -> str:
    path = rule.rule
    for argument in rule.arguments:
        for converter in (f"<{argument}>", *(f"<{kind}:{argument}>" for kind in ("int", "string", "path", "uuid"))):
            path = path.replace(converter, quote(values.get(argument, "x"), safe=""))
    return path


def _body(kind: str, value: Any, raw: str) -> bytes:
    if kind == "json":
        return json.dumps(value, default=str).encode()
    if kind == "raw":
        return raw.encode("utf-8", "surrogatepass")
    if kind == "form" and isinstance(value, dict):
        return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in value.items()).encode()
    return str(value).encode("utf-8", "surrogatepass")


def _assert_no_5xx(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what} → {response.status_code}: {response.get_data(as_text=True)[:300]}"


@pytest.fixture
def fuzz_target(connected, speechace_setup, itep_setup):
    """An installation with rows behind every surface: a registration, a Speechace and an iTEP activity, an
    attempt of each, so ids in the fuzz can name real rows."""
    test_id = assigned_test_id(connected, itep_setup)
    FormBrowser().get(connected.launch_url(resource_link_id="link-2", with_lineitem=True,
                                           custom={"activity": speechace_setup.activity_public_id}))
    session = speechace_setup.emulator.session_for_user(connected.course.learner)
    return {"speechace_query": urlsplit(session.submission_url).query, "itep": itep_setup, "test_id": test_id,
            "speechace": speechace_setup}


@FUZZ
@given(data=st.data())
def test_every_post_endpoint_answers_hostile_bodies_without_5xx(app, fuzz_target, data):
    rules = [rule for rule in _routes(app) if "POST" in rule.methods]
    assert rules, "the app has no POST route: the url_map enumeration is broken"
    rule = data.draw(st.sampled_from(rules), label="rule")
    path = _path(rule, {name: data.draw(HOSTILE_TEXT | st.just("1"), label=name) for name in rule.arguments})
    kind = data.draw(st.sampled_from(["json", "raw", "form", "deep", "number"]), label="kind")
    value = data.draw(JSON_VALUES, label="value")
    raw = data.draw(DEEP_JSON if kind == "deep" else RAW_NUMBERS if kind == "number" else HOSTILE_TEXT, label="raw")
    body = _body("raw" if kind in {"deep", "number"} else kind, value, raw)
    content_type = data.draw(CONTENT_TYPES, label="content_type")
    query = data.draw(st.dictionaries(st.sampled_from(["account", "iss", "login_hint", "launch", "token",
                                                       "openid_configuration", "sig", "user"]),
                                      HOSTILE_TEXT, max_size=3), label="query")
    response = app.test_client().post(path, data=body, query_string=query, headers={"Content-Type": content_type})
    _assert_no_5xx(response, f"POST {path}")


@FUZZ
@given(data=st.data())
def test_every_path_parameter_answers_hostile_values_without_5xx(app, fuzz_target, data):
    rules = [rule for rule in _routes(app) if rule.arguments]
    assert rules, "the app has no route with a path parameter: the url_map enumeration is broken"
    rule = data.draw(st.sampled_from(rules), label="rule")
    path = _path(rule, {name: data.draw(HOSTILE_TEXT, label=name) for name in rule.arguments})
    method = data.draw(st.sampled_from(sorted(rule.methods - {"OPTIONS", "HEAD"})), label="method")
    response = app.test_client().open(path, method=method)
    _assert_no_5xx(response, f"{method} {path}")


@FUZZ
@given(data=st.data())
def test_hostile_header_and_query_values_get_no_5xx(app, fuzz_target, data):
    rule = data.draw(st.sampled_from(_routes(app)), label="rule")
    path = _path(rule, {name: "1" for name in rule.arguments})
    method = "POST" if "POST" in rule.methods else "GET"
    name = data.draw(st.sampled_from(["registration_token", "Authorization", "X-iTEP-Token", "Cookie", "Referer",
                                      "X-Forwarded-For", "Accept", "Content-Type"]), label="header")
    headers = {name: data.draw(HEADER_VALUES, label="value")}
    query = {data.draw(HOSTILE_TEXT, label="query name"): data.draw(HOSTILE_TEXT, label="query value")}
    response = app.test_client().open(path, method=method, headers=headers, query_string=query)
    _assert_no_5xx(response, f"{method} {path} with {name}")


@FUZZ
@given(body=JSON_VALUES | st.dictionaries(st.sampled_from(["score", "userId", "courseId", "quizId", "reportUrl",
                                                           "key"]), JSON_VALUES), raw=DEEP_JSON | RAW_NUMBERS,
       use_raw=st.booleans(), content_type=CONTENT_TYPES)
def test_signed_speechace_callbacks_with_hostile_bodies_get_no_5xx(app, fuzz_target, body, raw, use_raw,
                                                                   content_type):
    setup = fuzz_target["speechace"]
    if isinstance(body, dict) and not use_raw:
        body = {"key": setup.assessment.key, "courseId": setup.assessment.course_id, **body}
    data = raw.encode() if use_raw else json.dumps(body, default=str).encode()
    response = app.test_client().post(f"/callbacks/speechace?{fuzz_target['speechace_query']}", data=data,
                                      headers={"Content-Type": content_type})
    _assert_no_5xx(response, "POST /callbacks/speechace")


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["OID", "TestID", "Status", "Overall_Level", "Overall_cefr",
                                               "score_report_url", "TestDate", "Speaking_Level"]), JSON_VALUES),
       raw=DEEP_JSON | RAW_NUMBERS | HOSTILE_TEXT, use_raw=st.booleans(), keep_test=st.booleans())
def test_authenticated_itep_webhooks_with_hostile_data_get_no_5xx(app, fuzz_target, fields, raw, use_raw, keep_test):
    itep = fuzz_target["itep"]
    payload = {**({"TestID": fuzz_target["test_id"], "Status": "Complete", "Overall_Level": "4"} if keep_test else {}),
               **fields}
    data = raw if use_raw else json.dumps(payload, default=str)
    response = app.test_client().post(f"/callbacks/itep?account={itep.account_pk}", data={"data": data},
                                      headers={"X-iTEP-Token": itep.webhook_secret})
    _assert_no_5xx(response, "POST /callbacks/itep")


@FUZZ
@given(data=st.data())
def test_admin_routes_logged_in_answer_hostile_values_without_5xx(app, fuzz_target, admin_client, data):
    """Logged in, with the session's CSRF token, so the fuzz reaches the admin services and the database."""
    with admin_client.session_transaction() as session:
        csrf = session.get("admin_csrf", "")
    rules = [rule for rule in _routes(app) if rule.rule.startswith("/admin")]
    assert rules, "no admin route found in the url_map"
    rule = data.draw(st.sampled_from(rules), label="rule")
    values = {name: data.draw(HOSTILE_TEXT | st.sampled_from(["1", "2", "9" * 400, "2147483648"]), label=name)
              for name in rule.arguments}
    path = _path(rule, values)
    form = data.draw(st.dictionaries(st.sampled_from(["title", "share_link", "test_url", "name", "product_code",
                                                      "username", "password", "action", "endpoint_url",
                                                      "tracking_code", "api_key", "webhook_secret", "account"]),
                                     HOSTILE_TEXT, max_size=4), label="form")
    if "POST" in rule.methods:
        response = admin_client.post(path, data={**form, "csrf_token": csrf})
    else:
        response = admin_client.get(path, query_string=form)
    _assert_no_5xx(response, f"{sorted(rule.methods)} {path}")


@pytest.mark.parametrize("path", ["/admin/queue/{}/retry", "/admin/registrations/{}/deactivate",
                                  "/admin/deployments/{}/disable", "/admin/assessments/{}/replace-key"])
def test_an_integer_id_larger_than_a_database_key_is_404(app, admin_client, path):
    with admin_client.session_transaction() as session:
        csrf = session.get("admin_csrf", "")
    for value in ("9" * 400, str(2**31), str(2**63)):
        response = admin_client.post(path.format(value), data={"csrf_token": csrf})
        assert response.status_code == 404, (value, response.status_code)


def test_the_safety_net_turns_a_parser_error_into_400_but_leaves_real_bugs_500(settings, database):
    from urllib.parse import urlsplit as split

    from lti_tool.app import create_app
    from lti_tool.services import Services

    app = create_app(settings, services=Services.from_settings(settings, database=database))

    @app.get("/test-only/malformed-url")
    def malformed_url() -> str:
        return split("http://[::1").netloc  # urllib raises ValueError("Invalid IPv6 URL")

    @app.get("/test-only/bug")
    def bug() -> str:
        raise ValueError("a bug in the tool, not bad input")

    @app.get("/test-only/undecodable")
    def undecodable() -> str:
        return "tök€n".encode("latin-1").decode()

    client = app.test_client()
    assert client.get("/test-only/malformed-url").status_code == 400
    assert client.get("/test-only/undecodable").status_code == 400
    assert client.get("/test-only/bug").status_code == 500
