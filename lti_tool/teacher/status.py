"""Where a student's test stands, as the teacher pages, the status JSON and the CSV say it.

Derived in one place, :func:`shown_status`, from what is stored: the attempt's status and the newest score in the
outbox (what the tool last queued or sent, and what the LMS answered). Nothing else decides what is shown, so a
finer status model can replace this function alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lti_tool.models import Attempt
from lti_tool.models import AttemptStatus
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus


class Shown(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"  # finished, the grade is not (or no longer) in the gradebook: waiting for grading
    ON_ITS_WAY = "on_its_way"
    GRADED = "graded"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


LABELS = {
    Shown.NOT_STARTED: "Not started",
    Shown.IN_PROGRESS: "In progress",
    Shown.FINISHED: "Finished, waiting for grading",
    Shown.ON_ITS_WAY: "Grade on its way to the gradebook",
    Shown.GRADED: "Graded, in the gradebook",
    Shown.REFUSED: "Refused by the LMS",
    Shown.WITHDRAWN: "Grade withdrawn",
}
# The order of the summary and of the status filter.
ORDER = (Shown.NOT_STARTED, Shown.IN_PROGRESS, Shown.FINISHED, Shown.ON_ITS_WAY, Shown.GRADED, Shown.REFUSED,
         Shown.WITHDRAWN)


@dataclass(frozen=True)
class ShownStatus:
    key: Shown
    detail: str | None = None  # the LMS's reason, or what the provider said

    @property
    def label(self) -> str:
        return LABELS[self.key]

    @property
    def counts_as_graded(self) -> bool:
        return self.key == Shown.GRADED


def shown_status(attempt: Attempt | None, latest: ScoreSubmission | None) -> ShownStatus:
    """The status of ``attempt`` (None: the student has not opened the activity), given its newest queued or
    sent score ``latest``."""
    if attempt is None:
        return ShownStatus(Shown.NOT_STARTED)
    detail = attempt.status_detail
    if attempt.status == AttemptStatus.GRADE_FAILED or (latest is not None and
                                                         latest.status == SubmissionStatus.PARKED):
        return ShownStatus(Shown.REFUSED, detail or (latest.last_error if latest else None))
    if latest is None or latest.status == SubmissionStatus.SUPERSEDED:
        if attempt.status == AttemptStatus.STARTED:
            return ShownStatus(Shown.IN_PROGRESS, detail)
        return ShownStatus(Shown.FINISHED, detail)
    if latest.status == SubmissionStatus.PENDING:
        return ShownStatus(Shown.ON_ITS_WAY, detail)
    # Sent: the LMS holds what this score said. Only a FullyGraded score is a grade there.
    if latest.grading_progress == "FullyGraded":
        return ShownStatus(Shown.GRADED, detail)
    if latest.grading_progress in ("Pending", "PendingManual"):
        return ShownStatus(Shown.FINISHED, detail or latest.comment)
    return ShownStatus(Shown.WITHDRAWN, detail or latest.comment)
