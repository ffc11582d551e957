"""LTI Dynamic Registration 1.0, platform side (as Moodle and Canvas implement it)."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.state import PlatformState

REQUIRED_STRINGS = ("initiate_login_uri", "jwks_uri")
CANVAS_PLACEMENT_NAMES = {"ContentArea": "link_selection", "RichTextEditor": "editor_button"}
CANVAS_EXTENSION_PREFIX = "https://canvas.instructure.com/lti/"


def _invalid(reason: str) -> PlatformError:
    return PlatformError(400, reason, "invalid_client_metadata", kind="json")


def _is_url(value: Any) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


class RegistrationService:
    def __init__(self, state: PlatformState) -> None:
        self.state = state
        self._tokens: set[str] = set()

    def begin(self, tool_registration_url: str) -> str:
        """URL the admin's browser opens: the tool's registration page, our config, a one-time token."""
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self._tokens.add(token)
        configuration = self.state.url("/.well-known/openid-configuration")
        if self.state.flavor == "canvas":  # Canvas puts the token in the configuration URL too, and reads it there
            configuration += "?" + urlencode({"registration_token": token})
        query = urlencode({"openid_configuration": configuration, "registration_token": token})
        return tool_registration_url + ("&" if "?" in tool_registration_url else "?") + query

    def register(self, authorization: str | None, content_type: str, raw_body: str) -> dict[str, Any]:
        """Create the tool described by the JSON body; the bearer token is checked before anything else."""
        token = self._bearer(authorization)
        if content_type != "application/json":
            raise _invalid("registration must be sent as application/json")
        try:
            body = json.loads(raw_body)
        except ValueError as exc:
            raise _invalid(f"body is not valid JSON: {exc}") from exc
        tool_config = self._validated(body)
        with self.state.lock:
            if token not in self._tokens:  # re-check under the lock: the token is single-use
                raise PlatformError(401, "registration token already used", "invalid_registration_token",
                                    kind="json")
            self._tokens.discard(token)
            return self._create_tool(body, tool_config)

    def _bearer(self, authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PlatformError(401, "a registration token is required", "missing_registration_token",
                                kind="json")
        with self.state.lock:
            if token.strip() not in self._tokens:
                raise PlatformError(401, "unknown or used registration token", "invalid_registration_token",
                                    kind="json")
        return token.strip()

    def _validated(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _invalid("body must be a JSON object")
        if body.get("application_type") != "web":
            raise _invalid("application_type must be 'web'")
        if "id_token" not in (body.get("response_types") or []):
            raise _invalid("response_types must include 'id_token'")
        if not {"implicit", "client_credentials"} <= set(body.get("grant_types") or []):
            raise _invalid("grant_types must include 'implicit' and 'client_credentials'")
        if body.get("token_endpoint_auth_method") != "private_key_jwt":
            raise _invalid("token_endpoint_auth_method must be 'private_key_jwt'")
        for name in REQUIRED_STRINGS:
            if not _is_url(body.get(name)):
                raise _invalid(f"{name} must be an absolute URL")
        redirect_uris = body.get("redirect_uris")
        if not isinstance(redirect_uris, list) or not redirect_uris or not all(map(_is_url, redirect_uris)):
            raise _invalid("redirect_uris must be a non-empty list of URLs")
        return self._validated_tool_config(body.get(c.TOOL_CONFIGURATION))

    @staticmethod
    def _validated_tool_config(config: Any) -> dict[str, Any]:
        if not isinstance(config, dict):
            raise _invalid(f"{c.TOOL_CONFIGURATION} is required")
        domain, target = config.get("domain"), config.get("target_link_uri")
        if not isinstance(domain, str) or not domain:
            raise _invalid("tool configuration domain is required")
        if not _is_url(target):
            raise _invalid("tool configuration target_link_uri must be an absolute URL")
        target_parts = urlsplit(str(target))
        if domain not in (target_parts.netloc, target_parts.hostname):
            raise _invalid(f"target_link_uri host does not match domain {domain!r}")
        messages = config.get("messages", [])
        if not isinstance(messages, list) or not all(isinstance(message, dict) for message in messages):
            raise _invalid("messages must be a list of objects")
        return config

    def _create_tool(self, body: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        deep_link_url = next((message.get("target_link_uri") or config["target_link_uri"]
                              for message in config.get("messages", [])
                              if message.get("type") == c.MSG_DEEP_LINKING), None)
        tool = self.state.register_tool(
            name=str(body.get("client_name") or "Tool"), oidc_initiation_url=body["initiate_login_uri"],
            target_link_uri=config["target_link_uri"], jwks_uri=body["jwks_uri"],
            redirect_uris=list(body["redirect_uris"]), deep_link_url=deep_link_url)
        requested = str(body.get("scope", "")).split()
        tool.scopes = [scope for scope in requested if scope in c.SERVICE_SCOPES]
        self.state.log(f"dynamic registration: {tool.name} granted {' '.join(tool.scopes) or 'no scopes'}")
        if self.state.flavor == "canvas":
            tool.placements = canvas_placements(config.get("messages", []))
            tool.registration_extensions = {name: config[name] for name in (c.CANVAS_PRIVACY_LEVEL, c.CANVAS_TOOL_ID)
                                            if name in config}
            opened = ", ".join(f"{name}={message.get('type')}" for name, message in tool.placements.items())
            self.state.log(f"placements: {opened}")
            # Canvas answers with the client_id only: the deployment comes into being when the tool is installed.
            return {**body, "client_id": tool.client_id, "scope": " ".join(tool.scopes), c.TOOL_CONFIGURATION: config}
        return {**body, "client_id": tool.client_id, "scope": " ".join(tool.scopes),
                c.TOOL_CONFIGURATION: {**config, "deployment_id": tool.deployment_id}}


def canvas_placements(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Placement -> message, as Canvas builds them: a message without placements gets link_selection, IMS names
    are translated, placements Canvas does not know are dropped, and the first message per placement wins."""
    known = {placement for placements in c.CANVAS_PLACEMENTS.values() for placement in placements}
    placements: dict[str, dict[str, Any]] = {}
    for message in messages:
        for name in message.get("placements") or [c.CANVAS_DEFAULT_PLACEMENT]:
            placement = CANVAS_PLACEMENT_NAMES.get(name, str(name).removeprefix(CANVAS_EXTENSION_PREFIX))
            if placement in known:
                placements.setdefault(placement, message)
    return placements
