"""Who may use the admin pages, and how a request proves it.

Two ways in:

* a tool admin logs in at ``/admin/login``; a signed Flask session cookie then carries the admin's id, a fingerprint
  of the password hash (a password change or a removed account ends the login) and the login time. State-changing
  requests must echo the session's CSRF token;
* an LMS administrator (institution or system role) launched the tool: the launch handle (``?launch=…``) is a
  bearer secret that the admin pages carry along in their links and forms. It cannot be guessed by another site,
  so it also stands in for the CSRF token; state changes still require POST.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from flask import request
from flask import session as cookie
from sqlalchemy import orm

from lti_tool.activities import NotAllowed
from lti_tool.activities import load_launch
from lti_tool.admin.accounts import password_fingerprint
from lti_tool.admin.service import INSTALLATION
from lti_tool.admin.service import AdminScope
from lti_tool.admin.service import FormExpired
from lti_tool.lti.claims import is_platform_admin
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.models.admin import ToolAdmin
from lti_tool.services import get_services
from lti_tool.translatable import N_

LOGIN_LIFETIME_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
LAUNCH_PARAMETER = "launch"
_ADMIN_ID, _FINGERPRINT, _SINCE, _CSRF = "admin_id", "admin_fingerprint", "admin_since", "admin_csrf"


@dataclass(frozen=True)
class AdminIdentity:
    """The person behind an admin request; ``launch_id`` is set when they came from the LMS.

    ``name`` is what the server log says; ``person`` an LMS admin's name in their LMS, which the pages show.
    ``actor`` is what the audit log records: a tool admin's username, or an LMS admin's user id on their platform
    (``issuer``); an LMS admin's ``registration_pk`` and ``deployment_pk`` bound what they may see.
    """

    name: str
    person: str = ""
    launch_id: str | None = None
    actor: str = ""
    issuer: str | None = None
    registration_pk: int | None = None
    deployment_pk: int | None = None

    @property
    def by_launch(self) -> bool:
        return self.launch_id is not None

    @property
    def scope(self) -> AdminScope:
        if self.by_launch:
            return AdminScope(registration_pk=self.registration_pk, deployment_pk=self.deployment_pk)
        return INSTALLATION


def identify_admin(session: orm.Session) -> AdminIdentity | None:
    """The admin making this request, or ``None`` when the request carries no credentials at all.

    :raise NotAllowed: a launch handle of someone who is not an LMS administrator.
    :raise lti_tool.activities.LaunchExpired: an unknown or expired launch handle.
    """
    launch_id = request.args.get(LAUNCH_PARAMETER) or request.form.get(LAUNCH_PARAMETER)
    if launch_id:
        return _identify_lms_admin(session, launch_id)
    return _identify_logged_in_admin(session)


def _identify_lms_admin(session: orm.Session, launch_id: str) -> AdminIdentity:
    if not get_services().settings.lms_admin_access:
        raise NotAllowed(N_("LMS administrators' access to the admin pages is turned off here (%(setting)s): "
                            "use a tool admin login."), setting="LTI_TOOL_LMS_ADMIN_ACCESS=false")
    launch = load_launch(session, launch_id)
    if not is_platform_admin(launch.roles):
        raise NotAllowed(N_("Only the tool's administrators and LMS administrators can open the admin pages."))
    # The launch outlives the decision to trust its LMS: a since disabled deployment or registration no longer
    # grants anything.
    if not _launched_through_active_installation(session, launch):
        raise NotAllowed(N_("The LMS installation you launched from has been disabled in the tool."))
    user = session.get(LtiUser, launch.user_id)
    registration = session.get(LtiRegistration, launch.registration_id)
    person = user.display_name if user else str(launch.user_id)
    return AdminIdentity(name=f"LMS admin {person}", person=person, launch_id=launch.id,
                         actor=user.sub if user else str(launch.user_id),
                         issuer=registration.issuer if registration else None,
                         registration_pk=launch.registration_id, deployment_pk=launch.deployment_id)


def _launched_through_active_installation(session: orm.Session, launch: LtiLaunch) -> bool:
    deployment = session.get(LtiDeployment, launch.deployment_id)
    registration = session.get(LtiRegistration, launch.registration_id)
    return (deployment is not None and deployment.status == DeploymentStatus.ACTIVE
            and registration is not None and registration.is_active)


def _identify_logged_in_admin(session: orm.Session) -> AdminIdentity | None:
    admin_id, since = cookie.get(_ADMIN_ID), cookie.get(_SINCE)
    if not isinstance(admin_id, int) or not isinstance(since, int | float):
        return None
    if time.time() - since > LOGIN_LIFETIME_SECONDS:
        return None
    admin = session.get(ToolAdmin, admin_id)
    if admin is None or not hmac.compare_digest(str(cookie.get(_FINGERPRINT, "")), password_fingerprint(admin)):
        return None
    return AdminIdentity(name=admin.username, actor=admin.username)


def log_in(admin: ToolAdmin) -> None:
    """Start a fresh login session (nothing from before the login survives it)."""
    cookie.clear()
    cookie.update({_ADMIN_ID: admin.id, _FINGERPRINT: password_fingerprint(admin), _SINCE: int(time.time()),
                   _CSRF: secrets.token_urlsafe(32)})


def log_out() -> None:
    cookie.clear()


def csrf_token() -> str:
    """This browser session's CSRF token, created on first use (the login form needs one before any login)."""
    token = cookie.get(_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        cookie[_CSRF] = token
    return token


def require_csrf_token() -> None:
    """:raise FormExpired: the form's token is missing or not this session's."""
    expected = cookie.get(_CSRF)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise FormExpired(N_("The form has expired or did not come from this site. Reload the page and try again."))
