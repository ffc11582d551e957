"""Words for people: score names, numbers and settings as teachers read them, in the page's language."""

from __future__ import annotations

from collections.abc import Mapping

from lti_tool.models import AttemptsPolicy
from lti_tool.translatable import N_
from lti_tool.translatable import format_decimal
from lti_tool.translatable import gettext
from lti_tool.translatable import machine_time
from lti_tool.translatable import shown_time

__all__ = ["machine_time", "shown_time"]  # times on the teacher's pages, as on every page

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
