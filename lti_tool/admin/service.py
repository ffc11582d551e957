"""What the admin pages do, without HTTP: overview counts, deployments, registrations and assessments.

Every function that changes something raises :class:`BadInput` (the page answers 400 and shows the message)
before it changes anything. The passback queue lives in :mod:`lti_tool.admin.queue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.activities import add_speechace_assessment
from lti_tool.db import utcnow
from lti_tool.models import Assessment
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.providers.speechace import split_share_link

MAX_TITLE_LENGTH = 200


class BadInput(ValueError):
    """The request cannot be carried out as given; the message is shown to the admin."""


def masked(secret: str | None) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    if not secret:
        return "(none)"
    return "•" * 8 + secret[-4:] if len(secret) > 8 else "•" * 8


# --- overview ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Overview:
    registrations: int
    deployments: dict[str, int]
    assessments: int
    queue: dict[str, int]


def overview(session: orm.Session) -> Overview:
    return Overview(
        registrations=_count(session, LtiRegistration),
        deployments=_count_by(session, LtiDeployment.status, list(DeploymentStatus)),
        assessments=_count(session, Assessment),
        queue=_count_by(session, ScoreSubmission.status, list(SubmissionStatus)),
    )


def _count(session: orm.Session, model: type[Any]) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _count_by(session: orm.Session, column: orm.InstrumentedAttribute[str], values: list[str]) -> dict[str, int]:
    """Counts per value, listing every known value (zero included) so the page always shows the same rows."""
    counts = {str(value): 0 for value in values}
    for value, count in session.execute(sa.select(column, sa.func.count()).group_by(column)):
        counts[value] = int(count)
    return counts


# --- deployments -------------------------------------------------------------------------------------------------

DEPLOYMENT_ACTIONS = {"approve": DeploymentStatus.ACTIVE, "disable": DeploymentStatus.DISABLED}


def list_deployments(session: orm.Session) -> list[LtiDeployment]:
    """Pending deployments first (they wait for a decision), then the others, oldest first."""
    waiting_first = sa.case((LtiDeployment.status == DeploymentStatus.PENDING.value, 0), else_=1)
    return list(session.scalars(sa.select(LtiDeployment).options(orm.joinedload(LtiDeployment.registration))
                                .order_by(waiting_first, LtiDeployment.id)))


def change_deployment(session: orm.Session, deployment_pk: int, action: str) -> LtiDeployment:
    """Approve or disable a deployment. :raise BadInput: unknown deployment or action."""
    status = DEPLOYMENT_ACTIONS.get(action)
    if status is None:
        raise BadInput(f"Unknown action {action!r}: use approve or disable.")
    deployment = session.get(LtiDeployment, deployment_pk)
    if deployment is None:
        raise BadInput(f"There is no deployment {deployment_pk}.")
    if deployment.status != status.value:
        deployment.status = status.value
        deployment.datetime_status_changed = utcnow()
    return deployment


# --- registrations -----------------------------------------------------------------------------------------------

REGISTRATION_ACTIONS = {"activate": True, "deactivate": False}


def list_registrations(session: orm.Session) -> list[LtiRegistration]:
    return list(session.scalars(sa.select(LtiRegistration).options(orm.selectinload(LtiRegistration.deployments))
                                .order_by(LtiRegistration.id)))


def change_registration(session: orm.Session, registration_pk: int, action: str) -> LtiRegistration:
    """Activate or deactivate a registration (a deactivated one refuses logins, launches and passback).

    :raise BadInput: unknown registration or action.
    """
    if action not in REGISTRATION_ACTIONS:
        raise BadInput(f"Unknown action {action!r}: use activate or deactivate.")
    registration = session.get(LtiRegistration, registration_pk)
    if registration is None:
        raise BadInput(f"There is no registration {registration_pk}.")
    registration.is_active = REGISTRATION_ACTIONS[action]
    return registration


# --- assessments -------------------------------------------------------------------------------------------------

ASSESSMENT_ACTIONS = {"activate": True, "deactivate": False}


@dataclass(frozen=True)
class AssessmentRow:
    """What the admin page shows of an assessment: never the secret, only its masked form."""

    id: int
    public_id: str
    provider: str
    title: str
    mode: str
    url: str | None
    masked_key: str
    has_key: bool
    is_active: bool


def list_assessments(session: orm.Session) -> list[AssessmentRow]:
    return [_assessment_row(row) for row in session.scalars(sa.select(Assessment).order_by(Assessment.id))]


def _assessment_row(assessment: Assessment) -> AssessmentRow:
    settings = assessment.settings or {}
    url = settings.get("oembed_url") or settings.get("test_url")
    return AssessmentRow(id=assessment.id, public_id=assessment.public_id, provider=assessment.provider,
                         title=assessment.title, mode=str(settings.get("mode", "")),
                         url=str(url) if url else None, masked_key=masked(assessment.secret),
                         has_key=bool(assessment.secret), is_active=assessment.is_active)


def add_assessment(session: orm.Session, title: str, share_link: str, test_url: str) -> Assessment:
    """A Speechace assessment from its oEmbed share link (the key is stored apart) or its iframe test URL.

    :raise BadInput: no title, neither or both links, or an unusable link.
    """
    title = _valid_title(title)
    try:
        return add_speechace_assessment(session, title, oembed_url=share_link.strip() or None,
                                        test_url=test_url.strip() or None)
    except ValueError as exc:
        raise BadInput(_sentence(str(exc))) from exc


def replace_key(session: orm.Session, assessment_pk: int, share_link: str) -> Assessment:
    """Store the key of a new share link of the same test (Speechace issued a new key).

    A link to another test is refused: activities placed in courses would silently switch tests.
    :raise BadInput: unknown assessment, one without a share link, another test's link, or an unusable link.
    """
    assessment = _speechace_assessment(session, assessment_pk)
    if assessment.settings.get("mode") != "oembed":
        raise BadInput("This assessment uses an iframe test URL and has no key to replace; add the share link "
                       "as a new assessment instead.")
    try:
        url_without_key, key = split_share_link(share_link)
    except ValueError as exc:
        raise BadInput(_sentence(str(exc))) from exc
    if url_without_key != assessment.settings.get("oembed_url"):
        raise BadInput("This share link is for another Speechace test. Add it as a new assessment instead.")
    assessment.secret = key
    return assessment


def change_assessment(session: orm.Session, assessment_pk: int, action: str) -> Assessment:
    """Activate or deactivate an assessment (deactivated ones are no longer offered to teachers).

    :raise BadInput: unknown assessment or action.
    """
    if action not in ASSESSMENT_ACTIONS:
        raise BadInput(f"Unknown action {action!r}: use activate or deactivate.")
    assessment = session.get(Assessment, assessment_pk)
    if assessment is None:
        raise BadInput(f"There is no assessment {assessment_pk}.")
    assessment.is_active = ASSESSMENT_ACTIONS[action]
    return assessment


def _speechace_assessment(session: orm.Session, assessment_pk: int) -> Assessment:
    assessment = session.get(Assessment, assessment_pk)
    if assessment is None:
        raise BadInput(f"There is no assessment {assessment_pk}.")
    if assessment.provider != "speechace":
        raise BadInput("Only Speechace keys can be replaced here.")
    return assessment


def _valid_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise BadInput("Give the assessment a title (teachers choose tests by it).")
    if len(title) > MAX_TITLE_LENGTH:
        raise BadInput(f"The title is longer than {MAX_TITLE_LENGTH} characters.")
    return title


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
