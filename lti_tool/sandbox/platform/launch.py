"""Launch flow: the LMS starts a launch (login initiation), then answers the tool's OIDC auth request."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform.id_token import build_id_token_claims
from lti_tool.sandbox.platform.models import LineItem
from lti_tool.sandbox.platform.models import PendingLaunch
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import ResourceLink
from lti_tool.sandbox.platform.models import ToolClient
from lti_tool.sandbox.platform.state import PlatformState

# Canvas's MESSAGE_HINT_LIFESPAN and its cached launch's TTL: five minutes.
CANVAS_MESSAGE_HINT_SECONDS = 300
CANVAS_CONSUMED_LAUNCH = {"error": "launch_no_longer_valid",
                          "error_description": "The launch has either expired or already been consumed"}

IdTokenTamper = Callable[[dict[str, Any], dict[str, Any]], "str | None"]


@dataclass
class AuthorizationResult:
    """What the LMS posts back to the tool: an auto-submitting form with id_token and state, or (Canvas) with an
    OIDC error and state instead of the id_token."""

    redirect_uri: str
    id_token: str
    state: str
    error: dict[str, str] | None = None

    def fields(self) -> dict[str, str]:
        return {**self.error, "state": self.state} if self.error else {"id_token": self.id_token, "state": self.state}


@dataclass
class LaunchRequest:
    client_id: str
    sub: str
    context_id: str
    resource_link_id: str | None = None
    message_type: str = c.MSG_RESOURCE_LINK
    deployment_id: str | None = None
    custom: dict[str, str] | None = None
    roles: list[str] | None = None
    lineitem: str | None = None
    with_lineitem: bool = False
    resource_link_title: str | None = None
    target_link_uri: str | None = None
    extra_claims: dict[str, Any] | None = None
    # Submission Review: whose submission the launching user reviews (the for_user claim).
    for_user: str | None = None


def with_query(url: str, params: Mapping[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


class LaunchService:
    def __init__(self, state: PlatformState) -> None:
        self.state = state
        self._tamper: IdTokenTamper | None = None

    def tamper_next_id_token(self, fn: IdTokenTamper) -> None:
        with self.state.lock:
            self._tamper = fn

    # --- step 1: the user clicks a link in the LMS ---------------------------------------------------
    def begin(self, request: LaunchRequest) -> str:
        state = self.state
        with state.lock:
            tool = state.tool(request.client_id)
            deployment_id = request.deployment_id or tool.deployment_id
            if deployment_id not in tool.deployment_ids:
                raise PlatformError(400, f"deployment {deployment_id!r} does not belong to {tool.client_id}")
            state.context(request.context_id)
            if request.sub not in state.users:
                raise PlatformError(400, f"unknown user {request.sub!r}")
            roles = request.roles if request.roles is not None else self._enrolled_roles(request)
            launch = PendingLaunch(
                message_hint=self._message_hint(request.context_id),
                login_hint=request.sub if state.flavor == "moodle" else secrets.token_hex(20),
                client_id=tool.client_id, deployment_id=deployment_id, sub=request.sub,
                context_id=request.context_id, message_type=request.message_type, roles=roles,
                custom=dict(request.custom or {}), extra_claims=dict(request.extra_claims or {}))
            if request.message_type in (c.MSG_RESOURCE_LINK, c.MSG_SUBMISSION_REVIEW):
                self._attach_resource_link(launch, request, tool)
                if request.message_type == c.MSG_SUBMISSION_REVIEW:
                    self._attach_reviewed_user(launch, request)
            elif request.message_type == c.MSG_DEEP_LINKING:
                launch.target_link_uri = request.target_link_uri or tool.deep_link_url or tool.target_link_uri
                launch.deep_link_data = "dl-" + secrets.token_urlsafe(12)
            else:
                raise PlatformError(400, f"unsupported message_type {request.message_type!r}")
            state.launches[launch.message_hint] = launch
        state.log(f"launch started: {launch.message_type} user={launch.sub} context={launch.context_id} "
                  f"client={launch.client_id} hint={launch.message_hint}")
        return with_query(tool.oidc_initiation_url, self._login_params(launch))

    def _message_hint(self, context_id: str) -> str:
        """Moodle: an opaque id. Canvas (lti_advantage_adapter.rb): a JWT signed with Canvas's own secret, naming the
        cached launch (its verifier) and the course, valid for five minutes."""
        if self.state.flavor != "canvas":
            return secrets.token_urlsafe(16)
        claims = {"verifier": secrets.token_hex(64), "canvas_domain": urlsplit(self.state.base_url).netloc,
                  "context_type": "Course", "context_id": context_id,
                  "exp": int(self.state.now()) + CANVAS_MESSAGE_HINT_SECONDS}
        return jwt.encode({"alg": "HS256"}, claims, self.state.message_hint_key)

    def _enrolled_roles(self, request: LaunchRequest) -> list[str]:
        roles = self.state.enrolments[request.context_id].get(request.sub)
        if roles is None:
            raise PlatformError(400, f"user {request.sub!r} is not enrolled in {request.context_id!r}")
        return list(roles)

    def _attach_resource_link(self, launch: PendingLaunch, request: LaunchRequest, tool: ToolClient) -> None:
        state = self.state
        link_id = request.resource_link_id or "rl-" + secrets.token_hex(6)
        link = state.resource_links.get(link_id)
        if link is None:
            # A real LMS created the link when the teacher added the activity; do it now.
            link = ResourceLink(id=link_id, context_id=request.context_id, client_id=tool.client_id,
                                title=request.resource_link_title or f"Activity {link_id}")
            state.resource_links[link_id] = link
        elif link.context_id != request.context_id or link.client_id != tool.client_id:
            raise PlatformError(400, f"resource link {link_id!r} belongs to another course or tool")
        if request.with_lineitem and link.lineitem_id is None:
            link.lineitem_id = state.create_line_item(LineItem(
                id="", context_id=link.context_id, client_id=link.client_id, label=link.title,
                score_maximum=100.0, resource_link_id=link.id)).id
        launch.resource_link_id = link.id
        launch.custom = {**link.custom, **launch.custom}
        launch.target_link_uri = request.target_link_uri or link.url or tool.target_link_uri
        coupled = state.line_items.get(link.lineitem_id or "")
        launch.lineitem_url = request.lineitem or (state.lineitem_url(coupled) if coupled else None)

    def _attach_reviewed_user(self, launch: PendingLaunch, request: LaunchRequest) -> None:
        """Like Moodle's "Grade analysis": the reviewed student, and the link's line item (the spec requires it)."""
        reviewed = request.for_user or request.sub
        if reviewed not in self.state.users:
            raise PlatformError(400, f"unknown user {reviewed!r}")
        if launch.lineitem_url is None:
            raise PlatformError(400, "a submission review needs the link's gradebook column (with_lineitem)")
        user = self.state.users[reviewed]
        launch.extra_claims.setdefault(c.CLAIM_FOR_USER, {"user_id": reviewed, **user.profile()})

    def _login_params(self, launch: PendingLaunch) -> dict[str, str]:
        params = {"iss": self.state.issuer, "login_hint": launch.login_hint,
                  "target_link_uri": launch.target_link_uri, "lti_message_hint": launch.message_hint,
                  "client_id": launch.client_id, "lti_deployment_id": launch.deployment_id}
        if self.state.flavor == "canvas":  # Canvas's login has no deployment id: only the id_token tells it
            del params["lti_deployment_id"]
            params.update({"canvas_region": "us-east-1", "canvas_environment": "prod"})
        if self.state.platform_storage:
            params["lti_storage_target"] = c.STORAGE_TARGET
        return params

    # --- step 2: the tool redirects the browser to /auth --------------------------------------------
    def authorize(self, params: Mapping[str, str]) -> AuthorizationResult:
        launch = self._validated_launch(params)
        with self.state.lock:
            if launch.hint_used and self.state.single_use_message_hint:
                if self.state.flavor == "canvas":
                    # Canvas fetches and deletes the cached launch at the first request (redis_message_client.rb),
                    # then posts this error to the tool instead of an id_token (authentication_controller.rb).
                    self.state.log("authorization refused: launch_no_longer_valid")
                    return AuthorizationResult(redirect_uri=params["redirect_uri"], id_token="",
                                               state=params["state"], error=CANVAS_CONSUMED_LAUNCH)
                # What Moodle's auth.php answers once the first request cleared the hint's session slot.
                raise PlatformError(400, "Invalid request")
            claims = build_id_token_claims(self.state, launch, params["nonce"])
            header: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "kid": self.state.keys.current_kid}
            tamper, self._tamper = self._tamper, None
            verbatim = tamper(header, claims) if tamper else None
            id_token = verbatim if isinstance(verbatim, str) else self.state.keys.sign(header, claims)
            launch.hint_used = True
        self.state.log(f"id_token issued for {launch.sub} kid={header.get('kid')} "
                       f"tampered={tamper is not None}")
        return AuthorizationResult(redirect_uri=params["redirect_uri"], id_token=id_token,
                                   state=params["state"])

    def _validated_launch(self, params: Mapping[str, str]) -> PendingLaunch:
        expectations = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
                        "prompt": "none"}
        for name, expected in expectations.items():
            if params.get(name) != expected:
                raise PlatformError(400, f"invalid_request: {name} must be {expected!r}, "
                                         f"got {params.get(name)!r}")
        required = ("client_id", "redirect_uri", "login_hint", "lti_message_hint", "state", "nonce")
        for name in required:
            if not params.get(name):
                raise PlatformError(400, f"invalid_request: missing {name}")
        with self.state.lock:
            tool = self.state.tools.get(params["client_id"])
            if tool is None:
                raise PlatformError(400, f"unauthorized_client: unknown client_id {params['client_id']!r}")
            if not tool.allows_redirect(params["redirect_uri"]):
                raise PlatformError(400, f"invalid_request: redirect_uri {params['redirect_uri']!r} "
                                         "is not registered for this tool")
            if self.state.flavor == "canvas":
                self._check_canvas_hint(params["lti_message_hint"])
            launch = self.state.launches.get(params["lti_message_hint"])
        if launch is None or launch.client_id != tool.client_id:
            raise PlatformError(400, "invalid_request: unknown lti_message_hint")

        if launch.login_hint != params["login_hint"]:
            raise PlatformError(400, "login_required: login_hint does not match the user who launched")
        return launch

    def _check_canvas_hint(self, hint: str) -> None:
        """Canvas decodes the hint first: a forged, altered or expired one gets "Invalid lti_message_hint"."""
        try:
            claims = jwt.decode(hint, self.state.message_hint_key, algorithms=["HS256"]).claims
        except (JoseError, ValueError) as exc:
            raise PlatformError(400, "Invalid lti_message_hint") from exc
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self.state.now():
            raise PlatformError(400, "Invalid lti_message_hint")
