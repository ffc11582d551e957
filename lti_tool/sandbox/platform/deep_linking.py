"""Deep-linking return: verify the tool's LtiDeepLinkingResponse, create the links/line items it asks for."""

from __future__ import annotations

import secrets
from typing import Any

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform.models import LineItem
from lti_tool.sandbox.platform.models import PendingLaunch
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import ResourceLink
from lti_tool.sandbox.platform.models import ToolClient
from lti_tool.sandbox.platform.state import PlatformState
from lti_tool.sandbox.platform.tool_keys import ToolJwtError
from lti_tool.sandbox.platform.tool_keys import check_lifetime
from lti_tool.sandbox.platform.tool_keys import unverified_parts


def _refuse(reason: str) -> PlatformError:
    return PlatformError(400, f"deep linking response refused: {reason}")


class DeepLinkService:
    def __init__(self, state: PlatformState) -> None:
        self.state = state

    def handle_return(self, token: str | None, launch_key: str | None) -> dict[str, Any]:
        """Verify the JWT posted to /deep_link_return; returns (and records) what was created."""
        if not token:
            raise _refuse("missing JWT form field")
        tool, claims = self._verified(token)
        launch = self._launch_for(tool, claims, launch_key)
        self._check_claims(tool, claims, launch)
        items = claims.get(c.CLAIM_DL_CONTENT_ITEMS, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise _refuse("content_items must be a list of objects")
        for item in items:
            self._validate_item(item)
        with self.state.lock:
            links = [item for item in items if item.get("type") == "ltiResourceLink"]
            created = [self._create(tool, launch, item) for item in links]
            result = {"client_id": tool.client_id, "context_id": launch.context_id, "claims": claims,
                      "content_items": items, "created": created, "msg": claims.get(c.CLAIM_DL_MSG)}
            self.state.deep_link_results.append(result)
        self.state.log(f"deep linking response from {tool.client_id}: {len(items)} item(s)")
        return result

    def _verified(self, token: str) -> tuple[ToolClient, dict[str, Any]]:
        try:
            _, unverified = unverified_parts(token)
            with self.state.lock:
                tool = self.state.tools.get(str(unverified.get("iss", "")))
            if tool is None:
                raise _refuse(f"iss {unverified.get('iss')!r} is not a known client_id")
            claims = self.state.tool_keys.verify(token, tool.jwks_uri)
            check_lifetime(claims, self.state.now())
        except ToolJwtError as exc:
            raise _refuse(str(exc)) from exc
        return tool, claims

    def _launch_for(self, tool: ToolClient, claims: dict[str, Any], launch_key: str | None) -> PendingLaunch:
        with self.state.lock:
            launch = self.state.launches.get(launch_key or "")
            if launch is None:  # tool dropped the query string: fall back to the data claim
                data = claims.get(c.CLAIM_DL_DATA)
                launch = next((candidate for candidate in self.state.launches.values()
                               if data is not None and candidate.deep_link_data == data), None)
        if launch is None or launch.message_type != c.MSG_DEEP_LINKING or launch.client_id != tool.client_id:
            raise _refuse("it does not answer a deep linking request of this tool")
        return launch

    def _check_claims(self, tool: ToolClient, claims: dict[str, Any], launch: PendingLaunch) -> None:
        audience = claims.get("aud")
        if self.state.issuer not in (audience if isinstance(audience, list) else [audience]):
            raise _refuse(f"aud {audience!r} must be the platform issuer")
        if not claims.get("nonce"):
            raise _refuse("nonce is required")
        if claims.get(c.CLAIM_MESSAGE_TYPE) != c.MSG_DEEP_LINKING_RESPONSE:
            raise _refuse(f"message_type must be {c.MSG_DEEP_LINKING_RESPONSE}")
        if claims.get(c.CLAIM_VERSION) != c.LTI_VERSION:
            raise _refuse(f"version must be {c.LTI_VERSION}")
        if claims.get(c.CLAIM_DEPLOYMENT_ID) not in tool.deployment_ids:
            raise _refuse("deployment_id is not a deployment of this tool")
        if launch.deep_link_data is not None and claims.get(c.CLAIM_DL_DATA) != launch.deep_link_data:
            raise _refuse("data claim does not echo the data of the request")

    @staticmethod
    def _validate_item(item: dict[str, Any]) -> None:
        line_item = item.get("lineItem")
        if item.get("type") != "ltiResourceLink" or line_item is None:
            return
        maximum = line_item.get("scoreMaximum") if isinstance(line_item, dict) else None
        if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or maximum <= 0:
            raise _refuse("lineItem.scoreMaximum must be a positive number")

    def _create(self, tool: ToolClient, launch: PendingLaunch, item: dict[str, Any]) -> dict[str, Any]:
        title = str(item.get("title") or "Untitled activity")
        custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
        link = ResourceLink(id="rl-" + secrets.token_hex(6), context_id=launch.context_id,
                            client_id=tool.client_id, title=title, url=item.get("url"),
                            custom={str(key): str(value) for key, value in (custom or {}).items()})
        self.state.resource_links[link.id] = link
        created: dict[str, Any] = {"resource_link_id": link.id, "title": title, "lineitem_id": None}
        spec = item.get("lineItem")
        if isinstance(spec, dict):
            line_item = self.state.create_line_item(LineItem(
                id="", context_id=launch.context_id, client_id=tool.client_id,
                label=str(spec.get("label") or title), score_maximum=float(spec["scoreMaximum"]),
                resource_link_id=link.id, resource_id=spec.get("resourceId"), tag=spec.get("tag")))
            link.lineitem_id = created["lineitem_id"] = line_item.id
        return created
