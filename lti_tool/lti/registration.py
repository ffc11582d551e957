"""Registering the tool with a platform: LTI Dynamic Registration 1.0, the manual form, and the values an admin
types into Moodle or pastes into Canvas (https://www.imsglobal.org/spec/lti-dr/v1p0)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.config import Settings
from lti_tool.db import upsert
from lti_tool.db import utcnow
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration

log = logging.getLogger(__name__)

TOOL_NAME = "Speaking tests"
TOOL_DESCRIPTION = "Speechace and iTEP English speaking tests, graded into the course gradebook."
LTI_TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
LTI_PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")


class RegistrationError(Exception):
    """Dynamic registration failed; ``reason`` is shown to the LMS admin in the registration dialog."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ToolUrls:
    login: str
    launch: str
    jwks: str
    registration: str
    canvas_config: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ToolUrls:
        return cls(login=settings.url("/lti/login"), launch=settings.url("/lti/launch"),
                   jwks=settings.url("/lti/jwks"), registration=settings.url("/lti/register"),
                   canvas_config=settings.url("/lti/config/canvas.json"))


@dataclass(frozen=True)
class PlatformDetails:
    """What the tool must know about a platform (the manual form has exactly these fields)."""

    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str | None = None
    name: str | None = None
    product_family_code: str | None = None
    scopes: tuple[str, ...] = SCOPES


def register_platform(session: orm.Session, details: PlatformDetails, registered_via: str,
                      deployment_ids: list[str] | tuple[str, ...] = (), approve: bool = True) -> LtiRegistration:
    """Create or update the registration for (issuer, client_id) and record its known deployments."""
    for url in (details.auth_login_url, details.auth_token_url, details.key_set_url):
        _require_http_url(url)
    registration_pk = upsert(session, LtiRegistration, ["issuer", "client_id"], {
        "issuer": details.issuer,
        "client_id": details.client_id,
        "name": details.name or urlsplit(details.issuer).hostname or details.issuer,
        "auth_login_url": details.auth_login_url,
        "auth_token_url": details.auth_token_url,
        "auth_audience": details.auth_audience,
        "key_set_url": details.key_set_url,
        "product_family_code": details.product_family_code,
        "registered_via": registered_via,
        "scopes": list(details.scopes),
        "is_active": True,
    })
    status = DeploymentStatus.ACTIVE if approve else DeploymentStatus.PENDING
    for deployment_id in deployment_ids:
        existing = session.scalar(sa.select(LtiDeployment.id).where(
            LtiDeployment.registration_id == registration_pk, LtiDeployment.deployment_id == deployment_id))
        if existing is None:
            session.add(LtiDeployment(registration_id=registration_pk, deployment_id=deployment_id,
                                      status=status.value, datetime_status_changed=utcnow()))
    session.flush()
    registration = session.get(LtiRegistration, registration_pk)
    assert registration is not None
    return registration


def tool_registration_request(urls: ToolUrls, product_family_code: str | None) -> dict[str, Any]:
    """The tool's registration document (LTI-DR §3.3), with Canvas placements when registering with Canvas."""
    messages: list[dict[str, Any]] = [
        {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch, "label": TOOL_NAME},
        {"type": "LtiDeepLinkingRequest", "target_link_uri": urls.launch, "label": "Add a speaking test"},
    ]
    if product_family_code == "canvas":
        messages[1]["placements"] = ["assignment_selection", "link_selection"]
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": TOOL_NAME,
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        LTI_TOOL_CONFIGURATION: {
            "domain": urlsplit(urls.launch).netloc,
            "description": TOOL_DESCRIPTION,
            "target_link_uri": urls.launch,
            "claims": list(CLAIMS),
            "messages": messages,
        },
    }


def dynamic_registration(session: orm.Session, http: requests.Session, urls: ToolUrls, openid_configuration: str,
                         registration_token: str | None, auto_approve: bool) -> tuple[LtiRegistration, list[str]]:
    """Run LTI Dynamic Registration: read the platform's configuration, register, store the result.

    :return: the registration and the deployment ids the platform reported.
    :raise RegistrationError: the platform's answers are missing, malformed or inconsistent.
    """
    _require_http_url(openid_configuration, error=RegistrationError(400, "openid_configuration is not a URL."))
    auth = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    platform = _get_json(http, openid_configuration, auth)
    _check_platform_configuration(platform, openid_configuration)
    product = (platform.get(LTI_PLATFORM_CONFIGURATION) or {}).get("product_family_code")
    answer = _post_json(http, platform["registration_endpoint"], tool_registration_request(urls, product), auth)
    client_id = answer.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError(502, "The platform's registration response has no client_id.")
    tool_config = answer.get(LTI_TOOL_CONFIGURATION) or {}
    deployment_id = tool_config.get("deployment_id") if isinstance(tool_config, dict) else None
    granted = str(answer.get("scope") or " ".join(SCOPES)).split()
    details = PlatformDetails(
        issuer=str(platform["issuer"]), client_id=client_id,
        auth_login_url=str(platform["authorization_endpoint"]), auth_token_url=str(platform["token_endpoint"]),
        key_set_url=str(platform["jwks_uri"]), auth_audience=platform.get("authorization_server"),
        name=(platform.get(LTI_PLATFORM_CONFIGURATION) or {}).get("product_family_code"),
        product_family_code=product, scopes=tuple(granted),
    )
    deployments = [str(deployment_id)] if deployment_id else []
    registration = register_platform(session, details, "dynamic", deployments, approve=auto_approve)
    log.info("dynamic registration with %s: client_id=%s deployments=%s", details.issuer, client_id, deployments)
    return registration, deployments


def _check_platform_configuration(platform: dict[str, Any], openid_configuration: str) -> None:
    required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    missing = [name for name in required if not isinstance(platform.get(name), str) or not platform.get(name)]
    if missing:
        raise RegistrationError(502, f"The platform's configuration lacks {', '.join(missing)}.")
    algorithms = platform.get("id_token_signing_alg_values_supported")
    if isinstance(algorithms, list) and "RS256" not in algorithms:
        raise RegistrationError(502, "The platform does not sign id_tokens with RS256, which LTI 1.3 requires.")
    issuer = str(platform["issuer"]).rstrip("/")
    if not openid_configuration.startswith(issuer):
        product = (platform.get(LTI_PLATFORM_CONFIGURATION) or {}).get("product_family_code")
        # Hosted Canvas serves every school's configuration from the school's domain under one shared issuer.
        if product != "canvas":
            raise RegistrationError(400, f"The platform's issuer {issuer!r} does not match the configuration URL "
                                         f"{openid_configuration!r} (LTI-DR §3.5.1).")
        log.info("Canvas issuer %s differs from its configuration URL host; accepted", issuer)
    for name in required[1:]:
        _require_http_url(str(platform[name]), error=RegistrationError(502, f"The platform's {name} is not a URL."))


def _get_json(http: requests.Session, url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        response = http.get(url, headers={**headers, "Accept": "application/json"})
    except requests.RequestException as exc:
        raise RegistrationError(502, f"Cannot reach the platform's configuration at {url}: {exc}") from exc
    return _json_object(response, "configuration")


def _post_json(http: requests.Session, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    try:
        response = http.post(url, json=body, headers={**headers, "Accept": "application/json"})
    except requests.RequestException as exc:
        raise RegistrationError(502, f"Cannot reach the platform's registration endpoint {url}: {exc}") from exc
    return _json_object(response, "registration response")


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    if not response.ok:
        raise RegistrationError(502, f"The platform refused: its {what} answered HTTP {response.status_code} "
                                     f"{response.text[:300]!r}.")
    try:
        body = response.json()
    except ValueError as exc:
        raise RegistrationError(502, f"The platform's {what} is not JSON.") from exc
    if not isinstance(body, dict):
        raise RegistrationError(502, f"The platform's {what} is not a JSON object.")
    return body


def _require_http_url(url: str, error: Exception | None = None) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise error or ValueError(f"not an http(s) URL: {url!r}")


def canvas_developer_key(urls: ToolUrls) -> dict[str, Any]:
    """The JSON an admin pastes into Canvas (Developer Keys → LTI Key → Paste JSON)."""
    placement = {"message_type": "LtiDeepLinkingRequest", "target_link_uri": urls.launch, "text": TOOL_NAME,
                 "selection_width": 900, "selection_height": 700}
    return {
        "title": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "scopes": list(SCOPES),
        "public_jwk_url": urls.jwks,
        "custom_fields": {},
        "extensions": [{
            "domain": urlsplit(urls.launch).hostname,
            "tool_id": "lti-speaking-tests",
            "platform": "canvas.instructure.com",
            "privacy_level": "public",
            "settings": {
                "text": TOOL_NAME,
                "placements": [
                    {"placement": "assignment_selection", **placement},
                    {"placement": "link_selection", **placement},
                ],
            },
        }],
    }


def moodle_manual_values(urls: ToolUrls) -> list[tuple[str, str]]:
    """Field → value for Moodle's "Configure a tool manually" form (Site admin → Plugins → External tool)."""
    return [
        ("Tool name", TOOL_NAME),
        ("Tool URL", urls.launch),
        ("LTI version", "LTI 1.3"),
        ("Public key type", "Keyset URL"),
        ("Public keyset", urls.jwks),
        ("Initiate login URL", urls.login),
        ("Redirection URI(s)", urls.launch),
        ("Supports Deep Linking (Content-Item Message)", "Yes"),
        ("Content Selection URL", urls.launch),
        ("IMS LTI Assignment and Grade Services", "Use this service for grade sync and column management"),
        ("IMS LTI Names and Role Provisioning", "Use this service to retrieve members' information as per privacy "
                                                "settings"),
        ("Share launcher's name with tool", "Always"),
        ("Share launcher's email with tool", "Always"),
        ("Accept grades from the tool", "Always"),
        ("Default launch container", "Embed, without blocks"),
    ]
