"""Typed SQLAlchemy models, one module per domain. Import models from here."""

from lti_tool.models.admin import ToolAdmin
from lti_tool.models.assessment import Activity
from lti_tool.models.assessment import Assessment
from lti_tool.models.assessment import Attempt
from lti_tool.models.assessment import AttemptsPolicy
from lti_tool.models.assessment import AttemptStatus
from lti_tool.models.assessment import FulfillmentState
from lti_tool.models.assessment import ProviderAccount
from lti_tool.models.assessment import Result
from lti_tool.models.assessment import ScoreSubmission
from lti_tool.models.assessment import SubmissionStatus
from lti_tool.models.audit import AdminAuditEntry
from lti_tool.models.audit import LoginThrottle
from lti_tool.models.breaker import PlatformBreaker
from lti_tool.models.invitation import RegistrationInvitation
from lti_tool.models.keys import ServiceAccessToken
from lti_tool.models.keys import ToolKey
from lti_tool.models.lti import DeploymentStatus
from lti_tool.models.lti import LtiContext
from lti_tool.models.lti import LtiDeployment
from lti_tool.models.lti import LtiLaunch
from lti_tool.models.lti import LtiMembership
from lti_tool.models.lti import LtiRegistration
from lti_tool.models.lti import LtiResourceLink
from lti_tool.models.lti import LtiUser
from lti_tool.models.lti import ReviewStatus
from lti_tool.models.operations import WorkerHeartbeat

__all__ = [
    "Activity",
    "AdminAuditEntry",
    "Assessment",
    "Attempt",
    "AttemptStatus",
    "AttemptsPolicy",
    "DeploymentStatus",
    "FulfillmentState",
    "LoginThrottle",
    "LtiContext",
    "LtiDeployment",
    "LtiLaunch",
    "LtiMembership",
    "LtiRegistration",
    "LtiResourceLink",
    "LtiUser",
    "PlatformBreaker",
    "ProviderAccount",
    "RegistrationInvitation",
    "Result",
    "ReviewStatus",
    "ScoreSubmission",
    "ServiceAccessToken",
    "SubmissionStatus",
    "ToolAdmin",
    "ToolKey",
    "WorkerHeartbeat",
]
