"""Record a validated launch: its deployment, user, course, link and membership, and the launch handle.

One ``<entity>_row`` builder per entity (as django-lti has one sync function each); :func:`record_launch` writes
them all with :func:`lti_tool.launch.rows.write_launch_rows`, which also marks the login used.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import upsert
from lti_tool.db import utcnow
from lti_tool.inputs import cleaned_text
from lti_tool.inputs import column_length
from lti_tool.inputs import has_control
from lti_tool.launch.rows import LaunchRows
from lti_tool.launch.rows import write_launch_rows
from lti_tool.lti.claims import Claim
from lti_tool.lti.directory import DISABLED_REGISTRATION
from lti_tool.lti.directory import PlatformDirectory
from lti_tool.lti.errors import OPEN_AGAIN
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.launch import ValidatedLaunch
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiContext
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.translatable import N_

log = logging.getLogger(__name__)


def find_or_register_deployment(session: orm.Session, registration_id: int, deployment_id: str,
                                auto_approve: bool) -> LtiDeployment:
    """The deployment, recorded on first sight: pending for an admin, or active if auto-approval is on.

    A new deployment is committed at once, so that the record an admin must approve survives the refused launch.
    """
    deployment = session.scalars(
        sa.select(LtiDeployment).where(LtiDeployment.registration_id == registration_id,
                                       LtiDeployment.deployment_id == deployment_id)
    ).first()
    if deployment is not None:
        return deployment
    status = DeploymentStatus.ACTIVE if auto_approve else DeploymentStatus.PENDING
    upsert(session, LtiDeployment, ["registration_id", "deployment_id"], {
        "registration_id": registration_id, "deployment_id": deployment_id, "status": status.value,
        "datetime_created": utcnow(), "datetime_status_changed": utcnow(),
    })
    session.commit()
    log.info("new deployment %r of registration %s recorded as %s", deployment_id, registration_id, status.value)
    return session.scalars(
        sa.select(LtiDeployment).where(LtiDeployment.registration_id == registration_id,
                                       LtiDeployment.deployment_id == deployment_id)
    ).one()


def deployment_refusal(deployment: LtiDeployment) -> LaunchError | None:
    """Why launches through this deployment are refused, or ``None`` if it is active."""
    if deployment.status == DeploymentStatus.PENDING:
        return LaunchError(
            403,
            N_("This LMS installation of the tool (deployment %(deployment)s) is waiting for approval by the "
               "tool's administrator. Please try again once it has been approved."),
            title=N_("Waiting for approval"), deployment=repr(deployment.deployment_id),
        )
    if deployment.status != DeploymentStatus.ACTIVE:
        return LaunchError(403, N_("The tool's administrator has disabled deployment %(deployment)s."),
                           deployment=repr(deployment.deployment_id))
    return None


def require_active(deployment: LtiDeployment) -> None:
    refusal = deployment_refusal(deployment)
    if refusal is not None:
        raise refusal


def user_row(registration_id: int, claims: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    # Names and email are overwritten, not kept: when a platform stops sharing them, so do we.
    return {
        "registration_id": registration_id,
        "sub": _identifier(claims["sub"], "sub", LtiUser.sub),
        # Display values are cleaned, not refused: a learner whose LMS name holds a NUL must still launch.
        "name": cleaned_text(_blank_to_none(claims.get("name")), LtiUser.name),
        "given_name": cleaned_text(_blank_to_none(claims.get("given_name")), LtiUser.given_name),
        "family_name": cleaned_text(_blank_to_none(claims.get("family_name")), LtiUser.family_name),
        "email": cleaned_text(_blank_to_none(claims.get("email")), LtiUser.email),
        "datetime_updated": now,
    }


def context_row(deployment_pk: int, claims: dict[str, Any], now: dt.datetime) -> dict[str, Any] | None:
    context = claims.get(Claim.CONTEXT)
    if not isinstance(context, dict) or not context.get("id"):
        return None
    ags = _claim_object(claims, Claim.AGS_ENDPOINT)
    nrps = _claim_object(claims, Claim.NRPS)
    return {
        "deployment_id": deployment_pk,
        "id_on_platform": _identifier(context["id"], "context id", LtiContext.id_on_platform),
        "title": cleaned_text(_blank_to_none(context.get("title")), LtiContext.title),
        "label": cleaned_text(_blank_to_none(context.get("label")), LtiContext.label),
        "memberships_url": _url(nrps.get("context_memberships_url"), "context_memberships_url",
                                LtiContext.memberships_url),
        "lineitems_url": _url(ags.get("lineitems"), "lineitems", LtiContext.lineitems_url),
        "ags_scopes": [str(scope) for scope in ags.get("scope", []) if isinstance(scope, str)],
        "datetime_updated": now,
    }


def resource_link_row(claims: dict[str, Any], now: dt.datetime) -> dict[str, Any] | None:
    """The link's values without its context (the caller's write supplies it); ``None`` without an id."""
    link = claims.get(Claim.RESOURCE_LINK)
    if not isinstance(link, dict) or not link.get("id"):
        return None
    ags = _claim_object(claims, Claim.AGS_ENDPOINT)
    return {
        "id_on_platform": _identifier(link["id"], "resource link id", LtiResourceLink.id_on_platform),
        "title": cleaned_text(_blank_to_none(link.get("title")), LtiResourceLink.title),
        "lineitem_url": _url(ags.get("lineitem"), "lineitem", LtiResourceLink.lineitem_url),
        "datetime_updated": now,
    }


@dataclass(frozen=True)
class RecordedLaunch:
    launch: LtiLaunch
    # The activity the launched link held when the launch was written (None: none yet, or no link).
    link_activity_id: int | None


def record_launch(session: orm.Session, directory: PlatformDirectory, launch: ValidatedLaunch, auto_approve: bool,
                  ttl_seconds: int) -> RecordedLaunch:
    """Store everything the launch tells us and mark its login used. The caller commits.

    :raise LaunchError: the deployment is pending or disabled, the registration disabled, or the login was
        already used. The caller must then roll back: the user, course and link rows may have been written.
    """
    claims = launch.claims
    registration_id = launch.registration.id
    deployment_pk = directory.deployment_pk(session, registration_id, launch.deployment_id)
    if deployment_pk is None:
        deployment = find_or_register_deployment(session, registration_id, launch.deployment_id, auto_approve)
        require_active(deployment)
        deployment_pk = deployment.id
    now = utcnow()
    roles = [str(role) for role in claims.get(Claim.ROLES) or [] if isinstance(role, str)]
    context = context_row(deployment_pk, claims, now)
    launch_values = {
        "id": secrets.token_urlsafe(32), "registration_id": registration_id, "deployment_id": deployment_pk,
        "message_type": launch.message_type, "roles": roles, "claims": claims,
        "expires_at": now + dt.timedelta(seconds=ttl_seconds), "login_id": launch.login_state.login_id,
    }
    written = write_launch_rows(session, LaunchRows(
        user=user_row(registration_id, claims, now), context=context,
        resource_link=resource_link_row(claims, now) if context is not None else None,
        membership={"roles": roles, "datetime_updated": now}, launch=launch_values,
    ))
    if written is None:
        raise why_not_recorded(session, directory, registration_id, deployment_pk, launch.login_state.login_id)
    record = LtiLaunch(**launch_values, user_id=written.user_id, context_id=written.context_id,
                       resource_link_id=written.resource_link_id)
    return RecordedLaunch(launch=record, link_activity_id=written.link_activity_id)


def why_not_recorded(session: orm.Session, directory: PlatformDirectory, registration_id: int, deployment_pk: int,
                     login_id: str) -> LaunchError:
    """The refusal to give when the launch's guarded INSERT wrote nothing.

    A deployment or registration found disabled means this process's directory is stale: it is cleared so the
    next request reads them again. A replay says nothing about the configuration and leaves the cache alone.
    """
    if session.scalar(sa.select(LtiLaunch.id).where(LtiLaunch.login_id == login_id)) is not None:
        return LaunchError(401, N_("This launch was already used. Open the activity again from the course page."),
                           title=OPEN_AGAIN)
    directory.clear()
    deployment = session.get(LtiDeployment, deployment_pk)
    refusal = deployment_refusal(deployment) if deployment is not None else None
    if refusal is not None:
        return refusal
    registration = session.get(LtiRegistration, registration_id)
    if deployment is None or registration is None or not registration.is_active:
        return LaunchError(403, DISABLED_REGISTRATION)
    # Not reachable through the guarded INSERT's conditions; kept so that a future condition fails clearly.
    return LaunchError(409, N_("The launch could not be recorded. Open the activity again from the course page."))


def _claim_object(claims: dict[str, Any], name: str) -> dict[str, Any]:
    value = claims.get(name)
    return value if isinstance(value, dict) else {}


def _blank_to_none(value: Any) -> Any:
    return None if value in (None, "") else value


def _identifier(value: Any, name: str, column: Any) -> str:
    """An id the platform sends (sub, context or link id): refused, not altered, when it cannot be stored."""
    text = str(value)
    if has_control(text):
        raise LaunchError(400, N_("The launch's %(claim)s contains control characters (such as NUL), which are not "
                                  "allowed."), claim=name)
    limit = column_length(column)
    if limit is not None and len(text) > limit:
        raise LaunchError(400, N_("The launch's %(claim)s is longer than %(limit)s characters."), claim=name,
                          limit=limit)
    return text


def _url(value: Any, name: str, column: Any) -> str | None:
    return None if value in (None, "") else _identifier(value, name, column)
