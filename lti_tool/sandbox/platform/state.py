"""In-memory state of the emulated LMS: configuration, registries (tools, courses, people) and fault knobs.

Everything lives in process memory behind one re-entrant lock: this is a test/demo stand-in, not a store.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.jwk import OctKey

from lti_tool.sandbox.platform.constants import SERVICE_SCOPES
from lti_tool.sandbox.platform.keys import KeyRing
from lti_tool.sandbox.platform.models import AccessToken
from lti_tool.sandbox.platform.models import Context
from lti_tool.sandbox.platform.models import Flavor
from lti_tool.sandbox.platform.models import GradeRecord
from lti_tool.sandbox.platform.models import LineItem
from lti_tool.sandbox.platform.models import PendingLaunch
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import ResourceLink
from lti_tool.sandbox.platform.models import ScorePost
from lti_tool.sandbox.platform.models import TokenRequest
from lti_tool.sandbox.platform.models import ToolClient
from lti_tool.sandbox.platform.models import User
from lti_tool.sandbox.platform.tool_keys import ToolKeyCache

PRODUCT_VERSIONS = {"moodle": "4.5", "canvas": "cloud"}
# Where each LMS serves its OIDC auth, token and key endpoints. Moodle: its own site. Canvas: a separate OIDC auth
# domain (sso.canvaslms.com) shared by all schools, emulated as ``auth_base_url`` (by default a path on this
# server standing for that host).
ENDPOINT_PATHS = {
    "moodle": {"auth": "/auth", "token": "/token", "jwks": "/jwks"},
    "canvas": {"auth": "/api/lti/authorize_redirect", "token": "/login/oauth2/token", "jwks": "/api/lti/security/jwks"},
}
CANVAS_AUTH_HOST_PATH = "/sso"
CANVAS_ACCOUNT_NAME = "Sandbox Community College"


@dataclass
class InjectedFailure:
    path_substring: str
    status: int
    remaining: int
    body: str


class PlatformState:
    """Shared state and registries; services and the public facade (PlatformEmulator) build on it."""

    def __init__(self, issuer: str, base_url: str, flavor: Flavor = "moodle", auth_base_url: str | None = None) -> None:
        if flavor not in PRODUCT_VERSIONS:
            raise ValueError(f"unknown flavor {flavor!r}")
        self.issuer = issuer
        self.base_url = base_url.rstrip("/")
        self.flavor: Flavor = flavor
        # Fixed when the LMS is built (a test may switch ``flavor`` later; the URLs the tool stored stay valid).
        default_auth = self.base_url + (CANVAS_AUTH_HOST_PATH if flavor == "canvas" else "")
        self.auth_base_url = (auth_base_url or default_auth).rstrip("/")
        self.endpoints = {name: self.auth_base_url + path for name, path in ENDPOINT_PATHS[flavor].items()}
        self.account_name: str | None = CANVAS_ACCOUNT_NAME if flavor == "canvas" else None
        self.platform_guid = hashlib.sha256(issuer.encode()).hexdigest()[:32]
        self.platform_name = f"{flavor.capitalize()} Emulator"
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = time.time
        self.keys = KeyRing()
        self.tool_keys = ToolKeyCache()
        self.tools: dict[str, ToolClient] = {}
        self.contexts: dict[str, Context] = {}
        self.users: dict[str, User] = {}
        self.enrolments: dict[str, dict[str, list[str]]] = {}
        self.resource_links: dict[str, ResourceLink] = {}
        self.line_items: dict[str, LineItem] = {}
        self.grades: dict[str, dict[str, GradeRecord]] = {}
        self.launches: dict[str, PendingLaunch] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        # Observable by tests: what the LMS saw and did.
        self.events: list[str] = []
        self.token_requests: list[TokenRequest] = []
        self.score_posts: list[ScorePost] = []
        self.deep_link_results: list[dict[str, Any]] = []
        # Knobs for tests.
        self.token_lifetime = 3600
        self.delay_seconds = 0.0
        self.down = False  # the outage switch: every token and service request gets 503
        self.down_retry_after: int | None = 5  # seconds, sent as Retry-After while down (None: no header)
        self.requests_while_down = 0  # what a down LMS received (its access log, as counted by an operator)
        self.id_token_aud_as_list = False
        # Moodle keeps the launch's lti_message_hint in one session slot and clears it at the first /auth: a second
        # authorization request with the same hint gets "Invalid request". Canvas's hint is a signed JWT valid for
        # five minutes, but the launch it names is fetched and deleted at the first /authorize: the second gets
        # "launch_no_longer_valid". Both are single use.
        self.single_use_message_hint = True
        self.message_hint_key = OctKey.import_key(secrets.token_bytes(32))  # Canvas signs its hints (HS256)
        # Platform storage (LTI client-side postMessages), as Canvas offers it: the login and the launch carry
        # lti_storage_target, and the LMS page holds a sibling frame of that name answering lti.* messages.
        self.platform_storage = False
        # The user's language the LMS sends in every launch (launch_presentation.locale): "es-MX", "ar" ...
        self.locale = "en"
        self._failures: list[InjectedFailure] = []
        self._line_item_counter = 0

    # --- helpers -------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL from base_url, never from the request host: tools store these URLs."""
        return self.base_url + path

    def now(self) -> float:
        return self.clock()

    def log(self, message: str) -> None:
        with self.lock:
            self.events.append(message)

    def tool(self, client_id: str) -> ToolClient:
        tool = self.tools.get(client_id)
        if tool is None:
            raise PlatformError(400, f"unknown client_id {client_id!r}", "invalid_client")
        return tool

    def context(self, context_id: str) -> Context:
        context = self.contexts.get(context_id)
        if context is None:
            raise PlatformError(404, f"unknown context {context_id!r}")
        return context

    def tool_origins(self) -> list[str]:
        """The origins of the registered tools' login URLs: who may use platform storage."""
        with self.lock:
            urls = [tool.oidc_initiation_url for tool in self.tools.values()]
        return sorted({f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in urls})

    @property
    def auth_url(self) -> str:
        return self.endpoints["auth"]

    @property
    def token_url(self) -> str:
        return self.endpoints["token"]

    @property
    def jwks_url(self) -> str:
        return self.endpoints["jwks"]

    def lineitem_url(self, item: LineItem) -> str:
        return self.url(f"/contexts/{item.context_id}/lineitems/{item.id}")

    # --- registries ----------------------------------------------------------------------------------
    def register_tool(self, name: str, oidc_initiation_url: str, target_link_uri: str, jwks_uri: str,
                      redirect_uris: list[str] | None = None, deep_link_url: str | None = None) -> ToolClient:
        deployment_id = secrets.token_hex(4)
        tool = ToolClient(client_id=secrets.token_urlsafe(12), deployment_id=deployment_id, name=name,
                          oidc_initiation_url=oidc_initiation_url, target_link_uri=target_link_uri,
                          jwks_uri=jwks_uri, redirect_uris=list(redirect_uris or [target_link_uri]),
                          deep_link_url=deep_link_url, deployment_ids=[deployment_id],
                          scopes=list(SERVICE_SCOPES))
        with self.lock:
            self.tools[tool.client_id] = tool
        self.log(f"tool registered: {name} client_id={tool.client_id} deployment_id={deployment_id}")
        return tool

    def add_deployment(self, client_id: str) -> str:
        deployment_id = secrets.token_hex(4)
        with self.lock:
            self.tool(client_id).deployment_ids.append(deployment_id)
        self.log(f"deployment {deployment_id} added for {client_id}")
        return deployment_id

    def add_context(self, context_id: str, title: str, label: str) -> Context:
        context = Context(id=context_id, title=title, label=label)
        with self.lock:
            self.contexts[context_id] = context
            self.enrolments.setdefault(context_id, {})
        return context

    def add_user(self, sub: str, given_name: str | None = None, family_name: str | None = None,
                 name: str | None = None, email: str | None = None) -> User:
        full_name = name or " ".join(part for part in (given_name, family_name) if part) or None
        user = User(sub=sub, given_name=given_name, family_name=family_name, name=full_name, email=email)
        with self.lock:
            self.users[sub] = user
        return user

    def set_locale(self, sub: str, locale: str) -> None:
        """The user's language preference (their profile's language in Moodle, Canvas's user locale)."""
        with self.lock:
            if sub not in self.users:
                raise PlatformError(400, f"unknown user {sub!r}")
            self.users[sub].locale = locale

    def enrol(self, context_id: str, sub: str, roles: list[str]) -> None:
        with self.lock:
            self.context(context_id)
            if sub not in self.users:
                raise PlatformError(400, f"unknown user {sub!r}")
            self.enrolments[context_id][sub] = list(roles)

    def create_line_item(self, item: LineItem) -> LineItem:
        """Store a line item under a fresh id (Moodle-like small integers, as strings)."""
        with self.lock:
            self._line_item_counter += 1
            item.id = str(self._line_item_counter)
            self.line_items[item.id] = item
        self.log(f"line item {item.id} created in {item.context_id}: {item.label!r} max={item.score_maximum}")
        return item

    # --- fault injection -----------------------------------------------------------------------------
    def fail_next(self, path_substring: str, status: int, times: int = 1, body: str = "") -> None:
        with self.lock:
            self._failures.append(InjectedFailure(path_substring, status, times, body))

    def take_injected_failure(self, path: str) -> InjectedFailure | None:
        with self.lock:
            for failure in self._failures:
                if failure.path_substring in path and failure.remaining > 0:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    self.events.append(f"injected {failure.status} on {path}")
                    return failure
        return None

    def record_token_request(self, record: TokenRequest) -> None:
        with self.lock:
            self.token_requests.append(record)
