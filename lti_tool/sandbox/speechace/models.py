"""Plain records held by the Speechace emulator, and the score rules shared by the Python API and HTTP face."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal

OembedFault = Literal["500", "404", "timeout", "invalid_json", "no_html"]
OEMBED_FAULTS: tuple[str, ...] = ("500", "404", "timeout", "invalid_json", "no_html")

# Order matters: it is the order of the documented callback body's "score" object.
SCORE_FIELDS: tuple[str, ...] = ("overall", "pronunciation", "fluency", "vocab", "grammar")
DEFAULT_SCORES: dict[str, float] = {"overall": 6.5, "pronunciation": 7.0, "fluency": 6.0, "vocab": 6.5,
                                    "grammar": 6.0}
MAX_SCORE = 9.0
KEY_LENGTH = 16
KEY_PATTERN = re.compile(r"[A-Za-z0-9]{16}")


class SpeechaceError(Exception):
    """A request the emulated Speechace refuses; views turn it into a plain-text HTTP error."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description


@dataclass(frozen=True)
class SpeechaceAssessment:
    """One placement test a school bought; the share link (with its key) is what the school copies."""

    course_id: int
    quiz_id: int
    key: str
    title: str
    share_link: str
    course_url: str  # the `url` the share link carries: <base>/placement/api/course/<course_id>/

    @property
    def masked_key(self) -> str:
        return "*" * (len(self.key) - 4) + self.key[-4:]


@dataclass
class TestSession:
    """One oEmbed call = one embedded test, remembering who the integrator said the user is."""

    __test__ = False  # not a pytest test class despite the name

    token: str
    assessment: SpeechaceAssessment
    user_id: str | None
    user_fullname: str | None
    user_email: str | None
    submission_url: str | None
    created_at: float
    report_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Completion:
    """A finished test: what the report endpoints serve."""

    report_id: str
    session_token: str
    scores: dict[str, float]
    answers: tuple[str, ...]
    completed_at: float


@dataclass
class OembedRequest:
    """An oEmbed call as received (nothing masked: tests check exactly what the tool sent)."""

    params: dict[str, str]
    user_agent: str
    status: int = 0
    session_token: str | None = None
    fault: str | None = None


@dataclass
class CallbackResult:
    """One score POST to a tool (or a skipped one when the session had no submission URL)."""

    url: str | None
    body: bytes
    content_type: str
    status: int | None = None
    response_text: str = ""
    error: str | None = None
    report_id: str | None = None
    skipped: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


def normalise_scores(scores: Mapping[str, Any] | None) -> dict[str, float]:
    """Defaults overridden by `scores`; every value a float on Speechace's 0-9 scale. ValueError otherwise."""
    unknown = sorted(set(scores or {}) - set(SCORE_FIELDS))
    if unknown:
        raise ValueError(f"unknown score fields {unknown}; expected {list(SCORE_FIELDS)}")
    merged: dict[str, float] = {}
    for name in SCORE_FIELDS:
        raw = (scores or {}).get(name, DEFAULT_SCORES[name])
        value = _as_float(name, raw)
        if not 0.0 <= value <= MAX_SCORE:
            raise ValueError(f"score {name}={value} is outside 0-{MAX_SCORE:g}")
        merged[name] = value
    return merged


def _as_float(name: str, raw: Any) -> float:
    if isinstance(raw, bool):  # bool is an int subclass; True is not a score
        raise ValueError(f"score {name} must be a number, not {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"score {name} must be a number, not {raw!r}") from exc
    if not math.isfinite(value):
        raise ValueError(f"score {name} must be finite")
    return value
