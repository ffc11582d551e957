"""The LTI 1.3 claim set an LMS puts in a launch id_token."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform.models import PendingLaunch
from lti_tool.sandbox.platform.models import ToolClient
from lti_tool.sandbox.platform.state import PRODUCT_VERSIONS
from lti_tool.sandbox.platform.state import PlatformState

ID_TOKEN_LIFETIME_SECONDS = 300


def build_id_token_claims(state: PlatformState, launch: PendingLaunch, nonce: str) -> dict[str, Any]:
    """Full claim set for one launch; call with state.lock held."""
    tool = state.tools[launch.client_id]
    now = int(state.now())
    claims: dict[str, Any] = {
        "iss": state.issuer, "sub": launch.sub,
        "aud": [tool.client_id] if state.id_token_aud_as_list else tool.client_id, "azp": tool.client_id,
        "exp": now + ID_TOKEN_LIFETIME_SECONDS, "iat": now, "nonce": nonce,
        c.CLAIM_MESSAGE_TYPE: launch.message_type, c.CLAIM_VERSION: c.LTI_VERSION,
        c.CLAIM_DEPLOYMENT_ID: launch.deployment_id, c.CLAIM_TARGET_LINK_URI: launch.target_link_uri,
        c.CLAIM_ROLES: list(launch.roles), c.CLAIM_CONTEXT: _context_claim(state, launch.context_id),
        c.CLAIM_CUSTOM: dict(launch.custom),
        c.CLAIM_LAUNCH_PRESENTATION: {
            "document_target": "iframe", "locale": state.users[launch.sub].locale or state.locale,
            "return_url": state.url("/return?" + urlencode({"context": launch.context_id})),
        },
        c.CLAIM_TOOL_PLATFORM: {
            "guid": state.platform_guid, "name": state.platform_name, "product_family_code": state.flavor,
            "version": PRODUCT_VERSIONS[state.flavor],
        },
        c.CLAIM_LIS: {"person_sourcedid": launch.sub, "course_offering_sourcedid": launch.context_id},
        **state.users[launch.sub].profile(),
    }
    claims.update(_service_claims(state, tool, launch))
    claims.update(_message_claims(state, launch))
    claims.update(launch.extra_claims)
    return claims


def _context_claim(state: PlatformState, context_id: str) -> dict[str, Any]:
    context = state.contexts[context_id]
    return {"id": context.id, "label": context.label, "title": context.title, "type": [context.type]}


def _service_claims(state: PlatformState, tool: ToolClient, launch: PendingLaunch) -> dict[str, Any]:
    """AGS/NRPS endpoints, advertised only for the services the tool was granted (as Moodle does)."""
    claims: dict[str, Any] = {}
    ags_scopes = [scope for scope in c.AGS_SCOPES if scope in tool.scopes]
    if not tool.can_manage_lineitems and c.SCOPE_LINEITEM in ags_scopes:
        ags_scopes.remove(c.SCOPE_LINEITEM)
    if ags_scopes:
        endpoint: dict[str, Any] = {"scope": ags_scopes,
                                    "lineitems": state.url(f"/contexts/{launch.context_id}/lineitems")}
        if launch.lineitem_url:
            endpoint["lineitem"] = launch.lineitem_url
        claims[c.CLAIM_AGS_ENDPOINT] = endpoint
    if c.SCOPE_NRPS in tool.scopes:
        claims[c.CLAIM_NRPS] = {
            "context_memberships_url": state.url(f"/contexts/{launch.context_id}/memberships"),
            "service_versions": ["2.0"],
        }
    return claims


def _message_claims(state: PlatformState, launch: PendingLaunch) -> dict[str, Any]:
    if launch.message_type == c.MSG_DEEP_LINKING:
        return {c.CLAIM_DL_SETTINGS: {
            # The launch key in the query lets the LMS tie the response to this request (and its data).
            "deep_link_return_url": state.url("/deep_link_return?"
                                              + urlencode({"launch": launch.message_hint})),
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": False,
            "auto_create": True,
            "data": launch.deep_link_data,
        }}
    link = state.resource_links[launch.resource_link_id or ""]
    return {c.CLAIM_RESOURCE_LINK: {"id": link.id, "title": link.title}}
