"""The course roster from Names and Role Provisioning Services (every page; the next-page URL kept exactly)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import orm

from lti_tool.grading import AccessTokenError
from lti_tool.grading import AgsClient
from lti_tool.grading import AgsError
from lti_tool.lti.claims import Scope
from lti_tool.lti.claims import role_name
from lti_tool.models import LtiRegistration
from lti_tool.translatable import gettext

log = logging.getLogger(__name__)

NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


@dataclass(frozen=True)
class Member:
    sub: str
    name: str
    email: str | None
    given_name: str | None = None  # as the LMS gave them, for the CSV export
    family_name: str | None = None


class RosterUnavailable(Exception):
    """The platform did not give the roster; the message says why (shown to the teacher)."""


def learners(session: orm.Session, ags: AgsClient, registration: LtiRegistration, memberships_url: str) -> list[Member]:
    """Active learners of the course, read page by page."""
    members: list[Member] = []
    try:
        for page in ags.pages(session, registration, memberships_url, [Scope.MEMBERSHIP_READONLY], NRPS_MEDIA_TYPE):
            body = page.json()
            for member in body.get("members", []) if isinstance(body, dict) else []:
                if _is_active_learner(member):
                    members.append(_member(member))
    except (AgsError, AccessTokenError, ValueError) as exc:
        log.warning("roster of %s unavailable: %s", memberships_url, exc)
        raise RosterUnavailable(gettext("The LMS did not send the course roster, so only students who opened "
                                        "the activity are listed.")) from exc
    return members


def _is_active_learner(member: object) -> bool:
    if not isinstance(member, dict) or not member.get("user_id"):
        return False
    roles = [role_name(str(role)) for role in member.get("roles", [])]
    return "Learner" in roles and str(member.get("status", "Active")) == "Active"


def _member(member: dict[str, object]) -> Member:
    joined = " ".join(str(member[part]) for part in ("given_name", "family_name") if member.get(part))
    name = str(member.get("name") or joined or member.get("email") or member["user_id"])
    email, given, family = member.get("email"), member.get("given_name"), member.get("family_name")
    return Member(sub=str(member["user_id"]), name=name, email=str(email) if email else None,
                  given_name=str(given) if given else None, family_name=str(family) if family else None)
