"""Typed SQLAlchemy models, one module per domain. Import models from here."""

from lti_tool.models.keys import ServiceAccessToken
from lti_tool.models.keys import ToolKey
from lti_tool.models.lti import DeploymentStatus
from lti_tool.models.lti import LoginState
from lti_tool.models.lti import LtiContext
from lti_tool.models.lti import LtiDeployment
from lti_tool.models.lti import LtiLaunch
from lti_tool.models.lti import LtiMembership
from lti_tool.models.lti import LtiRegistration
from lti_tool.models.lti import LtiResourceLink
from lti_tool.models.lti import LtiUser

__all__ = [
    "DeploymentStatus",
    "LoginState",
    "LtiContext",
    "LtiDeployment",
    "LtiLaunch",
    "LtiMembership",
    "LtiRegistration",
    "LtiResourceLink",
    "LtiUser",
    "ServiceAccessToken",
    "ToolKey",
]
