"""AGS scores the way Canvas takes them (app/controllers/lti/ims/scores_controller.rb, concerns/gradebook_services.rb).

Checked in Canvas's order: the course is open, the user is a student, the timestamp is not before the stored one
(an equal one is taken), the submission time is not in the future, and a new submission still fits the
assignment's allowed attempts. Then: every ``new_submission`` (true unless said false) starts an attempt; a grade
typed by a teacher stays when the tool asks ``prioritize_non_tool_grade``; NotReady/Failed/Pending clear the grade;
every comment is added to the submission's comments.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from lti_tool.sandbox.platform.constants import CLAIM_CANVAS_SUBMISSION
from lti_tool.sandbox.platform.models import GradeRecord
from lti_tool.sandbox.platform.models import LineItem
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import is_gradable
from lti_tool.sandbox.platform.scores import ValidScore
from lti_tool.sandbox.platform.scores import parse_score
from lti_tool.sandbox.platform.state import PlatformState

ACCEPT_GIVEN_SCORE = ("FullyGraded", "PendingManual")
FUTURE_TOLERANCE = timedelta(minutes=1)
NOT_A_STUDENT = "User not found in course or is not a student"
TOO_MANY_ATTEMPTS = "The maximum number of allowed attempts has been reached for this submission"
CONCLUDED = "This course has concluded and accepts no more grades"


def canvas_error(status: int, message: str) -> PlatformError:
    kind = {400: "bad_request", 422: "unprocessable_entity"}.get(status, "error")
    return PlatformError(status, message, kind, kind="canvas")


def _flag(value: Any) -> bool | None:
    """Rails' boolean cast of a form or JSON value; None when absent."""
    if value is None:
        return None
    return str(value).strip().lower() not in ("false", "0", "f", "off", "")


def _iso3(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class CanvasScores:
    def __init__(self, state: PlatformState) -> None:
        self.state = state

    def store(self, item: LineItem, body: Any) -> dict[str, Any]:
        """Take one score for ``item`` (the caller holds the state lock); returns Canvas's answer body."""
        if self.state.context(item.context_id).concluded:
            raise canvas_error(422, CONCLUDED)
        score = parse_score(body)
        roles = self.state.enrolments.get(item.context_id, {}).get(score.user_id)
        if roles is None or not is_gradable(roles):
            raise canvas_error(422, NOT_A_STUDENT)
        grades = self.state.grades.setdefault(item.id, {})
        previous = grades.get(score.user_id)
        if previous is not None and previous.parsed_timestamp > score.parsed_timestamp:
            raise canvas_error(400, f"Provided timestamp of {score.timestamp} before last updated timestamp of "
                                    f"{_iso3(previous.parsed_timestamp)}")
        extension = body.get(CLAIM_CANVAS_SUBMISSION)
        extension = extension if isinstance(extension, dict) else {}
        submitted_at = self._submitted_at(body, extension)
        new_submission = _flag(extension.get("new_submission")) is not False \
            and extension.get("submission_type") != "none"
        attempts = previous.attempts if previous else 0
        if new_submission and item.allowed_attempts is not None and attempts >= item.allowed_attempts:
            raise canvas_error(422, TOO_MANY_ATTEMPTS)
        grade = self._graded(item, score, previous, extension)
        if new_submission:
            grade.attempts = attempts + 1
            grade.submitted_at = _iso3(submitted_at or datetime.fromtimestamp(self.state.now(), UTC))
        grades[score.user_id] = grade
        self.state.log(f"score stored on {item.id} for {score.user_id}: {grade.score} "
                       f"(attempt {grade.attempts}, new_submission={new_submission})")
        return {"resultUrl": f"{self.state.lineitem_url(item)}/results/{score.user_id}"}

    def _submitted_at(self, body: dict[str, Any], extension: dict[str, Any]) -> datetime | None:
        submission = body.get("submission")
        value = (submission.get("submittedAt") if isinstance(submission, dict) else None) \
            or body.get("submittedAt") or extension.get("submitted_at")
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise canvas_error(400, f"Provided submitted_at timestamp of {value} not a valid timestamp") from exc
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if parsed > datetime.fromtimestamp(self.state.now(), UTC) + FUTURE_TOLERANCE:
            raise canvas_error(400, f"Provided submitted_at timestamp of {value} in the future")
        return parsed

    @staticmethod
    def _graded(item: LineItem, score: ValidScore, previous: GradeRecord | None,
                extension: dict[str, Any]) -> GradeRecord:
        fresh = score.to_grade(item.score_maximum, keep_submission=True)
        if previous is None:
            grade = fresh
        else:
            grade = dataclasses.replace(previous, comment=fresh.comment, timestamp=fresh.timestamp,
                                        parsed_timestamp=fresh.parsed_timestamp,
                                        activity_progress=fresh.activity_progress,
                                        grading_progress=fresh.grading_progress, submission=fresh.submission,
                                        comments=list(previous.comments))
        resets = score.grading_progress not in ACCEPT_GIVEN_SCORE or score.score_given is None
        teacher_keeps = (_flag(extension.get("prioritize_non_tool_grade")) and previous is not None
                         and previous.graded_by == "teacher" and previous.score is not None)
        if resets:
            if not _flag(extension.get("preserve_score")):
                grade.score = None
        elif not teacher_keeps and score.score_given is not None:
            scale = item.score_maximum / score.score_maximum if score.score_maximum else 1.0
            grade.score, grade.graded_by = score.score_given * scale, "tool"
        if score.comment:
            grade.comments.append(score.comment)  # each one shows under the submission
        return grade
