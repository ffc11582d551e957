"""Where an attempt stands: one model for the student's page, its status JSON, the teacher's pages and exports.

Derived only from stored state — the attempt, its results since the current try began, the latest score
submission (pending, sent, parked, superseded) and what the LMS answered — and the provider's own word for its
result (:meth:`~lti_tool.providers.interfaces.AssessmentProvider.outcome`). Nothing here says "graded" before
the LMS accepted the grade, and nothing offers to resend a grade the provider withdrew.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import ProviderOutcome
from lti_tool.translatable import N_
from lti_tool.translatable import gettext

# Result.status values (providers' outcomes after :meth:`read_result`; "invalidated": withdrawn later).
_COMPLETE = "complete"
_FINISHED = "finished"
_WITHDRAWN = {"withdrawn", "pending"}


class State(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    AWAITING_GRADING = "awaiting_grading"
    GRADE_ON_ITS_WAY = "grade_on_its_way"
    GRADED = "graded"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    RESET = "reset"


LABELS = {
    State.NOT_STARTED: N_("Not started"),
    State.IN_PROGRESS: N_("In progress"),
    State.AWAITING_GRADING: N_("Finished, awaiting grading"),
    State.GRADE_ON_ITS_WAY: N_("Grade on its way to the gradebook"),
    State.GRADED: N_("Graded, in the gradebook"),
    State.REFUSED: N_("Refused by the LMS"),
    State.WITHDRAWN: N_("Withdrawn by the provider"),
    State.RESET: N_("Reset"),
}


def shown_labels() -> dict[State, str]:
    """Every state's label in the reader's language, for the teacher's summary and filters."""
    return {state: gettext(label) for state, label in LABELS.items()}


# The order of the teacher's summary and status filter.
ORDER = tuple(State)
# The states in which the learner has finished the current try: reopening the activity shows it as completed.
FINISHED_STATES = frozenset({State.AWAITING_GRADING, State.GRADE_ON_ITS_WAY, State.GRADED, State.REFUSED})


@dataclass(frozen=True)
class AttemptView:
    """One attempt as people see it.

    ``score``/``scale_maximum``: the provider's value of the activity's component (the result's, even before
    the LMS has it; once a grade is queued, the value that grade stands for, which under "best attempt" may be
    an earlier try's). ``points``/``points_maximum``: what the gradebook holds, or will hold once sent (None: no
    grade queued). ``provider_said``: the provider's own word (withdrawn, reset, or needing attention);
    ``refusal``: the LMS's reason for refusing the grade.
    """

    state: State
    score: float | None = None
    scale_maximum: float | None = None
    points: float | None = None
    points_maximum: float | None = None
    in_gradebook: bool = False
    provider_said: str | None = None
    refusal: str | None = None
    finished_at: dt.datetime | None = None
    result: Result | None = None

    @property
    def label(self) -> str:
        """In the reader's language (English outside a request)."""
        return gettext(LABELS[self.state])

    @property
    def can_resend(self) -> bool:
        """Only a grade the LMS holds, or refused, may be sent again; never a withdrawn or missing one."""
        return self.state in (State.GRADED, State.REFUSED) and self.points is not None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


def attempt_view(session: orm.Session, attempt: Attempt | None, activity: Activity | None,
                 provider: AssessmentProvider | None) -> AttemptView:
    """The state of ``attempt`` (None: the learner never opened the activity) at ``activity``."""
    if attempt is None:
        return AttemptView(State.NOT_STARTED)
    results = session.scalars(sa.select(Result).where(Result.attempt_id == attempt.id).order_by(Result.id.desc()))
    submissions = session.scalars(sa.select(ScoreSubmission).where(ScoreSubmission.attempt_id == attempt.id)
                                  .order_by(ScoreSubmission.id.desc()).limit(1))
    return view_from(attempt, activity, provider, list(results), list(submissions))


def view_from(attempt: Attempt | None, activity: Activity | None, provider: AssessmentProvider | None,
              results: Sequence[Result], submissions: Sequence[ScoreSubmission]) -> AttemptView:
    """:func:`attempt_view` from rows already read: the attempt's ``results`` and ``submissions``, newest first
    (the class view reads them for a whole link at once). One function decides, so the class view, the CSV,
    the student's page and the result page cannot disagree."""
    if attempt is None:
        return AttemptView(State.NOT_STARTED)
    since = max(attempt.datetime_started, attempt.datetime_reset or attempt.datetime_started)
    results = [result for result in results if result.datetime_received >= since]
    submission = submissions[0] if submissions else None
    if submission is not None and submission.datetime_created < since:
        submission = None  # an earlier try's grade: the current one has sent nothing yet
    outcome_of = provider.outcome if provider is not None else (lambda result: ProviderOutcome())
    decisive = next((result for result in results if result.status in {_COMPLETE, _FINISHED, *_WITHDRAWN}), None)
    latest_complete = next((result for result in results if result.status == _COMPLETE), None)
    if decisive is not None and decisive.status == _FINISHED and latest_complete is not None:
        decisive = latest_complete  # a late "finished" does not pull back a grade that stands
    attention = results[0] if results and results[0].status == "attention" else None
    said = outcome_of(attention).words if attention is not None else None
    if decisive is None:
        if attention is not None:
            return AttemptView(State.AWAITING_GRADING, provider_said=said, finished_at=attempt.datetime_finished,
                               result=attention)
        return AttemptView(State.RESET if attempt.datetime_reset is not None else State.IN_PROGRESS)
    if decisive.status in _WITHDRAWN:
        outcome = outcome_of(decisive)
        return AttemptView(State.RESET if outcome.reset else State.WITHDRAWN, provider_said=outcome.words,
                           in_gradebook=_sent(submission), refusal=_refusal(submission), result=decisive)
    refusal = _refusal(submission)
    base = AttemptView(State.AWAITING_GRADING, provider_said=said, finished_at=attempt.datetime_finished,
                       result=decisive, refusal=refusal)
    if decisive.status == _FINISHED:
        return dataclasses.replace(base, state=State.REFUSED if refusal else State.AWAITING_GRADING,
                        in_gradebook=_sent(submission))
    component = activity.score_component if activity is not None else "overall"
    value = decisive.scores.get(component)
    graded = submission is not None and submission.score_given is not None
    state = State.REFUSED if refusal else State.GRADED if _sent(submission) else State.GRADE_ON_ITS_WAY
    score = float(value) if value is not None else None
    if graded and submission is not None:
        score = _counted_value(submission, float(decisive.scale_maximum), score)
    return dataclasses.replace(base, state=state, score=score,
                    scale_maximum=float(decisive.scale_maximum),
                    points=submission.score_given if graded and submission else None,
                    points_maximum=submission.score_maximum if graded and submission else None,
                    in_gradebook=_sent(submission))


def _counted_value(submission: ScoreSubmission, scale: float, latest: float | None) -> float | None:
    """The provider's value the grade stands for: the latest result's, unless the grade comes from another try
    (best attempt: a worse retake leaves the earlier, better grade in the gradebook), then the grade's own share
    of the scale, so "7.2 of 9 → 80 of 100 points" never reads "4.5 of 9 → 80 of 100 points"."""
    if submission.score_given is None or not submission.score_maximum:
        return latest
    counted = submission.score_given / submission.score_maximum * scale
    if latest is not None and math.isclose(counted, latest, abs_tol=1e-3):
        return latest
    return round(counted, 2)


def _sent(submission: ScoreSubmission | None) -> bool:
    return submission is not None and submission.status == SubmissionStatus.SENT.value


def _refusal(submission: ScoreSubmission | None) -> str | None:
    if submission is None or submission.status != SubmissionStatus.PARKED.value:
        return None
    return submission.last_error or gettext("The LMS refused the grade.")
