"""Privacy on the admin pages, without HTTP: what each assessment gives its provider about learners, and one
person's data exported or erased. Scoped as everything in :mod:`lti_tool.admin.service`: an LMS admin reaches only
their own registration's users; a user of another school is as unknown as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import orm

from lti_tool.admin.service import AdminScope
from lti_tool.admin.service import BadInput
from lti_tool.admin.service import NotFound
from lti_tool.admin.service import _changeable_assessment
from lti_tool.admin.service import list_registrations
from lti_tool.admin.service import refusals_as_bad_input
from lti_tool.models import Assessment
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.privacy import sharing
from lti_tool.privacy import subject
from lti_tool.translatable import N_

MAX_SUB_LENGTH = 500
NO_SUCH_USER = "There is no such user in this registration."


@dataclass(frozen=True)
class SharingRow:
    """What an assessment gives its provider: ``choice`` in force, whether the assessment overrides the
    installation's default, and the school's reason for names or email."""

    choice: str
    overridden: bool
    reason: str | None


def sharing_of(assessment: Assessment, installation_default: str) -> SharingRow:
    settings = assessment.settings or {}
    return SharingRow(choice=sharing.sharing_for(settings, installation_default).value,
                      overridden=sharing.SETTING_KEY in settings,
                      reason=settings.get(sharing.REASON_KEY) if sharing.SETTING_KEY in settings else None)


def set_sharing(session: orm.Session, scope: AdminScope, assessment_pk: int, choice: str, reason: str) -> Assessment:
    """Set (or clear, with ``""``) the assessment's learner-identity sharing.

    :raise NotFound: not in the scope. :raise Forbidden: shared by every school, and not a tool admin.
    :raise BadInput: an unknown choice, or names/email without a reason.
    """
    assessment = _changeable_assessment(session, scope, assessment_pk)
    with refusals_as_bad_input():
        assessment.settings = sharing.sharing_settings(assessment.settings, choice, reason)
    return assessment


def registrations_in_scope(session: orm.Session, scope: AdminScope) -> list[LtiRegistration]:
    return list_registrations(session, scope)


def scoped_subject(session: orm.Session, scope: AdminScope, platform: str, sub: str) -> tuple[LtiRegistration,
                                                                                              LtiUser]:
    """The registration (by uuid or number; an LMS admin's own when left empty) and its user ``sub``.

    :raise BadInput: no user id, or no registration chosen by a tool admin. :raise NotFound: the registration is
    not in the scope, or has no such user (the same answer for both).
    """
    sub = sub.strip()
    if not sub or len(sub) > MAX_SUB_LENGTH:
        raise BadInput(N_("Give the user's LMS user id (the LTI %(claim)s, as the LMS shows it), at most %(maximum)d "
                          "characters."), claim="`sub`", maximum=MAX_SUB_LENGTH)
    platform = platform.strip()
    if not platform:
        if scope.registration_pk is None:
            raise BadInput(N_("Choose the registration (school) the user belongs to."))
        platform = str(scope.registration_pk)
    try:
        registration = subject.find_registration(session, platform)
        if scope.registration_pk not in (None, registration.id):
            raise NotFound(NO_SUCH_USER)
        return registration, subject.find_subject(session, registration.id, sub)
    except (subject.UnknownPlatform, subject.UnknownSubject) as exc:
        raise NotFound(NO_SUCH_USER) from exc


def export_user(session: orm.Session, scope: AdminScope, platform: str,
                sub: str) -> tuple[LtiRegistration, dict[str, Any]]:
    """The user's registration and the export document. :raise BadInput, NotFound: see :func:`scoped_subject`."""
    registration, user = scoped_subject(session, scope, platform, sub)
    return registration, subject.export_subject(session, registration, user)


@dataclass(frozen=True)
class Erasure:
    """What a deletion removed; the registration names the school for the audit log (never the person)."""

    registration: LtiRegistration
    counts: dict[str, int]

    @property
    def id(self) -> int:
        return self.registration.id


def delete_user(session: orm.Session, scope: AdminScope, platform: str, sub: str) -> Erasure:
    """Erase every row naming the user in that registration (the request commits).

    :raise BadInput, NotFound: see :func:`scoped_subject`.
    """
    registration, user = scoped_subject(session, scope, platform, sub)
    return Erasure(registration=registration, counts=subject.delete_subject(session, user))
