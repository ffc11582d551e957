"""The AGS score body for one outbox row, and its timestamp rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from lti_tool.models import LtiRegistration

CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"
ONE_SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class ScoreJob:
    """Everything needed to send one claimed submission, read in a short transaction before any HTTP."""

    submission_id: int
    attempt_id: int
    tries: int
    lineitem_url: str | None
    user_sub: str
    registration: LtiRegistration  # detached; only its columns are read
    score_given: float | None
    score_maximum: float
    activity_progress: str
    grading_progress: str
    comment: str | None
    last_score_timestamp: dt.datetime | None
    newer_sent: bool = False  # a newer score of the attempt went out already: this one must not
    score_timestamp: dt.datetime | None = None  # fixed by the row's first claim (see Outbox.claim)
    finished_at: dt.datetime | None = None  # when the learner finished the attempt, as the tool recorded it
    graded_before: bool = False  # an earlier score of the attempt went out FullyGraded
    result_sent_before: bool = False  # an earlier row sent this very result (a teacher's "send again")

    @property
    def is_first_grade(self) -> bool:
        return self.grading_progress == "FullyGraded" and not self.graded_before

    @property
    def is_automatic_resend(self) -> bool:
        """The tool sends a grade on its own after the attempt was graded once (a retake, a withdrawal, a new
        best); a teacher's "send again" is not automatic."""
        return self.graded_before and not self.result_sent_before


def to_milliseconds(moment: dt.datetime) -> dt.datetime:
    """Drop sub-millisecond digits, so the timestamp we store is exactly the one we sent."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def first_timestamp(now: dt.datetime, last_sent: dt.datetime | None) -> dt.datetime:
    """Now, unless that is not later than the attempt's previous score by a full second.

    AGS requires strictly increasing timestamps per user and line item, and Moodle stores whole seconds: two scores
    within the same second would make the second one a 409.
    """
    candidate = now if last_sent is None else max(now, last_sent + ONE_SECOND)
    return to_milliseconds(candidate)


def iso_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the AGS examples show: ``2024-05-01T09:30:00.123+00:00``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def build_score(job: ScoreJob, timestamp: dt.datetime, launch_url: str) -> dict[str, Any]:
    stamp = iso_timestamp(timestamp)
    canvas = job.registration.product_family_code == "canvas"
    score: dict[str, Any] = {
        "userId": job.user_sub,
        "scoreMaximum": job.score_maximum,
        "activityProgress": job.activity_progress,
        "gradingProgress": job.grading_progress,
        "timestamp": stamp,
    }
    if job.score_given is not None:
        score["scoreGiven"] = job.score_given
    # Canvas adds every comment to the submission's visible comments; Moodle replaces its feedback with it (and
    # would clear it if a re-send left it out).
    if job.comment and not (canvas and job.result_sent_before):
        score["comment"] = job.comment
    if canvas:
        score.update(canvas_submission(job, launch_url))
    return score


def canvas_submission(job: ScoreJob, launch_url: str) -> dict[str, Any]:
    """Canvas's submission extension (app/controllers/lti/ims/scores_controller.rb).

    Without it Canvas records a grade but no submission: SpeedGrader shows "no submission" and the assignment
    stays "missing" for the learner. ``new_submission`` (Canvas's default: true) starts a new attempt, which limited
    assignments refuse once used up: only the attempt's first grade asks for one. The submission time is when the
    learner finished, not when the grade arrived (a provider may take days to grade; late policies deduct by it).
    """
    extension: dict[str, Any] = {"new_submission": job.is_first_grade, "submission_type": "basic_lti_launch",
                                 "submission_data": launch_url}
    if job.is_automatic_resend:
        extension["prioritize_non_tool_grade"] = True  # a grade the teacher typed in Canvas stays
    fields: dict[str, Any] = {CANVAS_SUBMISSION: extension}
    if job.finished_at is not None:
        finished = iso_timestamp(job.finished_at)
        extension["submitted_at"] = finished
        fields["submission"] = {"submittedAt": finished}  # AGS 2.0's own field, which Canvas also reads
    return fields
