"""What the admin pages do, without HTTP: overview counts, deployments, registrations and assessments.

Every function takes an :class:`AdminScope`: a tool admin's covers the whole installation, an LMS admin's one
registration (one school). Rows outside the scope are never read; an action on one raises :class:`NotFound`,
exactly as for a row that does not exist, so an LMS admin cannot even learn which ids exist elsewhere.
Every function that changes something raises :class:`BadInput` (the page answers 400 and shows the message) or
:class:`Forbidden` before it changes anything. The passback queue lives in :mod:`lti_tool.admin.queue`.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.lti import registration_approval
from lti_tool.masking import masked
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import ProviderAccount
from lti_tool.models import ReviewStatus
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.providers.interfaces import AssessmentAction
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import RefusedValue
from lti_tool.translatable import N_
from lti_tool.translatable import MarkedError

__all__ = ["masked"]  # shown masked on every admin page; defined with the other secrets' helpers

MAX_TITLE_LENGTH = 200


class Refusal(MarkedError):
    """A refusal whose message a page shows (see :class:`~lti_tool.translatable.MarkedError`)."""


class BadInput(Refusal, ValueError):
    """The request cannot be carried out as given; the message is shown to the admin."""


@contextmanager
def refusals_as_bad_input() -> Iterator[None]:
    """A value a provider or the sharing rules refuse becomes the admin page's refusal: a marked sentence
    (:class:`RefusedValue`) keeps its catalogue entry, any other ``ValueError`` is the provider's own words."""
    try:
        yield
    except RefusedValue as exc:
        raise BadInput(exc.message, **exc.values) from exc
    except ValueError as exc:
        raise BadInput(_sentence(str(exc))) from exc


class NotFound(LookupError):
    """No such row in the admin's scope (it may exist in another school's: the answer is the same). The message
    is only logged: the page is a plain 404."""


class Forbidden(Refusal, PermissionError):
    """The row is visible in the admin's scope but only a tool admin may change it; the message says why."""


class FormExpired(Refusal):
    """A form posted with a login cookie but without this browser session's CSRF token: a 400 page says to reload
    the form (the admin blueprint's error handler), in the reader's language; the log says it in English."""


@dataclass(frozen=True)
class AdminScope:
    """What an admin may see: ``registration_pk`` ``None`` is the whole installation (tool admins); otherwise the
    one registration an LMS admin launched through. ``deployment_pk`` is that launch's deployment, which the rows an
    LMS admin creates (provider accounts) belong to."""

    registration_pk: int | None = None
    deployment_pk: int | None = None

    @property
    def is_installation(self) -> bool:
        return self.registration_pk is None


INSTALLATION = AdminScope()


def scoped_deployment_pks(scope: AdminScope) -> sa.Select[int]:
    """The deployments in the scope, as a subquery."""
    query = sa.select(LtiDeployment.id)
    if scope.registration_pk is not None:
        query = query.where(LtiDeployment.registration_id == scope.registration_pk)
    return query


# --- overview ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Overview:
    registrations: int
    deployments: dict[str, int]
    assessments: int
    queue: dict[str, int]


def overview(session: orm.Session, scope: AdminScope) -> Overview:
    registrations = sa.select(sa.func.count()).select_from(LtiRegistration)
    deployments = sa.select(LtiDeployment.status, sa.func.count()).group_by(LtiDeployment.status)
    queue = (sa.select(ScoreSubmission.status, sa.func.count())
             .join(Attempt, Attempt.id == ScoreSubmission.attempt_id).group_by(ScoreSubmission.status))
    if scope.registration_pk is not None:
        registrations = registrations.where(LtiRegistration.id == scope.registration_pk)
        deployments = deployments.where(LtiDeployment.registration_id == scope.registration_pk)
        queue = queue.where(Attempt.registration_id == scope.registration_pk)
    return Overview(
        registrations=int(session.scalar(registrations) or 0),
        deployments=_count_by(session, deployments, list(DeploymentStatus)),
        assessments=len(_scoped_assessments(session, scope)),
        queue=_count_by(session, queue, list(SubmissionStatus)),
    )


def _count_by(session: orm.Session, query: sa.Select[str, int], values: list[str]) -> dict[str, int]:
    """Counts per value, listing every known value (zero included) so the page always shows the same rows."""
    counts = {str(value): 0 for value in values}
    for value, count in session.execute(query):
        counts[value] = int(count)
    return counts


# --- deployments -------------------------------------------------------------------------------------------------

DEPLOYMENT_ACTIONS = {"approve": DeploymentStatus.ACTIVE, "disable": DeploymentStatus.DISABLED}


def list_deployments(session: orm.Session, scope: AdminScope) -> list[LtiDeployment]:
    """Pending deployments first (they wait for a decision), then the others, oldest first."""
    waiting_first = sa.case((LtiDeployment.status == DeploymentStatus.PENDING.value, 0), else_=1)
    return list(session.scalars(sa.select(LtiDeployment).options(orm.joinedload(LtiDeployment.registration))
                                .where(LtiDeployment.id.in_(scoped_deployment_pks(scope)))
                                .order_by(waiting_first, LtiDeployment.id)))


def change_deployment(session: orm.Session, scope: AdminScope, deployment_pk: int, action: str) -> LtiDeployment:
    """Approve or disable a deployment.

    An LMS admin may approve or disable their school's other deployments, never the one they launched through
    (they would lock themselves out). :raise NotFound: no such deployment in the scope. :raise BadInput: unknown
    action. :raise Forbidden: the LMS admin's own deployment.
    """
    deployment = session.scalars(sa.select(LtiDeployment).where(
        LtiDeployment.id == deployment_pk, LtiDeployment.id.in_(scoped_deployment_pks(scope)))).first()
    if deployment is None:
        raise NotFound(f"There is no deployment {deployment_pk}.")
    status = DEPLOYMENT_ACTIONS.get(action)
    if status is None:
        raise BadInput(N_("Unknown action %(action)s: use approve or disable."), action=repr(action))
    if deployment.id == scope.deployment_pk:
        raise Forbidden(N_("This is the deployment you launched from: only the tool's administrators can change "
                           "it."))
    if deployment.status != status.value:
        deployment.status = status.value
        deployment.datetime_status_changed = utcnow()
    return deployment


# --- registrations -----------------------------------------------------------------------------------------------

REGISTRATION_ACTIONS = {"activate": True, "deactivate": False, "approve": True, "reject": False}


def list_registrations(session: orm.Session, scope: AdminScope) -> list[LtiRegistration]:
    query = sa.select(LtiRegistration).options(orm.selectinload(LtiRegistration.deployments))
    if scope.registration_pk is not None:
        query = query.where(LtiRegistration.id == scope.registration_pk)
    return list(session.scalars(query.order_by(LtiRegistration.id)))


def scoped_registration(session: orm.Session, scope: AdminScope, registration_pk: int) -> LtiRegistration:
    """:raise NotFound: no such registration in the scope."""
    registration = session.get(LtiRegistration, registration_pk)
    if registration is None or scope.registration_pk not in (None, registration.id):
        raise NotFound(f"There is no registration {registration_pk}.")
    return registration


def change_registration(session: orm.Session, scope: AdminScope, registration_pk: int,
                        action: str) -> LtiRegistration:
    """Activate or deactivate a registration (a deactivated one refuses logins, launches and passback).

    Only tool admins: an LMS admin sees their own registration but deactivating it would lock them out, and
    activating it is meaningless (a deactivated registration cannot launch).
    :raise NotFound: no such registration in the scope. :raise Forbidden: an LMS admin. :raise BadInput: unknown
    action.
    """
    registration = scoped_registration(session, scope, registration_pk)
    if not scope.is_installation:
        raise Forbidden(N_("Only the tool's administrators can activate or deactivate a registration."))
    if action not in REGISTRATION_ACTIONS:
        raise BadInput(N_("Unknown action %(action)s: use approve, reject, activate or deactivate."),
                       action=repr(action))
    if action in {"approve", "reject"}:
        return registration_approval.review(session, registration.id, approve=action == "approve")
    if action == "activate" and registration.review_status != ReviewStatus.APPROVED.value:
        raise BadInput(N_("This registration has not been approved: approve it instead."))
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
    provider_label: str
    title: str
    mode: str
    url: str | None
    masked_key: str
    has_key: bool
    is_active: bool
    # False for an LMS admin looking at an assessment every school shares: only tool admins change those.
    can_change: bool = True
    # The provider's own changes offered beside it (e.g. replacing a key).
    actions: tuple[AssessmentAction, ...] = ()


def _account_deployments(session: orm.Session) -> dict[int, int | None]:
    return {account.id: account.deployment_id for account in session.scalars(sa.select(ProviderAccount))}


def _deployment_registrations(session: orm.Session) -> dict[int, int]:
    return {pk: registration_pk for pk, registration_pk in
            session.execute(sa.select(LtiDeployment.id, LtiDeployment.registration_id))}


def _assessment_school(assessment: Assessment, accounts: dict[int, int | None],
                       deployments: dict[int, int]) -> tuple[bool, int | None]:
    """(whether the assessment belongs to one school, and that school's registration pk)."""
    account_pk = assessment.settings.get("account_id") if assessment.settings else None
    deployment_pk = accounts.get(account_pk) if isinstance(account_pk, int) else None
    if deployment_pk is None:
        return False, None
    return True, deployments.get(deployment_pk)


def _scoped_assessments(session: orm.Session, scope: AdminScope) -> list[tuple[Assessment, bool]]:
    """Assessments the scope may see, each with whether it may change it.

    An LMS admin sees what is offered to their school: the installation-wide ones (those of providers without
    accounts, and those of provider accounts not tied to a deployment; read-only for them) and those of their own
    school's provider accounts (which they may change). Another school's are invisible.
    """
    accounts = _account_deployments(session)
    deployments = _deployment_registrations(session)
    visible = []
    for assessment in session.scalars(sa.select(Assessment).order_by(Assessment.id)):
        own_school, registration_pk = _assessment_school(assessment, accounts, deployments)
        if scope.is_installation:
            visible.append((assessment, True))
        elif not own_school:
            visible.append((assessment, False))
        elif registration_pk == scope.registration_pk:
            visible.append((assessment, True))
    return visible


def assessment_registration(session: orm.Session, assessment: Assessment) -> int | None:
    """The registration an assessment belongs to, ``None`` for one every school may use (for the audit log)."""
    deployments = _deployment_registrations(session)
    return _assessment_school(assessment, _account_deployments(session), deployments)[1]


def list_assessments(session: orm.Session, scope: AdminScope,
                     providers: Mapping[str, AssessmentProvider]) -> list[AssessmentRow]:
    return [_assessment_row(row, can_change, providers.get(row.provider))
            for row, can_change in _scoped_assessments(session, scope)]


def _changeable_assessment(session: orm.Session, scope: AdminScope, assessment_pk: int) -> Assessment:
    """:raise NotFound: not visible in the scope. :raise Forbidden: shared by every school, and not a tool admin."""
    for assessment, can_change in _scoped_assessments(session, scope):
        if assessment.id == assessment_pk:
            if not can_change:
                raise Forbidden(N_("Every school shares this assessment: only the tool's administrators can "
                                   "change it."))
            return assessment
    raise NotFound(f"There is no assessment {assessment_pk}.")


def _assessment_row(assessment: Assessment, can_change: bool, provider: AssessmentProvider | None) -> AssessmentRow:
    summary = provider.describe_assessment(assessment) if provider is not None else None
    actions = tuple(action for action in provider.assessment_actions if provider.offers_action(assessment, action.name)
                    ) if provider is not None else ()
    return AssessmentRow(id=assessment.id, public_id=assessment.public_id, provider=assessment.provider,
                         provider_label=provider.label if provider is not None else assessment.provider,
                         title=assessment.title, mode=summary.source if summary else "",
                         url=summary.url if summary else None, masked_key=masked(assessment.secret),
                         has_key=bool(assessment.secret), is_active=assessment.is_active,
                         can_change=can_change, actions=actions)


def add_assessment(session: orm.Session, scope: AdminScope, provider: AssessmentProvider, title: str,
                   values: Mapping[str, str]) -> Assessment:
    """An assessment of ``provider`` from its form's ``values`` (secrets are stored apart by the provider).

    A provider's shared assessments are offered to every school, so only tool admins add them.
    :raise Forbidden: an LMS admin adding a shared one. :raise BadInput: no title, or the provider refuses.
    """
    if provider.assessment_form.per_account:
        raise BadInput(N_("%(provider)s %(noun)ss are added to one of its accounts."), provider=provider.label,
                       noun=provider.assessment_form.noun)
    if provider.assessment_form.shared and not scope.is_installation:
        raise Forbidden(N_("%(provider)s tests are offered to every school: only the tool's administrators add "
                           "them."), provider=provider.label)
    title = _valid_title(title)
    with refusals_as_bad_input():
        return provider.create_assessment(session, title, values, None)


def change_by_provider(session: orm.Session, scope: AdminScope, providers: Mapping[str, AssessmentProvider],
                       assessment_pk: int, action: str, values: Mapping[str, str]) -> Assessment:
    """One of the assessment's provider's own changes (e.g. a new key for the same test).

    :raise NotFound: not in the scope. :raise Forbidden: shared, and not a tool admin. :raise BadInput: the
    provider offers no such change, or refuses it.
    """
    assessment = _changeable_assessment(session, scope, assessment_pk)
    provider = providers.get(assessment.provider)
    if provider is None or action not in {offered.name for offered in provider.assessment_actions}:
        label = provider.label if provider is not None else assessment.provider
        raise BadInput(N_("%(provider)s assessments cannot be changed that way (%(action)s)."), provider=label,
                       action=action)
    with refusals_as_bad_input():
        provider.change_assessment(session, assessment, action, values)
    return assessment


def change_assessment(session: orm.Session, scope: AdminScope, assessment_pk: int, action: str) -> Assessment:
    """Activate or deactivate an assessment (deactivated ones are no longer offered to teachers).

    :raise NotFound: not in the scope. :raise Forbidden: shared, and not a tool admin. :raise BadInput: unknown
    action.
    """
    assessment = _changeable_assessment(session, scope, assessment_pk)
    if action not in ASSESSMENT_ACTIONS:
        raise BadInput(N_("Unknown action %(action)s: use activate or deactivate."), action=repr(action))
    assessment.is_active = ASSESSMENT_ACTIONS[action]
    return assessment


def _valid_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise BadInput(N_("Give the assessment a title (teachers choose tests by it)."))
    if len(title) > MAX_TITLE_LENGTH:
        raise BadInput(N_("The title is longer than %(maximum)d characters."), maximum=MAX_TITLE_LENGTH)
    return title


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
