"""Per provider, what the contract needs to drive it: set up an activity, start the test as a learner, and make
callbacks — valid, forged, repeated and corrected — the way the provider (its sandbox emulator) sends them."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.activities import create_activity
from lti_tool.sandbox.browser import FormBrowser


@dataclass
class Answer:
    """A callback's answer as the provider saw it."""

    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Adapter:
    """Drive one provider. ``start`` launches the learner (no line item in the launch: the tool asks the LMS for
    it, after binding the link to its activity) and returns the page; the callbacks return the tool's answer."""

    name: str
    connected: Any
    activity_public_id: str
    start_page: Callable[[Adapter], requests.Response]
    callback: Callable[[Adapter, float], Answer]
    forged: Callable[[Adapter], Answer]
    duplicate: Callable[[Adapter], Answer]
    scale: float = 1.0
    state: dict[str, Any] = field(default_factory=dict)

    def provider(self, request: pytest.FixtureRequest) -> Any:
        """The provider as the running tool has it."""
        return request.getfixturevalue("app").extensions["lti_tool.services"].providers[self.name]

    def component_labels(self, request: pytest.FixtureRequest) -> dict[str, str]:
        """The provider's labels of its score components, as the running tool has them."""
        app = request.getfixturevalue("app")
        return dict(app.extensions["lti_tool.services"].providers[self.name].component_labels)

    def start(self) -> requests.Response:
        return self.start_page(self)

    def launch(self, browser: FormBrowser | None = None) -> requests.Response:
        return (browser or FormBrowser()).get(self.connected.launch_url(custom={"activity": self.activity_public_id}))


def _answer(status: int | None, text: str | None) -> Answer:
    return Answer(status=status or 0, text=text or "")


# --- Speechace: the emulator's session posts the documented body to the signed URL the tool gave it ----------

def speechace(request: pytest.FixtureRequest) -> Adapter:
    setup = request.getfixturevalue("speechace_setup")
    connected = request.getfixturevalue("connected")

    def start(adapter: Adapter) -> requests.Response:
        page = adapter.launch()
        adapter.state["token"] = setup.emulator.session_for_user(connected.course.learner).token
        return page

    def callback(adapter: Adapter, value: float) -> Answer:
        scores = {"overall": value, "pronunciation": value, "fluency": value, "vocab": value, "grammar": value}
        sent = setup.emulator.complete(adapter.state["token"], scores=scores)
        adapter.state["last"] = len(setup.emulator.callbacks_sent) - 1
        return _answer(sent.status, sent.response_text)

    def forged(adapter: Adapter) -> Answer:
        original = setup.emulator.callbacks_sent[adapter.state["last"]]
        body = json.loads(original.body)
        body["userId"] = "someone-else"  # the signed URL names another learner
        sent = setup.emulator.post_raw(original.url, json.dumps(body).encode())
        return _answer(sent.status, sent.response_text)

    def duplicate(adapter: Adapter) -> Answer:
        sent = setup.emulator.resend(adapter.state["last"])
        return _answer(sent.status, sent.response_text)

    return Adapter("speechace", connected, setup.activity_public_id, start, callback, forged, duplicate, scale=9.0)


# --- iTEP: a test ID from the fulfillment emulator, results through its webhook -------------------------------

def itep(request: pytest.FixtureRequest) -> Adapter:
    setup = request.getfixturevalue("itep_setup")
    connected = request.getfixturevalue("connected")

    def start(adapter: Adapter) -> requests.Response:
        page = adapter.launch()
        found = re.search(r'data-testid="test-id">([^<]+)<', page.text)
        adapter.state["test_id"] = found.group(1) if found else None
        return page

    def callback(adapter: Adapter, value: float) -> Answer:
        rescored = adapter.state.get("sent", 0)
        sent = setup.emulator.fire_webhook(adapter.state["test_id"], status="Complete", overall_level=f"{value:g}",
                                           overrides={"TestDate": f"6/{10 + rescored}/2026"})
        adapter.state["sent"] = rescored + 1
        adapter.state["last"] = len(setup.emulator.webhooks_sent) - 1
        return _answer(sent.status, sent.response_text)

    def forged(adapter: Adapter) -> Answer:
        original = setup.emulator.webhooks_sent[adapter.state["last"]]
        sent = setup.emulator.post_raw_webhook(f"{connected.tool_url}/callbacks/itep?account={setup.account_pk}",
                                               {"data": original.data}, headers={"X-iTEP-Token": "guessed"})
        return _answer(sent.status, sent.response_text)

    def duplicate(adapter: Adapter) -> Answer:
        sent = setup.emulator.resend_webhook(adapter.state["last"])
        return _answer(sent.status, sent.response_text)

    return Adapter("itep", connected, setup.gtx_activity, start, callback, forged, duplicate, scale=6.0)


# --- echo (tests/providers/echo_provider.py): the test page's callback URL is in the iframe's src -------------

def echo(request: pytest.FixtureRequest) -> Adapter:
    connected = request.getfixturevalue("connected")
    database = request.getfixturevalue("database")
    app = request.getfixturevalue("app")
    provider = app.extensions["lti_tool.services"].providers["echo"]
    with database.session() as session:
        assessment = provider.create_assessment(session, "Echo test", {"page_url": "https://echo.example/test"},
                                                None)
        activity = create_activity(session, assessment, "Echo activity")
        activity_public_id = activity.public_id

    def start(adapter: Adapter) -> requests.Response:
        page = adapter.launch()
        src = html.unescape(re.search(r'<iframe[^>]*src="([^"]+)"', page.text).group(1))
        adapter.state["callback"] = parse_qs(urlsplit(src).query)["callback"][0]
        return page

    def post(url: str, body: dict[str, Any]) -> Answer:
        answer = requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10)
        return Answer(answer.status_code, answer.text)

    def callback(adapter: Adapter, value: float) -> Answer:
        adapter.state["body"] = {"id": f"echo-{adapter.state.get('n', 0)}", "score": value}
        adapter.state["n"] = adapter.state.get("n", 0) + 1
        return post(adapter.state["callback"], adapter.state["body"])

    def forged(adapter: Adapter) -> Answer:
        url = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 64, adapter.state["callback"])
        return post(url, {"id": "forged", "score": 10})

    def duplicate(adapter: Adapter) -> Answer:
        return post(adapter.state["callback"], adapter.state["body"])

    return Adapter("echo", connected, activity_public_id, start, callback, forged, duplicate, scale=10.0)


ADAPTERS: dict[str, Callable[[pytest.FixtureRequest], Adapter]] = {"speechace": speechace, "itep": itep,
                                                                    "echo": echo}
