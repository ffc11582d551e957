"""What the tool gives a test provider about a learner.

By default (``id-only``) only the LMS's opaque user id (``sub``) leaves the tool: the provider cannot tell who
the learner is unless the school decides it may. A school turns names (``name``) or names and email
(``name-and-email``) on per installation (``LTI_TOOL_SHARE_LEARNER_IDENTITY``) or per assessment, where the
admin page records why (the reason is shown next to the setting).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from lti_tool.inputs import has_control
from lti_tool.models import LtiUser
from lti_tool.providers.interfaces import Learner
from lti_tool.providers.interfaces import RefusedValue
from lti_tool.translatable import N_

# Keys in Assessment.settings: the override (absent: the installation's default) and the school's reason for it.
SETTING_KEY = "share_learner_identity"
REASON_KEY = "share_learner_identity_reason"
MAX_REASON_LENGTH = 500


class IdentitySharing(enum.StrEnum):
    ID_ONLY = "id-only"
    NAME = "name"
    NAME_AND_EMAIL = "name-and-email"


DEFAULT_SHARING = IdentitySharing.ID_ONLY


def sharing_for(assessment_settings: Mapping[str, Any] | None, installation_default: str) -> IdentitySharing:
    """The assessment's own choice, else the installation's; anything unreadable counts as ``id-only``."""
    for candidate in ((assessment_settings or {}).get(SETTING_KEY), installation_default):
        if candidate in set(IdentitySharing):
            return IdentitySharing(str(candidate))
    return DEFAULT_SHARING


def shared_learner(user: LtiUser, sharing: IdentitySharing) -> Learner:
    """The learner as the provider may see them under ``sharing``."""
    names = sharing in (IdentitySharing.NAME, IdentitySharing.NAME_AND_EMAIL)
    return Learner(user_id=user.sub,
                   name=user.name if names else None,
                   given_name=user.given_name if names else None,
                   family_name=user.family_name if names else None,
                   email=user.email if sharing == IdentitySharing.NAME_AND_EMAIL else None)


def sharing_settings(current: Mapping[str, Any] | None, choice: str, reason: str) -> dict[str, Any]:
    """``current`` assessment settings with the sharing choice applied: ``""`` (or ``default``) follows the
    installation; ``name`` and ``name-and-email`` need the school's reason, which the admin page shows.

    :raise RefusedValue: an unknown choice, or names/email without a reason (the message is for the admin; the
        choices are the setting's values, not words).
    """
    updated = {key: value for key, value in (current or {}).items() if key not in (SETTING_KEY, REASON_KEY)}
    choice = choice.strip().lower()
    if choice in ("", "default"):
        return updated
    if choice not in set(IdentitySharing):
        raise RefusedValue(N_("Choose one of %(choices)s, or the installation's default."),
                           choices=", ".join(IdentitySharing))
    reason = " ".join(reason.split())
    if choice != IdentitySharing.ID_ONLY:
        if not reason:
            raise RefusedValue(N_("Say why the provider needs the learners' names or email: the reason is shown "
                                  "on this page and in the audit log."))
        if has_control(reason):
            raise RefusedValue(N_("The reason holds control characters; type it as plain text."))
        if len(reason) > MAX_REASON_LENGTH:
            raise RefusedValue(N_("The reason is longer than %(limit)s characters."), limit=MAX_REASON_LENGTH)
        updated[REASON_KEY] = reason
    updated[SETTING_KEY] = choice
    return updated
