"""The LMS emulator itself, driven over real HTTP the way a tool and a browser would drive a real LMS."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask import redirect
from flask import request
from joserfc import jws
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import DefaultCourse
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import ToolClient
from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform import create_platform_app


def new_rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex, "alg": "RS256", "use": "sig"},
                               private=True)


class FakeTool:
    """Just enough of a tool: OIDC login initiation, a launch endpoint that records posts, a JWKS."""

    def __init__(self) -> None:
        self.server = LiveServer()
        self.url = self.server.url
        self.keys = [new_rsa_key()]
        self.auth_endpoint = ""
        self.redirect_uri = f"{self.url}/launch"
        self.nonces: dict[str, str] = {}  # state -> nonce
        self.posts: list[dict[str, str]] = []
        self.server.start(self._app())

    @property
    def key(self) -> RSAKey:
        return self.keys[-1]

    def _app(self) -> Flask:
        app = Flask("fake_tool")

        @app.route("/login", methods=["GET", "POST"])
        def login() -> Any:
            state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
            self.nonces[state] = nonce
            query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
                     "prompt": "none", "client_id": request.values["client_id"],
                     "redirect_uri": self.redirect_uri, "login_hint": request.values["login_hint"],
                     "lti_message_hint": request.values["lti_message_hint"], "state": state, "nonce": nonce}
            return redirect(f"{self.auth_endpoint}?{urlencode(query)}")

        @app.post("/launch")
        def launch() -> str:
            self.posts.append(dict(request.form))
            return "launched"

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [key.as_dict(private=False) for key in self.keys]}

        return app

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        signing_key = key or self.key
        return jwt.encode({"alg": "RS256", "kid": signing_key.kid}, claims, signing_key)

    def client_assertion(self, client_id: str, audience: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 300,
                  "jti": uuid.uuid4().hex, **overrides}
        return self.sign(claims)


@dataclass
class Lms:
    emulator: PlatformEmulator
    url: str
    tool: FakeTool
    client: ToolClient
    course: DefaultCourse
    browser: FormBrowser = field(default_factory=FormBrowser)

    def launch(self, **kwargs: Any) -> dict[str, Any]:
        """Run a full launch through the browser and return the verified id_token claims."""
        kwargs.setdefault("sub", self.course.learner)
        url = self.emulator.begin_launch(self.client.client_id, context_id=self.course.context_id, **kwargs)
        response = self.browser.get(url)
        assert response.text == "launched", response.text
        return verify_with_platform_jwks(self.emulator.jwks_url, self.tool.posts[-1]["id_token"])

    def token(self, *scopes: str) -> str:
        response = request_token(self, self.tool.client_assertion(self.client.client_id, self.emulator.token_url),
                                 scopes)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def verify_with_platform_jwks(jwks_url: str, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(requests.get(jwks_url, timeout=5).json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def request_token(lms: Lms, assertion: str, scopes: tuple[str, ...]) -> requests.Response:
    return requests.post(lms.emulator.token_url, timeout=5, data={
        "grant_type": "client_credentials", "client_assertion_type": c.CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion, "scope": " ".join(scopes)})


@pytest.fixture
def start_lms() -> Iterator[Callable[..., Lms]]:
    with ExitStack() as stack:
        def start(flavor: str = "moodle") -> Lms:
            tool = FakeTool()
            stack.callback(tool.server.stop)
            server = stack.enter_context(LiveServer())
            emulator = PlatformEmulator(issuer="https://lms.example.edu", base_url=server.url,
                                        flavor=flavor)  # type: ignore[arg-type]
            server.set_app(create_platform_app(emulator))
            tool.auth_endpoint = emulator.auth_url
            client = emulator.register_tool("Fake tool", f"{tool.url}/login", f"{tool.url}/launch",
                                            f"{tool.url}/jwks", deep_link_url=f"{tool.url}/launch")
            return Lms(emulator, server.url, tool, client, emulator.add_default_course())

        yield start


@pytest.fixture
def lms(start_lms: Callable[..., Lms]) -> Lms:
    return start_lms("moodle")


# --- keys and configuration ------------------------------------------------------------------------------
def test_jwks_publishes_rs256_public_keys_with_kid(lms: Lms) -> None:
    response = requests.get(f"{lms.url}/jwks", timeout=5)
    (key,) = response.json()["keys"]
    assert key["kid"] == lms.emulator.keys.current_kid
    assert (key["alg"], key["use"], key["kty"]) == ("RS256", "sig", "RSA")
    assert "d" not in key
    assert "p" not in key
    assert response.headers["Cache-Control"] == "max-age=300"


def test_openid_configuration_builds_urls_from_base_url(lms: Lms) -> None:
    config = requests.get(f"{lms.url}/.well-known/openid-configuration", timeout=5).json()
    assert config["issuer"] == "https://lms.example.edu"
    assert config["token_endpoint"] == f"{lms.url}/token"
    assert config["registration_endpoint"] == f"{lms.url}/register"
    platform_config = config[c.PLATFORM_CONFIGURATION]
    assert platform_config["product_family_code"] == "moodle"
    assert {message["type"] for message in platform_config["messages_supported"]} == set(c.SUPPORTED_MESSAGES)


def test_rotate_key_publishes_old_and_new_keys_and_signs_with_new(lms: Lms) -> None:
    old_kid = lms.emulator.keys.current_kid
    new_kid = lms.emulator.rotate_key()
    kids = [key["kid"] for key in requests.get(f"{lms.url}/jwks", timeout=5).json()["keys"]]
    assert kids == [old_kid, new_kid]
    lms.launch(resource_link_id="link-1")
    assert jws.extract_compact(lms.tool.posts[-1]["id_token"].encode()).headers()["kid"] == new_kid
    lms.emulator.retire_old_keys()
    assert [key["kid"] for key in requests.get(f"{lms.url}/jwks", timeout=5).json()["keys"]] == [new_kid]


# --- launches --------------------------------------------------------------------------------------------
def test_resource_launch_delivers_a_verifiable_id_token_with_lti_claims(lms: Lms) -> None:
    claims = lms.launch(resource_link_id="link-1", with_lineitem=True, custom={"level": "B2"})
    posted = lms.tool.posts[-1]
    assert claims["nonce"] == lms.tool.nonces[posted["state"]]
    assert (claims["iss"], claims["aud"], claims["azp"]) == (
        "https://lms.example.edu", lms.client.client_id, lms.client.client_id)
    assert claims["sub"] == lms.course.learner
    assert claims[c.CLAIM_MESSAGE_TYPE] == c.MSG_RESOURCE_LINK
    assert claims[c.CLAIM_VERSION] == "1.3.0"
    assert claims[c.CLAIM_DEPLOYMENT_ID] == lms.client.deployment_id
    assert claims[c.CLAIM_ROLES] == [c.ROLE_LEARNER, c.ROLE_INST_STUDENT]
    assert claims[c.CLAIM_CONTEXT]["id"] == lms.course.context_id
    assert claims[c.CLAIM_RESOURCE_LINK]["id"] == "link-1"
    assert claims[c.CLAIM_CUSTOM] == {"level": "B2"}
    assert claims["given_name"] == "Alan"
    (item,) = lms.emulator.line_items_of(lms.course.context_id)
    ags = claims[c.CLAIM_AGS_ENDPOINT]
    assert ags["lineitem"] == f"{lms.url}/contexts/{lms.course.context_id}/lineitems/{item.id}"
    assert ags["lineitems"] == f"{lms.url}/contexts/{lms.course.context_id}/lineitems"
    assert c.SCOPE_SCORE in ags["scope"]
    assert claims[c.CLAIM_NRPS]["context_memberships_url"].startswith(lms.url)
    assert claims["exp"] - claims["iat"] == 300


def test_launch_endpoint_redirects_the_browser_to_the_tool_login(lms: Lms) -> None:
    query = {"client_id": lms.client.client_id, "user": lms.course.instructor,
             "context": lms.course.context_id, "resource_link": "link-9"}
    response = requests.get(f"{lms.url}/launch", params=query, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    params = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{lms.tool.url}/login"
    assert params["iss"] == "https://lms.example.edu"
    assert params["login_hint"] == lms.course.instructor
    assert params["lti_deployment_id"] == lms.client.deployment_id
    assert params["lti_message_hint"] in lms.emulator.launches


def test_auth_rejects_a_redirect_uri_the_tool_did_not_register(lms: Lms) -> None:
    lms.tool.redirect_uri = f"{lms.tool.url}/elsewhere"
    url = lms.emulator.begin_launch(lms.client.client_id, lms.course.learner, lms.course.context_id)
    response = lms.browser.get(url)
    assert response.status_code == 400
    assert "redirect_uri" in response.text
    assert lms.tool.posts == []


def test_auth_rejects_a_login_hint_for_another_user(lms: Lms) -> None:
    login_url = lms.emulator.begin_launch(lms.client.client_id, lms.course.learner, lms.course.context_id)
    params = {key: values[0] for key, values in parse_qs(urlsplit(login_url).query).items()}
    auth = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
            "client_id": lms.client.client_id, "redirect_uri": f"{lms.tool.url}/launch",
            "login_hint": lms.course.instructor, "lti_message_hint": params["lti_message_hint"],
            "state": "s", "nonce": "n"}
    rejected = requests.get(f"{lms.url}/auth", params=auth, timeout=5)
    assert rejected.status_code == 400
    accepted = requests.get(f"{lms.url}/auth", params={**auth, "login_hint": lms.course.learner}, timeout=5)
    assert accepted.status_code == 200
    (form,) = parse_forms(accepted.text, accepted.url)
    assert form.autosubmit
    assert form.action == f"{lms.tool.url}/launch"
    assert form.fields["state"] == "s"


def test_tamper_hook_is_one_shot_and_can_send_a_verbatim_token(lms: Lms) -> None:
    def expire(header: dict[str, Any], claims: dict[str, Any]) -> None:
        claims["exp"] = 1

    lms.emulator.tamper_next_id_token(expire)
    assert lms.launch()["exp"] == 1
    assert lms.launch()["exp"] > time.time()
    lms.emulator.tamper_next_id_token(lambda header, claims: "not.a.token")
    url = lms.emulator.begin_launch(lms.client.client_id, lms.course.learner, lms.course.context_id)
    lms.browser.get(url)
    assert lms.tool.posts[-1]["id_token"] == "not.a.token"


def test_deep_linking_launch_carries_settings_with_opaque_data(lms: Lms) -> None:
    claims = lms.launch(sub=lms.course.instructor, message_type=c.MSG_DEEP_LINKING)
    settings = claims[c.CLAIM_DL_SETTINGS]
    assert settings["deep_link_return_url"].startswith(f"{lms.url}/deep_link_return")
    assert settings["accept_types"] == ["ltiResourceLink"]
    assert settings["data"]
    assert c.CLAIM_RESOURCE_LINK not in claims


# --- token endpoint --------------------------------------------------------------------------------------
def test_token_endpoint_grants_requested_scopes_for_a_signed_assertion(lms: Lms) -> None:
    assertion = lms.tool.client_assertion(lms.client.client_id, f"{lms.url}/token")
    response = request_token(lms, assertion, (c.SCOPE_SCORE, "https://example.com/not-a-scope"))
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, c.SCOPE_SCORE)
    assert [record.status for record in lms.emulator.token_requests] == [200]


@pytest.mark.parametrize("attack", ["foreign_key", "wrong_audience", "expired", "replayed_jti"])
def test_token_endpoint_rejects_bad_assertions(lms: Lms, attack: str) -> None:
    client_id, audience = lms.client.client_id, f"{lms.url}/token"
    if attack == "foreign_key":
        assertion = lms.tool.sign({"iss": client_id, "sub": client_id, "aud": audience, "jti": "x",
                                   "exp": int(time.time()) + 60}, key=new_rsa_key())
    elif attack == "wrong_audience":
        assertion = lms.tool.client_assertion(client_id, "https://other.example/token")
    elif attack == "expired":
        assertion = lms.tool.client_assertion(client_id, audience, exp=int(time.time()) - 3600)
    else:
        assertion = lms.tool.client_assertion(client_id, audience, jti="same")
        assert request_token(lms, assertion, (c.SCOPE_SCORE,)).status_code == 200
        assertion = lms.tool.client_assertion(client_id, audience, jti="same")
    response = request_token(lms, assertion, (c.SCOPE_SCORE,))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_endpoint_requires_form_encoding(lms: Lms) -> None:
    assertion = lms.tool.client_assertion(lms.client.client_id, f"{lms.url}/token")
    response = requests.post(f"{lms.url}/token", timeout=5, json={
        "grant_type": "client_credentials", "client_assertion_type": c.CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion, "scope": c.SCOPE_SCORE})
    assert response.status_code == 400


def test_token_endpoint_refetches_tool_jwks_when_the_kid_is_unknown(lms: Lms) -> None:
    lms.token(c.SCOPE_SCORE)
    fetches = lms.emulator.tool_keys.fetch_count
    lms.tool.keys.append(new_rsa_key())
    lms.token(c.SCOPE_SCORE)
    assert lms.emulator.tool_keys.fetch_count == fetches + 1


def test_grade_sync_only_tools_get_no_lineitem_scope(lms: Lms) -> None:
    lms.emulator.set_can_manage_lineitems(lms.client.client_id, False)
    assertion = lms.tool.client_assertion(lms.client.client_id, f"{lms.url}/token")
    response = request_token(lms, assertion, (c.SCOPE_LINEITEM, c.SCOPE_SCORE))
    assert response.json()["scope"] == c.SCOPE_SCORE


# --- AGS -------------------------------------------------------------------------------------------------
def score(user_id: str, timestamp: str, given: float | None = 7,
          progress: str = "FullyGraded") -> dict[str, Any]:
    body: dict[str, Any] = {"userId": user_id, "timestamp": timestamp, "activityProgress": "Completed",
                            "gradingProgress": progress, "scoreMaximum": 10}
    if given is not None:
        body["scoreGiven"] = given
    return body


def post_score(lms: Lms, lineitem_url: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{lineitem_url}/scores", json=body, timeout=5, headers={
        "Authorization": f"Bearer {lms.token(c.SCOPE_SCORE)}", "Content-Type": c.MEDIA_SCORE})


def coupled_lineitem(lms: Lms) -> str:
    return str(lms.launch(resource_link_id="link-1", with_lineitem=True)[c.CLAIM_AGS_ENDPOINT]["lineitem"])


def test_moodle_refuses_a_score_not_newer_to_the_second_with_409(lms: Lms) -> None:
    lineitem_url, learner = coupled_lineitem(lms), lms.course.learner
    assert post_score(lms, lineitem_url, score(learner, "2024-05-01T10:00:00.100Z")).status_code == 200
    same_second = post_score(lms, lineitem_url, score(learner, "2024-05-01T10:00:00.900+00:00", given=9))
    assert (same_second.status_code, same_second.content) == (409, b"")
    assert post_score(lms, lineitem_url, score(learner, "2024-05-01T10:00:01Z", given=9)).status_code == 200
    grade = lms.emulator.gradebook(lms.course.context_id)[lineitem_url.rsplit("/", 1)[1]][learner]
    assert grade["score"] == pytest.approx(90.0)  # 9/10 rescaled to the coupled line item's 100
    assert [post.status for post in lms.emulator.score_posts] == [200, 409, 200]


def test_canvas_refuses_only_an_earlier_timestamp_and_keeps_submission_data(
        start_lms: Callable[..., Lms]) -> None:
    lms = start_lms("canvas")
    lineitem_url, learner = coupled_lineitem(lms), lms.course.learner
    assert post_score(lms, lineitem_url, score(learner, "2024-05-01T10:00:00.100Z")).status_code == 200
    later = {**score(learner, "2024-05-01T10:00:00.900Z"),
             c.CLAIM_CANVAS_SUBMISSION: {"submission_type": "x"}}
    response = post_score(lms, lineitem_url, later)
    assert response.status_code == 200
    assert response.json()["resultUrl"].startswith(lineitem_url)
    grade = lms.emulator.gradebook(lms.course.context_id)[lineitem_url.rsplit("/", 1)[1]][learner]
    assert grade["submission"] == {"submission_type": "x"}
    # Canvas compares "updated_at > timestamp": the same timestamp again is taken, an earlier one is not.
    assert post_score(lms, lineitem_url, score(learner, "2024-05-01T10:00:00.900Z")).status_code == 200
    stale = post_score(lms, lineitem_url, score(learner, "2024-05-01T10:00:00.899Z"))
    assert stale.status_code == 400  # Canvas's words and status, not Moodle's 409
    assert stale.json()["errors"]["message"] == ("Provided timestamp of 2024-05-01T10:00:00.899Z before last "
                                                 "updated timestamp of 2024-05-01T10:00:00.900+00:00")


@pytest.mark.parametrize(("flavor", "status"), [("moodle", 400), ("canvas", 422)])
def test_scores_for_non_learners_are_refused(start_lms: Callable[..., Lms], flavor: str, status: int) -> None:
    lms = start_lms(flavor)
    lineitem_url = coupled_lineitem(lms)
    response = post_score(lms, lineitem_url, score(lms.course.instructor, "2024-05-01T10:00:00Z"))
    assert response.status_code == status
    assert lms.emulator.gradebook(lms.course.context_id) == {}


@pytest.mark.parametrize("broken", [{"timestamp": None}, {"scoreGiven": "7"}, {"activityProgress": "Done"},
                                    {"timestamp": "yesterday"}])
def test_moodle_refuses_incorrect_scores(lms: Lms, broken: dict[str, Any]) -> None:
    response = post_score(lms, coupled_lineitem(lms), {**score(lms.course.learner, "2024-05-01T10:00:00Z"),
                                                       **broken})
    assert response.status_code == 400
    assert "Incorrect score received" in response.text


def test_pending_scores_are_stored_without_a_grade(lms: Lms) -> None:
    lineitem_url = coupled_lineitem(lms)
    body = score(lms.course.learner, "2024-05-01T10:00:00Z", given=7, progress="PendingManual")
    assert post_score(lms, lineitem_url, body).status_code == 200
    grades = lms.emulator.gradebook(lms.course.context_id)[lineitem_url.rsplit("/", 1)[1]]
    assert grades[lms.course.learner]["score"] is None
    assert grades[lms.course.learner]["gradingProgress"] == "PendingManual"


def test_lineitems_can_be_created_filtered_paged_and_deleted(lms: Lms) -> None:
    lms.launch(resource_link_id="link-1")
    headers = {"Authorization": f"Bearer {lms.token(c.SCOPE_LINEITEM)}", "Content-Type": c.MEDIA_LINEITEM}
    container = f"{lms.url}/contexts/{lms.course.context_id}/lineitems"
    for tag in ("a", "b", "b"):
        created = requests.post(container, headers=headers, timeout=5, json={
            "label": f"Test {tag}", "scoreMaximum": 5, "tag": tag, "resourceLinkId": "link-1"})
        assert created.status_code == 201
        assert created.headers["Content-Type"] == c.MEDIA_LINEITEM
    tagged = requests.get(container, params={"tag": "b"}, headers=headers, timeout=5).json()
    assert [item["tag"] for item in tagged] == ["b", "b"]
    first = requests.get(container, params={"limit": 2}, headers=headers, timeout=5)
    assert len(first.json()) == 2
    second = requests.get(first.links["next"]["url"], headers=headers, timeout=5)
    assert len(second.json()) == 1
    assert "next" not in second.links
    assert requests.delete(tagged[0]["id"], headers=headers, timeout=5).status_code == 204
    assert requests.get(tagged[0]["id"], headers=headers, timeout=5).status_code == 404
    unknown_link = requests.post(container, headers=headers, timeout=5,
                                 json={"label": "x", "scoreMaximum": 1, "resourceLinkId": "nope"})
    assert unknown_link.status_code == 400


def test_services_need_a_bearer_token_with_the_right_scope(lms: Lms) -> None:
    container = f"{lms.url}/contexts/{lms.course.context_id}/lineitems"
    assert requests.get(container, timeout=5).status_code == 401
    score_only = {"Authorization": f"Bearer {lms.token(c.SCOPE_SCORE)}"}
    assert requests.get(container, headers=score_only, timeout=5).status_code == 401
    lms.emulator.expire_access_tokens()
    readonly = {"Authorization": f"Bearer {lms.token(c.SCOPE_LINEITEM_READONLY)}"}
    assert requests.get(container, headers=readonly, timeout=5).status_code == 200


# --- NRPS ------------------------------------------------------------------------------------------------
def test_memberships_page_with_a_case_sensitive_cursor(lms: Lms) -> None:
    for number in range(5):
        lms.emulator.add_user(f"extra-{number}", "Extra", str(number))
        lms.emulator.enrol(lms.course.context_id, f"extra-{number}", [c.ROLE_LEARNER])
    headers = {"Authorization": f"Bearer {lms.token(c.SCOPE_NRPS)}"}
    url: str | None = f"{lms.url}/contexts/{lms.course.context_id}/memberships?limit=3"
    seen: list[str] = []
    next_urls: list[str] = []
    while url:
        page = requests.get(url, headers=headers, timeout=5)
        assert page.status_code == 200
        assert page.headers["Content-Type"] == c.MEDIA_MEMBERSHIP_CONTAINER
        seen += [member["user_id"] for member in page.json()["members"]]
        url = page.links.get("next", {}).get("url")
        next_urls += [url] if url else []
    everyone = [lms.course.instructor, lms.course.learner, *(f"extra-{n}" for n in range(5))]
    assert sorted(seen) == sorted(everyone)
    assert len(next_urls) == 2
    cursor = parse_qs(urlsplit(next_urls[0]).query)["cursor"][0]
    assert cursor != cursor.lower()
    assert requests.get(next_urls[0].lower(), headers=headers, timeout=5).status_code == 400


# --- deep linking ----------------------------------------------------------------------------------------
def deep_link_response(lms: Lms, settings: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": lms.client.client_id, "aud": "https://lms.example.edu", "nonce": "n1", "iat": now,
            "exp": now + 300, c.CLAIM_MESSAGE_TYPE: c.MSG_DEEP_LINKING_RESPONSE, c.CLAIM_VERSION: "1.3.0",
            c.CLAIM_DEPLOYMENT_ID: lms.client.deployment_id, c.CLAIM_DL_DATA: settings["data"],
            c.CLAIM_DL_CONTENT_ITEMS: [{
                "type": "ltiResourceLink", "title": "Speaking test 1", "url": f"{lms.tool.url}/launch",
                "lineItem": {"scoreMaximum": 25, "label": "Speaking", "tag": "oral"}}],
            **overrides}


def test_deep_link_return_verifies_the_response_and_creates_a_graded_link(lms: Lms) -> None:
    settings = lms.launch(sub=lms.course.instructor, message_type=c.MSG_DEEP_LINKING)[c.CLAIM_DL_SETTINGS]
    token = lms.tool.sign(deep_link_response(lms, settings))
    response = requests.post(settings["deep_link_return_url"], data={"JWT": token}, timeout=5)
    assert response.status_code == 200, response.text
    (result,) = lms.emulator.deep_link_results
    (created,) = result["created"]
    item = lms.emulator.line_items[created["lineitem_id"]]
    assert (item.score_maximum, item.label, item.tag, item.resource_link_id) == (
        25, "Speaking", "oral", created["resource_link_id"])
    assert created["resource_link_id"] in response.text
    relaunch = lms.launch(resource_link_id=created["resource_link_id"])
    assert relaunch[c.CLAIM_AGS_ENDPOINT]["lineitem"].endswith(f"/lineitems/{item.id}")


@pytest.mark.parametrize("defect", ["wrong_data", "foreign_key", "wrong_audience", "wrong_message_type"])
def test_deep_link_return_refuses_untrustworthy_responses(lms: Lms, defect: str) -> None:
    settings = lms.launch(sub=lms.course.instructor, message_type=c.MSG_DEEP_LINKING)[c.CLAIM_DL_SETTINGS]
    claims = deep_link_response(lms, settings)
    key = new_rsa_key() if defect == "foreign_key" else None
    if defect == "wrong_data":
        claims[c.CLAIM_DL_DATA] = "forged"
    elif defect == "wrong_audience":
        claims["aud"] = "https://elsewhere.example"
    elif defect == "wrong_message_type":
        claims[c.CLAIM_MESSAGE_TYPE] = c.MSG_RESOURCE_LINK
    token = lms.tool.sign(claims, key)
    response = requests.post(settings["deep_link_return_url"], data={"JWT": token}, timeout=5)
    assert response.status_code == 400
    assert lms.emulator.deep_link_results == []


# --- dynamic registration --------------------------------------------------------------------------------
def registration_body(tool_url: str) -> dict[str, Any]:
    host = urlsplit(tool_url).netloc
    return {"application_type": "web", "response_types": ["id_token"],
            "grant_types": ["implicit", "client_credentials"], "initiate_login_uri": f"{tool_url}/login",
            "redirect_uris": [f"{tool_url}/launch"], "client_name": "Registered tool",
            "jwks_uri": f"{tool_url}/jwks", "token_endpoint_auth_method": "private_key_jwt",
            "scope": f"{c.SCOPE_SCORE} {c.SCOPE_NRPS} https://example.com/unsupported",
            c.TOOL_CONFIGURATION: {"domain": host, "target_link_uri": f"{tool_url}/launch", "claims": ["iss"],
                                   "messages": [{"type": c.MSG_DEEP_LINKING}]}}


def test_dynamic_registration_round_trip_with_a_single_use_token(lms: Lms) -> None:
    start = urlsplit(lms.emulator.begin_dynamic_registration(f"{lms.tool.url}/register?lang=en"))
    params = {key: values[0] for key, values in parse_qs(start.query).items()}
    assert params["lang"] == "en"
    config = requests.get(params["openid_configuration"], timeout=5).json()
    endpoint, body = config["registration_endpoint"], registration_body(lms.tool.url)
    missing = requests.post(endpoint, json=body, timeout=5)
    assert (missing.status_code, missing.json()["error"]) == (401, "missing_registration_token")
    auth = {"Authorization": f"Bearer {params['registration_token']}"}
    invalid = requests.post(endpoint, json={**body, "application_type": "native"}, headers=auth, timeout=5)
    assert invalid.status_code == 400
    response = requests.post(endpoint, json=body, headers=auth, timeout=5)
    assert response.status_code == 200, response.text
    answer = response.json()
    tool = lms.emulator.tools[answer["client_id"]]
    assert answer[c.TOOL_CONFIGURATION]["deployment_id"] == tool.deployment_id
    assert tool.scopes == [c.SCOPE_SCORE, c.SCOPE_NRPS]
    assert answer["scope"] == f"{c.SCOPE_SCORE} {c.SCOPE_NRPS}"
    assert tool.deep_link_url == f"{lms.tool.url}/launch"
    assert requests.post(endpoint, json=body, headers=auth, timeout=5).status_code == 401


# --- fault injection -------------------------------------------------------------------------------------
def test_injected_failures_and_outages_hit_the_services(lms: Lms) -> None:
    lms.emulator.fail_next("/token", 500, body="boom")
    assertion = lms.tool.client_assertion(lms.client.client_id, f"{lms.url}/token")
    failed = request_token(lms, assertion, (c.SCOPE_NRPS,))
    assert (failed.status_code, failed.text) == (500, "boom")
    token = lms.token(c.SCOPE_NRPS)
    assert [record.status for record in lms.emulator.token_requests] == [500, 200]
    memberships = f"{lms.url}/contexts/{lms.course.context_id}/memberships"
    bearer = {"Authorization": f"Bearer {token}"}
    lms.emulator.set_down(True)
    assert requests.get(memberships, headers=bearer, timeout=5).status_code == 503
    assert requests.get(f"{lms.url}/jwks", timeout=5).status_code == 200
    lms.emulator.set_down(False)
    assert requests.get(memberships, headers=bearer, timeout=5).status_code == 200


# --- sandbox plumbing ------------------------------------------------------------------------------------
def test_live_server_knows_its_url_before_the_app_exists() -> None:
    server = LiveServer()
    try:
        app = Flask("late")
        app.add_url_rule("/", "index", lambda: server.url)
        server.start(app)
        assert requests.get(server.url, timeout=5).text == server.url
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url, timeout=2)


def test_parse_forms_reads_fields_and_resolves_actions() -> None:
    html = """<form action="/next" method="POST" id="x-autosubmit">
    <input type="hidden" name="a" value="1&amp;2">
    <input type="checkbox" name="unchecked"><input type="checkbox" name="checked" checked>
    <textarea name="t">hello</textarea>
    <select name="s"><option value="o1"><option value="o2" selected></select>
    <input type="submit" name="go" value="Go"></form><form><input name="b" value="2"></form>"""
    first, second = parse_forms(html, "http://host/page?q=1")
    assert (first.action, first.method, first.autosubmit) == ("http://host/next", "post", True)
    assert first.fields == {"a": "1&2", "checked": "on", "t": "hello", "s": "o2"}
    assert (second.action, second.method, second.autosubmit, second.fields) == (
        "http://host/page?q=1", "get", False, {"b": "2"})
