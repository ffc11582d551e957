"""Words for people: score names, numbers and settings as teachers read them, in the page's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from lti_tool.models import AttemptsPolicy
from lti_tool.translatable import N_
from lti_tool.translatable import format_datetime
from lti_tool.translatable import format_decimal
from lti_tool.translatable import gettext

# Whole clauses of the class view's summary line, so that a translator sees the sentence.
POLICY_WORDS = {AttemptsPolicy.LATEST.value: N_("if a student takes the test again, the latest attempt counts"),
                AttemptsPolicy.BEST.value: N_("if a student takes the test again, the best attempt counts")}


def component_label(component: str, labels: Mapping[str, str]) -> str:
    """A score name as people read it ("vocab" → "vocabulary"), in the words of the activity's own provider
    (``labels``: its ``component_labels``, marked with ``N_``; two providers may name the same component
    differently), in the reader's language."""
    label = labels.get(component)
    return gettext(label) if label else component.replace("_", " ")


def points(value: float) -> str:
    """A number of points for people, in the reader's locale, to two decimals (16, 16.5, 7,25 in Spanish)."""
    return format_decimal(round(value, 2))


def plain(value: float) -> str:
    """A number of points for machines (a form field, the CSV): no grouping, a dot, no trailing ".0"."""
    return f"{round(value, 2):g}"


def policy_words(policy: str) -> str:
    return gettext(POLICY_WORDS[policy]) if policy in POLICY_WORDS else policy


def machine_time(value: dt.datetime) -> str:
    """For ``<time datetime>``: ISO 8601 in UTC, to the second."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_time(value: dt.datetime) -> str:
    """For people: the date and the minute in the reader's locale, in UTC (the tool does not know the reader's
    time zone)."""
    return gettext("%(time)s UTC", time=format_datetime(value))
