"""Words for people: score names, numbers of things and settings as teachers and students read them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from lti_tool.models import AttemptsPolicy

POLICY_WORDS = {AttemptsPolicy.LATEST.value: "the latest attempt counts",
                AttemptsPolicy.BEST.value: "the best attempt counts"}


def component_label(component: str, labels: Mapping[str, str]) -> str:
    """A score name as people read it ("vocab" → "vocabulary"), in the words of the activity's own provider
    (``labels``: its ``component_labels``; two providers may name the same component differently)."""
    return labels.get(component, component).replace("_", " ")


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """ "1 grade", "3 grades"."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def points(value: float) -> str:
    """A number of points without a trailing ".0" (16, 16.5, 7.25)."""
    return f"{round(value, 2):g}"


def policy_words(policy: str) -> str:
    return POLICY_WORDS.get(policy, policy)


def machine_time(value: dt.datetime) -> str:
    """For ``<time datetime>``: ISO 8601 in UTC, to the second."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_time(value: dt.datetime) -> str:
    """For people: the date and the minute, in UTC (the tool does not know the reader's time zone)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
