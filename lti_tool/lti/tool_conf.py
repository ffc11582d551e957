"""pylti1p3 configuration backed by our tables (instead of its JSON-file configs).

pylti1p3's service classes (deep linking, AGS, NRPS) need a ``Registration`` carrying the platform's endpoints
and the tool's current signing key; :func:`pylti_registration` builds one from an ``LtiRegistration`` row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import orm

from lti_tool.keys import SigningKey
from lti_tool.keys import signing_key
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration


def pylti_registration(registration: LtiRegistration, key: SigningKey) -> Registration:
    result = (
        Registration()
        .set_issuer(registration.issuer)
        .set_client_id(registration.client_id)
        .set_auth_login_url(registration.auth_login_url)
        .set_auth_token_url(registration.auth_token_url)
        .set_key_set_url(registration.key_set_url)
        .set_key_set(registration.key_set)  # type: ignore[arg-type]
        .set_tool_private_key(key.private_key_pem)
    )
    if registration.auth_audience:
        result.set_auth_audience(registration.auth_audience)
    # pylti1p3 derives kid from the public key it is given; we publish the RFC 7638 thumbprint instead.
    result.get_kid = lambda: key.kid  # type: ignore[method-assign]
    return result


class DatabaseToolConf(ToolConfAbstract[Any]):
    """Always "many client_ids per issuer": Canvas gives every school the same issuer."""

    def __init__(self, session: orm.Session) -> None:
        super().__init__()
        self._session = session

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        raise NotImplementedError("registrations are looked up by issuer and client_id")

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any, **kwargs: Any) -> Registration:
        row = self._session.scalars(
            sa.select(LtiRegistration).where(
                LtiRegistration.issuer == iss,
                LtiRegistration.client_id == client_id,
                LtiRegistration.is_active.is_(True),
            )
        ).first()
        return pylti_registration(row, signing_key(self._session)) if row else None  # type: ignore[return-value]

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        raise NotImplementedError("deployments are looked up by issuer, client_id and deployment_id")

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        found = self._session.scalar(
            sa.select(LtiDeployment.id)
            .join(LtiRegistration)
            .where(
                LtiRegistration.issuer == iss,
                LtiRegistration.client_id == client_id,
                LtiDeployment.deployment_id == deployment_id,
                LtiDeployment.status == DeploymentStatus.ACTIVE.value,
            )
        )
        return Deployment().set_deployment_id(deployment_id) if found else None
