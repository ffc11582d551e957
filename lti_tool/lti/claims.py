"""LTI claim names and role vocabulary (https://www.imsglobal.org/spec/lti/v1p3/#required-message-claims)."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Claim(enum.StrEnum):
    MESSAGE_TYPE = "https://purl.imsglobal.org/spec/lti/claim/message_type"
    VERSION = "https://purl.imsglobal.org/spec/lti/claim/version"
    DEPLOYMENT_ID = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
    TARGET_LINK_URI = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"
    RESOURCE_LINK = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
    ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
    CONTEXT = "https://purl.imsglobal.org/spec/lti/claim/context"
    CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
    LAUNCH_PRESENTATION = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
    TOOL_PLATFORM = "https://purl.imsglobal.org/spec/lti/claim/tool_platform"
    AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
    NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
    DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    # Submission Review: the learner whose submission is reviewed.
    FOR_USER = "https://purl.imsglobal.org/spec/lti/claim/for_user"


class Scope(enum.StrEnum):
    """The service scopes the tool asks for (AGS 2.0 §3.1, NRPS 2.0 §3.3)."""

    LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
    LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
    RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
    SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    MEMBERSHIP_READONLY = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


class MessageType(enum.StrEnum):
    RESOURCE_LINK = "LtiResourceLinkRequest"
    DEEP_LINKING = "LtiDeepLinkingRequest"
    SUBMISSION_REVIEW = "LtiSubmissionReviewRequest"


SUPPORTED_MESSAGE_TYPES = frozenset(MessageType)

# Roles that may set up activities and see every student's results. Context roles and the institution /
# system administrator roles; platforms also send the short forms ("Instructor").
STAFF_ROLE_NAMES = frozenset({"Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator", "Mentor"})
ADMIN_ROLE_NAMES = frozenset({"Administrator", "SysAdmin"})


def role_name(role: str) -> str:
    """``http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor`` → ``Instructor``.

    Sub-roles (``.../membership/Instructor#TeachingAssistant``) give the sub-role's name.
    """
    return role.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def principal_role_name(role: str) -> str | None:
    """The principal of a sub-role: ``.../membership/Learner#Instructor`` → ``Learner``; ``None`` otherwise."""
    base, separator, _ = role.rpartition("#")
    if not separator or "/membership/" not in base:
        return None
    return base.rsplit("/", 1)[-1]


def is_staff(roles: Iterable[str]) -> bool:
    """Instructor-like in this course. Learners (including a learner sub-role named Instructor), unknown roles
    and no role at all are not."""
    return any(role_name(role) in STAFF_ROLE_NAMES and principal_role_name(role) != "Learner" for role in roles)


def is_platform_admin(roles: Iterable[str]) -> bool:
    """An LMS administrator (institution or system role), who may open the tool's admin pages."""
    return any(
        role_name(role) in ADMIN_ROLE_NAMES and ("/institution/" in role or "/system/" in role)
        for role in roles
    )
