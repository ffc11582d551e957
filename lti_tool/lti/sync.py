"""Record a validated launch: its deployment, user, course, link and membership, and the launch handle.

One ``sync_<entity>_from_launch`` per entity (as django-lti does) and :func:`record_launch` to run them all in the
transaction that consumes the login state.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import upsert
from lti_tool.db import utcnow
from lti_tool.lti.claims import Claim
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.launch import ValidatedLaunch
from lti_tool.lti.launch import consume_login_state
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiContext
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser

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


def require_active(deployment: LtiDeployment) -> None:
    if deployment.status == DeploymentStatus.PENDING:
        raise LaunchError(
            403,
            f"This LMS installation of the tool (deployment {deployment.deployment_id!r}) is waiting for approval "
            "by the tool's administrator. Please try again once it has been approved.",
            title="Waiting for approval",
        )
    if deployment.status != DeploymentStatus.ACTIVE:
        raise LaunchError(403, f"The tool's administrator has disabled deployment {deployment.deployment_id!r}.")


def sync_user_from_launch(session: orm.Session, registration_id: int, claims: dict[str, Any]) -> int:
    # Names and email are overwritten, not kept: when a platform stops sharing them, so do we.
    return upsert(session, LtiUser, ["registration_id", "sub"], {
        "registration_id": registration_id,
        "sub": str(claims["sub"]),
        "name": _text(claims.get("name")),
        "given_name": _text(claims.get("given_name")),
        "family_name": _text(claims.get("family_name")),
        "email": _text(claims.get("email")),
        "datetime_updated": utcnow(),
    })


def sync_context_from_launch(session: orm.Session, deployment_pk: int, claims: dict[str, Any]) -> int | None:
    context = claims.get(Claim.CONTEXT)
    if not isinstance(context, dict) or not context.get("id"):
        return None
    ags = _claim_object(claims, Claim.AGS_ENDPOINT)
    nrps = _claim_object(claims, Claim.NRPS)
    return upsert(session, LtiContext, ["deployment_id", "id_on_platform"], {
        "deployment_id": deployment_pk,
        "id_on_platform": str(context["id"]),
        "title": _text(context.get("title")),
        "label": _text(context.get("label")),
        "memberships_url": _text(nrps.get("context_memberships_url")),
        "lineitems_url": _text(ags.get("lineitems")),
        "ags_scopes": [str(scope) for scope in ags.get("scope", []) if isinstance(scope, str)],
        "datetime_updated": utcnow(),
    })


def sync_resource_link_from_launch(session: orm.Session, context_pk: int | None, claims: dict[str, Any]) -> int | None:
    link = claims.get(Claim.RESOURCE_LINK)
    if context_pk is None or not isinstance(link, dict) or not link.get("id"):
        return None
    ags = _claim_object(claims, Claim.AGS_ENDPOINT)
    return upsert(session, LtiResourceLink, ["context_id", "id_on_platform"], {
        "context_id": context_pk,
        "id_on_platform": str(link["id"]),
        "title": _text(link.get("title")),
        "lineitem_url": _text(ags.get("lineitem")),
        "datetime_updated": utcnow(),
    })


def sync_membership_from_launch(session: orm.Session, context_pk: int | None, user_pk: int,
                                roles: list[str]) -> None:
    if context_pk is None:
        return
    upsert(session, LtiMembership, ["context_id", "user_id"], {
        "context_id": context_pk, "user_id": user_pk, "roles": roles, "datetime_updated": utcnow(),
    })


def record_launch(session: orm.Session, launch: ValidatedLaunch, auto_approve: bool,
                  ttl_seconds: int) -> LtiLaunch:
    """Consume the login state and store everything the launch tells us. The caller commits.

    :raise LaunchError: the deployment is pending or disabled, or the state was already used.
    """
    claims = launch.claims
    deployment = find_or_register_deployment(session, launch.registration.id, launch.deployment_id, auto_approve)
    require_active(deployment)
    consume_login_state(session, launch.login_state.state)
    roles = [str(role) for role in claims.get(Claim.ROLES) or [] if isinstance(role, str)]
    user_pk = sync_user_from_launch(session, launch.registration.id, claims)
    context_pk = sync_context_from_launch(session, deployment.id, claims)
    resource_link_pk = sync_resource_link_from_launch(session, context_pk, claims)
    sync_membership_from_launch(session, context_pk, user_pk, roles)
    record = LtiLaunch(
        id=secrets.token_urlsafe(32),
        registration_id=launch.registration.id,
        deployment_id=deployment.id,
        context_id=context_pk,
        resource_link_id=resource_link_pk,
        user_id=user_pk,
        message_type=launch.message_type,
        roles=roles,
        claims=claims,
        expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds),
    )
    # One Core INSERT: the ORM's unit of work costs more than the statement on this hot path.
    session.execute(sa.insert(LtiLaunch).values({column.key: getattr(record, column.key)
                                                 for column in LtiLaunch.__table__.columns}))
    return record


def purge_expired_launches(session: orm.Session) -> int:
    result = session.execute(sa.delete(LtiLaunch).where(LtiLaunch.expires_at < utcnow()))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _claim_object(claims: dict[str, Any], name: str) -> dict[str, Any]:
    value = claims.get(name)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return str(value)[:500] if value not in (None, "") else None
