"""Plain records held by the platform emulator. No behaviour beyond small conveniences."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Literal

from lti_tool.sandbox.platform.constants import GRADABLE_ROLES
from lti_tool.sandbox.platform.constants import MSG_RESOURCE_LINK

Flavor = Literal["moodle", "canvas"]
BodyKind = Literal["text", "json", "empty", "html", "canvas"]


class PlatformError(Exception):
    """A request the emulated LMS refuses; views turn it into an HTTP response like a real LMS would."""

    def __init__(self, status: int, description: str, error: str = "", kind: BodyKind = "text") -> None:
        super().__init__(f"{status} {error or ''} {description}".strip())
        self.status = status
        self.description = description
        self.error = error
        self.kind: BodyKind = kind


@dataclass
class ToolClient:
    """A tool registered with the platform (one client_id, one or more deployments)."""

    client_id: str
    deployment_id: str
    name: str
    oidc_initiation_url: str
    target_link_uri: str
    jwks_uri: str
    redirect_uris: list[str]
    deep_link_url: str | None = None
    deployment_ids: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    # Moodle's "grade sync only" mode: the tool may post scores but never create or edit line items.
    can_manage_lineitems: bool = True
    # Canvas: placement -> the registered message it opens (the first message listing it wins).
    placements: dict[str, dict[str, Any]] = field(default_factory=dict)
    registration_extensions: dict[str, Any] = field(default_factory=dict)  # privacy level, tool id

    def allows_redirect(self, uri: str) -> bool:
        return uri in self.redirect_uris or uri in (self.target_link_uri, self.deep_link_url)


@dataclass
class Context:
    id: str
    title: str
    label: str
    type: str = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
    concluded: bool = False  # Canvas: a concluded course takes no more grades


@dataclass
class User:
    sub: str
    given_name: str | None = None
    family_name: str | None = None
    name: str | None = None
    email: str | None = None
    # The user's language preference, sent in every launch as launch_presentation.locale (BCP 47, as Moodle
    # and Canvas send it: "en", "es-MX", "ar"); None: the platform's default language (PlatformState.locale).
    locale: str | None = None

    def profile(self) -> dict[str, str]:
        """The optional name/email claims, present only when the LMS knows them."""
        values = {"given_name": self.given_name, "family_name": self.family_name,
                  "name": self.name, "email": self.email}
        return {key: value for key, value in values.items() if value}


@dataclass
class ResourceLink:
    id: str
    context_id: str
    client_id: str
    title: str
    url: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    lineitem_id: str | None = None


@dataclass
class LineItem:
    id: str
    context_id: str
    client_id: str
    label: str
    score_maximum: float
    resource_link_id: str | None = None
    resource_id: str | None = None
    tag: str | None = None
    start_date_time: str | None = None
    end_date_time: str | None = None
    allowed_attempts: int | None = None  # Canvas: the assignment's limit of submissions per learner

    def to_json(self, url: str) -> dict[str, Any]:
        body: dict[str, Any] = {"id": url, "label": self.label, "scoreMaximum": self.score_maximum}
        optional = {"resourceLinkId": self.resource_link_id, "resourceId": self.resource_id, "tag": self.tag,
                    "startDateTime": self.start_date_time, "endDateTime": self.end_date_time}
        body.update({key: value for key, value in optional.items() if value is not None})
        return body


@dataclass
class GradeRecord:
    """What the gradebook holds for one (line item, user) after a score was accepted."""

    score: float | None
    max: float
    comment: str | None
    timestamp: str
    parsed_timestamp: datetime
    activity_progress: str
    grading_progress: str
    submission: dict[str, Any] | None = None
    # Canvas keeps more per submission: every comment posted, the submission time, the attempts made, and who
    # gave the grade ("tool" or "teacher").
    comments: list[str] = field(default_factory=list)
    submitted_at: str | None = None
    attempts: int = 0
    graded_by: str = "tool"

    def to_public(self) -> dict[str, Any]:
        return {"score": self.score, "max": self.max, "comment": self.comment, "timestamp": self.timestamp,
                "activityProgress": self.activity_progress, "gradingProgress": self.grading_progress,
                "submission": self.submission, "comments": list(self.comments), "submitted_at": self.submitted_at,
                "attempts": self.attempts, "graded_by": self.graded_by}


@dataclass
class ScorePost:
    """Every score POST that reached the handler, with the status the emulator answered."""

    context_id: str
    lineitem_id: str
    body: Any
    status: int


@dataclass
class PendingLaunch:
    """A launch the LMS started; the tool's /auth request refers to it by lti_message_hint."""

    message_hint: str
    login_hint: str
    client_id: str
    deployment_id: str
    sub: str
    context_id: str
    message_type: str = MSG_RESOURCE_LINK
    resource_link_id: str | None = None
    target_link_uri: str = ""
    roles: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    lineitem_url: str | None = None
    deep_link_data: str | None = None
    extra_claims: dict[str, Any] = field(default_factory=dict)
    # Set when an id_token was issued for this hint: Moodle's hint and Canvas's cached launch are single use.
    hint_used: bool = False


@dataclass
class AccessToken:
    token: str
    client_id: str
    scopes: list[str]
    expires_at: float


@dataclass
class TokenRequest:
    client_id: str | None
    requested_scopes: list[str]
    granted_scopes: list[str]
    status: int


def is_gradable(roles: list[str]) -> bool:
    return any(role in GRADABLE_ROLES for role in roles)
