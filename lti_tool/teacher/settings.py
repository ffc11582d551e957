"""Changing an activity after it was added: title, maximum points, score, attempts policy, showing the score.

Only a teacher of the launch's course, and only for the activity of the launched link: an activity that another
link uses too (the same custom parameter placed in another course or twice) is not changed from here, because
the change would reach the other placement as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.activities import NotAllowed
from lti_tool.activities import activity_for_launch
from lti_tool.activities import provider_for
from lti_tool.models import Activity
from lti_tool.models import AttemptsPolicy
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiResourceLink
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.teacher.picker import ActivityFormError
from lti_tool.teacher.picker import expected_minutes_from
from lti_tool.teacher.picker import max_attempts_from
from lti_tool.teacher.service import require_staff
from lti_tool.teacher.words import component_label
from lti_tool.teacher.words import points
from lti_tool.translatable import N_
from lti_tool.translatable import format_list
from lti_tool.translatable import gettext

SHARED = N_("This speaking test is also used by another activity (in this course or another one), so its settings "
          "cannot be changed from here: the change would reach that activity too. Ask the tool administrator.")
MAXIMUM_POINTS = 10000


class SettingsError(ValueError):
    """The form cannot be saved; the message says what to fix."""


@dataclass(frozen=True)
class Changed:
    title: bool
    maximum: bool


def editable_activity(session: orm.Session, launch: LtiLaunch) -> Activity:
    """The launched link's activity, if this teacher may change it. :raise NotAllowed: a learner, no activity on
    the link, or an activity that another link uses too."""
    require_staff(launch)
    activity = activity_for_launch(session, launch)
    if activity is None:
        raise NotAllowed(N_("No speaking test is set up for this activity yet."))
    elsewhere = session.scalar(sa.select(sa.func.count()).select_from(LtiResourceLink).where(
        LtiResourceLink.activity_id == activity.id, LtiResourceLink.id != launch.resource_link_id))
    if elsewhere:
        raise NotAllowed(SHARED)
    return activity


def provider_of(session: orm.Session, providers: Mapping[str, AssessmentProvider],
                activity: Activity) -> AssessmentProvider:
    """:func:`~lti_tool.activities.provider_for`, for pages that cannot do without it. :raise NotAllowed: the
    installation no longer offers the activity's provider (``LTI_TOOL_PROVIDERS``)."""
    provider = provider_for(session, providers, activity)
    if provider is None:
        raise NotAllowed(N_("This test's provider is no longer offered by this installation. Ask the tool "
                            "administrator."))
    return provider


def component_choices(provider: AssessmentProvider) -> list[tuple[str, str]]:
    """The scores the provider reports, as (value, words) pairs for a select: "Fluency (0–9)"."""
    return [(name, gettext("%(score)s (0–%(maximum)s)",
                           score=component_label(name, provider.component_labels).capitalize(),
                           maximum=points(provider.scale_maximum)))
            for name in provider.components]


def apply_settings(activity: Activity, provider: AssessmentProvider, form: Mapping[str, str]) -> Changed:
    """Validate the whole form, then change the activity. :raise SettingsError: nothing is changed."""
    title = form.get("title", "").strip()[:200]
    if not title:
        raise SettingsError(gettext("Give the activity a title."))
    try:
        maximum = float(form.get("score_maximum", ""))
    except ValueError as exc:
        raise SettingsError(gettext("Maximum points must be a number.")) from exc
    if not math.isfinite(maximum) or not 0 < maximum <= MAXIMUM_POINTS:
        raise SettingsError(gettext("Maximum points must be above 0 and at most %(maximum)s.", maximum=MAXIMUM_POINTS))
    component = form.get("score_component", "")
    if component not in provider.components:
        names = format_list([component_label(name, provider.component_labels) for name in provider.components])
        raise SettingsError(gettext("%(provider)s reports these scores: %(scores)s.", provider=provider.label,
                                    scores=names))
    policy = form.get("attempts_policy", "")
    if policy not in set(AttemptsPolicy):
        raise SettingsError(gettext("Choose whether the latest or the best attempt counts."))
    try:
        allowed = max_attempts_from(form.get("max_attempts", ""))
        minutes = expected_minutes_from(form.get("expected_minutes", ""))
    except ActivityFormError as exc:
        raise SettingsError(str(exc)) from exc
    changed = Changed(title=title != activity.title, maximum=not math.isclose(maximum, activity.score_maximum))
    activity.title = title
    activity.score_maximum = maximum
    activity.score_component = component
    activity.attempts_policy = policy
    activity.show_score_to_student = form.get("show_score") == "on"
    activity.max_attempts = allowed
    activity.expected_minutes = minutes
    return changed
