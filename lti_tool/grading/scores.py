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
    score: dict[str, Any] = {
        "userId": job.user_sub,
        "scoreMaximum": job.score_maximum,
        "activityProgress": job.activity_progress,
        "gradingProgress": job.grading_progress,
        "timestamp": stamp,
    }
    if job.score_given is not None:
        score["scoreGiven"] = job.score_given
    if job.comment:
        score["comment"] = job.comment
    if job.registration.product_family_code == "canvas":
        # Without it Canvas records a grade but no submission: SpeedGrader shows "no submission" and the
        # assignment stays "missing" for the learner.
        score[CANVAS_SUBMISSION] = {"new_submission": True, "submission_type": "basic_lti_launch",
                                    "submission_data": launch_url, "submitted_at": stamp}
    return score
