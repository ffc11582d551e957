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
from lti_tool.lti import registration_approval
from lti_tool.lti.claims import Scope
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import ReviewStatus
from lti_tool.outbound import BlockedUrl
from lti_tool.outbound import FetchedAnswer
from lti_tool.outbound import UrlFence
from lti_tool.outbound import fenced_request
from lti_tool.translatable import N_
from lti_tool.translatable import MarkedError
from lti_tool.translatable import gettext

log = logging.getLogger(__name__)

TOOL_NAME = "Speaking tests"
TOOL_DESCRIPTION = "English speaking tests, graded into the course gradebook."
LTI_TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
LTI_PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCOPES = tuple(scope.value for scope in Scope)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")
# Canvas's extensions to LTI-DR, as app/models/lti/ims/registration.rb reads them.
CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"
CANVAS_TOOL_ID = "https://canvas.instructure.com/lti/tool_id"
CANVAS_LAUNCH_WIDTH = "https://canvas.instructure.com/lti/launch_width"
CANVAS_LAUNCH_HEIGHT = "https://canvas.instructure.com/lti/launch_height"
CANVAS_ACCOUNT_NAME = "https://canvas.instructure.com/lti/account_name"  # in Canvas's platform configuration
CANVAS_TOOL_ID_VALUE = "lti-speaking-tests"
# Modules → External Tool opens link_selection, Assignments → "External Tool" submission opens assignment_selection.
CANVAS_PICKER_PLACEMENTS = ("link_selection", "assignment_selection")
PICKER_WIDTH, PICKER_HEIGHT = 900, 700
NAME_LENGTH = 200  # lti_registration.name
# What the LMS admin sees when a fetch failed or was refused: the detail (which can describe the tool's own
# network) goes to the log only.
UNREADABLE_PLATFORM = N_("The tool could not read the platform's registration details. Check the registration URL; "
                          "the tool administrator can find the reason in the tool's log.")
INVITATION_UNUSABLE = N_("This invitation link has expired or was already used. Ask the tool administrator for a new "
                         "one.")


class RegistrationError(MarkedError):
    """Dynamic registration failed; the LMS admin reads why in the registration dialog.

    ``message`` is marked with ``N_`` and has named placeholders filled from ``values`` (those named in ``words``
    are marked words too): ``reason`` is the English sentence (the log), :meth:`shown` the reader's language (the
    page)."""

    def __init__(self, status: int, message: str, *, words: tuple[str, ...] = (), **values: object) -> None:
        super().__init__(message, **values)
        self.status = status
        self.words = words

    def shown(self) -> str:
        return gettext(self.message, **{name: gettext(str(value)) if name in self.words else value
                                        for name, value in self.values.items()})


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
                      deployment_ids: list[str] | tuple[str, ...] = (), approve: bool = True,
                      review: ReviewStatus = ReviewStatus.APPROVED) -> LtiRegistration:
    """Create or update the registration for (issuer, client_id) and record its known deployments.

    A registration under review (``review`` pending) is stored inactive, and so are its deployments.
    """
    for url in (details.auth_login_url, details.auth_token_url, details.key_set_url):
        _require_http_url(url)
    approved = review == ReviewStatus.APPROVED
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
        "is_active": approved,
        "review_status": review.value,
    })
    status = DeploymentStatus.ACTIVE if approve and approved else DeploymentStatus.PENDING
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
    """The tool's registration document (LTI-DR §3.3), with Canvas's placements and extensions for Canvas.

    The deep-linking message comes first: Canvas turns each message into placements (a message without any gets
    ``link_selection``) and keeps the *first* message per placement, so a resource-link message listed before it
    would make Modules → External Tool add a bare launch instead of opening the test picker.
    """
    deep_linking: dict[str, Any] = {"type": "LtiDeepLinkingRequest", "target_link_uri": urls.launch,
                                    "label": "Add a speaking test"}
    messages: list[dict[str, Any]] = [deep_linking]
    canvas_extensions: dict[str, Any] = {}
    if product_family_code == "canvas":
        # Links made by deep linking launch with LtiResourceLinkRequest whatever the registration lists, so Canvas
        # needs no resource-link message (it would only become a duplicate link_selection, which Canvas drops).
        deep_linking.update({"placements": list(CANVAS_PICKER_PLACEMENTS),
                             CANVAS_LAUNCH_WIDTH: PICKER_WIDTH, CANVAS_LAUNCH_HEIGHT: PICKER_HEIGHT})
        # "public": the tool shows teachers their learners' names and emails (Canvas would infer it from the
        # claims, but says what it infers only after installing).
        canvas_extensions = {CANVAS_PRIVACY_LEVEL: "public", CANVAS_TOOL_ID: CANVAS_TOOL_ID_VALUE}
    else:
        messages.append({"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch, "label": TOOL_NAME})
        # Submission Review (LTI-SR 1.0), Moodle's "Grade analysis". Not for Canvas: it turns every message into
        # placements (one without becomes link_selection) and reviews submissions through its own extension.
        messages.append({"type": "LtiSubmissionReviewRequest", "target_link_uri": urls.launch})
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
            **canvas_extensions,
        },
    }


def dynamic_registration(session: orm.Session, http: requests.Session, fence: UrlFence, urls: ToolUrls,
                         openid_configuration: str, registration_token: str | None, auto_approve: bool,
                         invitation_token: str | None = None) -> tuple[LtiRegistration, list[str]]:
    """Run LTI Dynamic Registration: read the platform's configuration, register, store the result.

    Without an invitation the registration is stored pending (a tool admin decides); through a valid invitation it
    is active at once, with the deployment the platform reported. The platform is only reached within ``fence``,
    and before anything is written (no outbound HTTP while a write is pending).

    :return: the registration and the deployment ids the platform reported.
    :raise RegistrationError: the invitation is not usable, or the platform's answers are missing, malformed,
        inconsistent or out of the fence's bounds.
    """
    _require_http_url(openid_configuration, error=RegistrationError(400, N_("%(parameter)s is not a URL."),
                                                                     parameter="openid_configuration"))
    if invitation_token is not None and registration_approval.usable_invitation(session, invitation_token) is None:
        raise RegistrationError(403, INVITATION_UNUSABLE)
    session.rollback()  # the invitation check's lock must not be held while the platform is called
    auth = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    platform = _get_json(http, fence, openid_configuration, auth)
    _check_platform_configuration(platform, openid_configuration)
    registration_endpoint = str(platform["registration_endpoint"])
    platform_configuration = platform.get(LTI_PLATFORM_CONFIGURATION)
    if not isinstance(platform_configuration, dict):
        platform_configuration = {}
    product = platform_configuration.get("product_family_code")
    # The registration endpoint is where the tool posts its own URLs and receives the client_id: it must be served
    # by the same site that served the configuration (Moodle does so), with one exception. Canvas serves every
    # school's configuration from its shared issuer's host (https://canvas.instructure.com/api/lti/security/
    # openid-configuration) and names the school's own domain as the registration endpoint (security_controller.rb).
    served_by_issuer = _origin(openid_configuration) == _origin(str(platform["issuer"]))
    if _origin(registration_endpoint) != _origin(openid_configuration) and not (product == "canvas"
                                                                                and served_by_issuer):
        log.warning("dynamic registration: registration_endpoint %s is not on the origin of %s",
                    registration_endpoint, openid_configuration)
        raise RegistrationError(400, N_("The platform's registration endpoint is not on the same site as its "
                                        "configuration."))
    invited = invitation_token is not None
    answer = _post_json(http, fence, registration_endpoint, tool_registration_request(urls, product), auth)
    client_id = answer.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError(502, N_("The platform's registration response has no %(field)s."), field="client_id")
    tool_config = answer.get(LTI_TOOL_CONFIGURATION) or {}
    deployment_id = tool_config.get("deployment_id") if isinstance(tool_config, dict) else None
    granted = str(answer.get("scope") or " ".join(SCOPES)).split()
    details = PlatformDetails(
        issuer=str(platform["issuer"]), client_id=client_id,
        auth_login_url=str(platform["authorization_endpoint"]), auth_token_url=str(platform["token_endpoint"]),
        key_set_url=str(platform["jwks_uri"]), auth_audience=platform.get("authorization_server"),
        name=platform_name(platform_configuration), product_family_code=product, scopes=tuple(granted),
    )
    deployments = [str(deployment_id)] if deployment_id else []
    if invited:
        registration = register_platform(session, details, "dynamic", deployments, approve=True)
        if not registration_approval.mark_used(session, str(invitation_token), registration):
            raise RegistrationError(403, INVITATION_UNUSABLE)
    else:
        _refuse_takeover(session, details)
        try:
            registration_approval.replace_pending(session, details.issuer)
        except registration_approval.ApprovalError as exc:
            raise RegistrationError(429, str(exc)) from exc  # marked where it is raised
        registration = register_platform(session, details, "dynamic", deployments, approve=auto_approve,
                                         review=ReviewStatus.PENDING)
    log.info("dynamic registration with %s: client_id=%s deployments=%s %s", details.issuer, client_id,
             deployments, "invited" if invited else "pending review")
    return registration, deployments


def platform_name(platform_configuration: dict[str, Any]) -> str | None:
    """The school's name where the platform tells it (Canvas: the account's name), else the product's code.

    Every hosted Canvas school shares one issuer, so "canvas" alone would name them all alike.
    """
    account = platform_configuration.get(CANVAS_ACCOUNT_NAME)
    if isinstance(account, str) and account.strip():
        return " ".join(account.split())[:NAME_LENGTH]
    product = platform_configuration.get("product_family_code")
    return str(product)[:NAME_LENGTH] if product else None


def _refuse_takeover(session: orm.Session, details: PlatformDetails) -> None:
    """An uninvited registration never changes one a tool admin approved (its keys and URLs are the school's)."""
    existing = session.scalar(sa.select(LtiRegistration.review_status).where(
        LtiRegistration.issuer == details.issuer, LtiRegistration.client_id == details.client_id))
    if existing is not None and existing != ReviewStatus.PENDING.value:
        raise RegistrationError(409, N_("The tool is already registered with this platform. To change that "
                                        "registration, ask the tool administrator for an invitation link."))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _check_platform_configuration(platform: dict[str, Any], openid_configuration: str) -> None:
    required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    missing = [name for name in required if not isinstance(platform.get(name), str) or not platform.get(name)]
    if missing:
        raise RegistrationError(502, N_("The platform's configuration lacks %(fields)s."), fields=", ".join(missing))
    algorithms = platform.get("id_token_signing_alg_values_supported")
    if isinstance(algorithms, list) and "RS256" not in algorithms:
        raise RegistrationError(502, N_("The platform does not sign id_tokens with RS256, which LTI 1.3 requires."))
    issuer = str(platform["issuer"]).rstrip("/")
    if not openid_configuration.startswith(issuer):
        product = (platform.get(LTI_PLATFORM_CONFIGURATION) or {}).get("product_family_code")
        # Hosted Canvas serves every school's configuration from the school's domain under one shared issuer.
        if product != "canvas":
            raise RegistrationError(400, N_("The platform's issuer %(issuer)s does not match the configuration URL "
                                            "%(url)s (LTI-DR §3.5.1)."), issuer=repr(issuer),
                                    url=repr(openid_configuration))
        log.info("Canvas issuer %s differs from its configuration URL host; accepted", issuer)
    for name in required[1:]:
        _require_http_url(str(platform[name]),
                          error=RegistrationError(502, N_("The platform's %(field)s is not a URL."), field=name))


def _get_json(http: requests.Session, fence: UrlFence, url: str, headers: dict[str, str]) -> dict[str, Any]:
    return _json_object(_fenced(http, fence, "GET", url, headers={**headers, "Accept": "application/json"}),
                        N_("configuration"))


def _post_json(http: requests.Session, fence: UrlFence, url: str, body: dict[str, Any],
               headers: dict[str, str]) -> dict[str, Any]:
    return _json_object(_fenced(http, fence, "POST", url, json=body,
                                headers={**headers, "Accept": "application/json"}), N_("registration response"))


def _fenced(http: requests.Session, fence: UrlFence, method: str, url: str, **kwargs: Any) -> FetchedAnswer:
    try:
        return fenced_request(http, fence, method, url, **kwargs)
    except BlockedUrl as exc:
        log.warning("dynamic registration: %s", exc)
        raise RegistrationError(502, UNREADABLE_PLATFORM) from exc


def _json_object(response: FetchedAnswer, what: str) -> dict[str, Any]:
    if not response.ok:
        # The status helps the LMS admin (401: the registration token was used); the body is never shown.
        raise RegistrationError(502, N_("The platform refused: its %(answer)s answered HTTP %(code)s."), answer=what,
                                code=response.status_code, words=("answer",))
    try:
        body = response.json()
    except ValueError as exc:
        raise RegistrationError(502, N_("The platform's %(answer)s is not JSON."), answer=what,
                                words=("answer",)) from exc
    if not isinstance(body, dict):
        raise RegistrationError(502, N_("The platform's %(answer)s is not a JSON object."), answer=what,
                                words=("answer",))
    return body


def _require_http_url(url: str, error: Exception | None = None) -> None:
    try:
        parts = urlsplit(url)
        netloc_ok = bool(parts.hostname)
    except ValueError:
        netloc_ok = False
    if not netloc_ok or parts.scheme not in {"http", "https"}:
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
