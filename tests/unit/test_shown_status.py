"""The one function that says where a student's test stands, for every stored combination, and the summary's
numbers and ranges."""

from __future__ import annotations

import pytest

from lti_tool.models import Attempt
from lti_tool.models import ScoreSubmission
from lti_tool.teacher.classview import Summary
from lti_tool.teacher.status import Shown
from lti_tool.teacher.status import shown_status


def _attempt(status: str, detail: str | None = None) -> Attempt:
    return Attempt(status=status, status_detail=detail)


def _score(status: str, grading: str = "FullyGraded", error: str | None = None) -> ScoreSubmission:
    return ScoreSubmission(status=status, grading_progress=grading, activity_progress="Completed", last_error=error,
                           score_given=1.0, score_maximum=1.0)


@pytest.mark.parametrize(("attempt", "score", "expected"), [
    (None, None, Shown.NOT_STARTED),
    (_attempt("started"), None, Shown.IN_PROGRESS),
    (_attempt("submitted"), None, Shown.FINISHED),
    (_attempt("submitted"), _score("pending"), Shown.ON_ITS_WAY),
    (_attempt("graded"), _score("sent"), Shown.GRADED),
    (_attempt("graded"), _score("sent", "Pending"), Shown.FINISHED),  # iTEP "Finished": the LMS shows Pending
    (_attempt("graded"), _score("sent", "NotReady"), Shown.WITHDRAWN),  # iTEP "Invalidated"
    (_attempt("grade_failed", "HTTP 400: not a learner"), _score("parked"), Shown.REFUSED),
    (_attempt("submitted"), _score("superseded"), Shown.FINISHED),
])
def test_shown_status(attempt, score, expected):
    assert shown_status(attempt, score).key == expected


def test_a_refusal_carries_the_lms_reason():
    shown = shown_status(_attempt("submitted"), _score("parked", error="user is not gradable"))
    assert shown.key == Shown.REFUSED and shown.detail == "user is not gradable"
    assert shown.label == "Refused by the LMS"


def test_summary_statistics_and_ranges():
    summary = Summary(students=4, counts={}, graded_points=(50.0, 80.0, 100.0), maximum=100.0)
    assert (summary.mean, summary.median, summary.lowest, summary.highest) == (pytest.approx(76.667, abs=1e-3),
                                                                             80.0, 50.0, 100.0)
    assert summary.spread == pytest.approx(20.548, abs=1e-3)
    bins = summary.bins()
    assert [bin.count for bin in bins] == [0, 0, 0, 0, 0, 1, 0, 0, 1, 1]
    assert (bins[0].low, bins[-1].high) == (0.0, 100.0)
    empty = Summary(students=0, counts={}, graded_points=(), maximum=20.0)
    assert (empty.mean, empty.median, empty.spread) == (None, None, None)
    assert sum(bin.count for bin in empty.bins()) == 0
