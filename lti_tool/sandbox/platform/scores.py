"""Validation of an AGS score body the way Moodle does it ("Incorrect score received")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from lti_tool.sandbox.platform.constants import ACTIVITY_PROGRESS
from lti_tool.sandbox.platform.constants import CLAIM_CANVAS_SUBMISSION
from lti_tool.sandbox.platform.constants import GRADING_PROGRESS
from lti_tool.sandbox.platform.models import GradeRecord
from lti_tool.sandbox.platform.models import PlatformError

REQUIRED_SCORE_FIELDS = ("userId", "timestamp", "activityProgress", "gradingProgress")


@dataclass
class ValidScore:
    user_id: str
    timestamp: str
    parsed_timestamp: datetime
    activity_progress: str
    grading_progress: str
    score_given: float | None
    score_maximum: float | None
    comment: str | None
    submission: dict[str, Any] | None

    def to_grade(self, lineitem_maximum: float, keep_submission: bool) -> GradeRecord:
        """Rescale to the line item's maximum; only a FullyGraded score counts as a grade."""
        score = None
        if self.grading_progress == "FullyGraded" and self.score_given is not None and self.score_maximum:
            score = self.score_given / self.score_maximum * lineitem_maximum
        return GradeRecord(score=score, max=lineitem_maximum, comment=self.comment, timestamp=self.timestamp,
                           parsed_timestamp=self.parsed_timestamp, activity_progress=self.activity_progress,
                           grading_progress=self.grading_progress,
                           submission=self.submission if keep_submission else None)


def _incorrect(reason: str) -> PlatformError:
    return PlatformError(400, f"Incorrect score received: {reason}")


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _incorrect(f"{name} must be a number")
    return float(value)


def parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _incorrect("timestamp must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _incorrect(f"timestamp {value!r} is not ISO 8601") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_score(body: Any) -> ValidScore:
    if not isinstance(body, dict):
        raise _incorrect("body must be a JSON object")
    missing = [name for name in REQUIRED_SCORE_FIELDS if body.get(name) in (None, "")]
    if missing:
        raise _incorrect(f"missing {', '.join(missing)}")
    if body["activityProgress"] not in ACTIVITY_PROGRESS:
        raise _incorrect(f"activityProgress {body['activityProgress']!r} is not valid")
    if body["gradingProgress"] not in GRADING_PROGRESS:
        raise _incorrect(f"gradingProgress {body['gradingProgress']!r} is not valid")
    given, maximum = _number(body, "scoreGiven"), _number(body, "scoreMaximum")
    if given is not None and (maximum is None or maximum <= 0 or given < 0):
        raise _incorrect("scoreGiven needs a positive scoreMaximum and must not be negative")
    comment = body.get("comment")
    submission = body.get(CLAIM_CANVAS_SUBMISSION)
    return ValidScore(
        user_id=str(body["userId"]), timestamp=str(body["timestamp"]),
        parsed_timestamp=parse_timestamp(body["timestamp"]), activity_progress=body["activityProgress"],
        grading_progress=body["gradingProgress"], score_given=given, score_maximum=maximum,
        comment=comment if isinstance(comment, str) else None,
        submission=submission if isinstance(submission, dict) else None)
