"""The teacher's picker: which speaking tests a deployment may place, and the activity a teacher's choices make."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.activities import create_activity
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import AttemptsPolicy
from lti_tool.models import ProviderAccount
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.teacher.words import component_label
from lti_tool.translatable import format_list
from lti_tool.translatable import gettext


class ActivityFormError(ValueError):
    """The teacher's choices cannot make an activity; the message says what to fix."""


def offered_assessments(session: orm.Session, deployment_pk: int) -> list[Assessment]:
    """Active assessments this deployment may use: an assessment on a provider account scoped to another
    deployment (another school's provider account) is not offered."""
    accounts: dict[int | None, int | None] = {
        account.id: account.deployment_id for account in session.scalars(sa.select(ProviderAccount))}
    return [assessment for assessment in session.scalars(
                sa.select(Assessment).where(Assessment.is_active.is_(True)).order_by(Assessment.title))
            if accounts.get(assessment.settings.get("account_id")) in (None, deployment_pk)]


def activity_from_form(session: orm.Session, providers: Mapping[str, AssessmentProvider],
                       form: Mapping[str, str], deployment_pk: int) -> Activity:
    """Create the activity a teacher described. :raise ActivityFormError: a choice is missing or invalid."""
    chosen, component = _test_and_score(form)
    assessment = next((offered for offered in offered_assessments(session, deployment_pk)
                       if offered.public_id == chosen), None)
    if assessment is None or assessment.provider not in providers:
        raise ActivityFormError(gettext("Choose one of the speaking tests in the list."))
    title = form.get("title", "").strip() or assessment.title
    try:
        score_maximum = float(form.get("score_maximum", "100"))
    except ValueError as exc:
        raise ActivityFormError(gettext("Maximum points must be a number.")) from exc
    if not 0 < score_maximum <= 10000:
        raise ActivityFormError(gettext("Maximum points must be above 0 and at most %(maximum)s.", maximum=10000))
    provider = providers[assessment.provider]
    if component not in provider.components:
        offered = format_list([component_label(name, provider.component_labels) for name in provider.components])
        raise ActivityFormError(gettext("%(provider)s reports these scores: %(scores)s. Choose one of them for "
                                        "%(test)s.", provider=provider.label, scores=offered, test=assessment.title))
    policy = form.get("attempts_policy", AttemptsPolicy.LATEST.value)
    if policy not in set(AttemptsPolicy):
        raise ActivityFormError(gettext("Choose the latest or the best attempt."))
    activity = create_activity(session, assessment, title[:200], score_maximum, component, policy,
                               show_score_to_student=form.get("show_score") == "on")
    activity.max_attempts = max_attempts_from(form.get("max_attempts", ""))
    activity.expected_minutes = expected_minutes_from(form.get("expected_minutes", ""))
    return activity


def _test_and_score(form: Mapping[str, str]) -> tuple[str, str]:
    """The picker's one choice of test and score (``<assessment>:<component>``); the separate fields
    ``assessment`` and ``score_component``, as scripts and older forms send them, win when present."""
    assessment, _, component = form.get("score_choice", "").partition(":")
    return form.get("assessment", assessment), form.get("score_component", component or "overall")


def max_attempts_from(value: str) -> int | None:
    """The attempts a teacher allows (an empty field: no limit). :raise ActivityFormError: not 1 to 100."""
    return _whole_number(value, range(1, 101),
                         gettext("Attempts allowed must be a whole number, or empty for no limit."),
                         gettext("Attempts allowed must be between %(lowest)s and %(highest)s, or empty for no "
                                 "limit.", lowest=1, highest=100))


def expected_minutes_from(value: str) -> int | None:
    """About how long the test takes, as the teacher says (empty: not said). :raise ActivityFormError: not a
    whole number of minutes from 1 to 600."""
    return _whole_number(value, range(1, 601),
                         gettext("How long the test takes must be a whole number of minutes, or empty."),
                         gettext("How long the test takes must be between %(lowest)s and %(highest)s minutes, or "
                                 "empty.", lowest=1, highest=600))


def _whole_number(value: str, allowed: range, not_whole: str, out_of_range: str) -> int | None:
    """An optional whole number in ``allowed`` (an empty field: None), or the refusal that says what is wrong."""
    if not value.strip():
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise ActivityFormError(not_whole) from exc
    if number not in allowed:
        raise ActivityFormError(out_of_range)
    return number
