"""The placement report JSON, shaped like the fields public integrations read from Speechace's report API.

Only the fields listed in the brief are modelled (plus `padding` when the size knob is on): a tool must not
come to depend on anything this stand-in invents. Rubric contents beyond their field names are made up.
"""

from __future__ import annotations

import re
from typing import Any

from lti_tool.sandbox.speechace.models import MAX_SCORE
from lti_tool.sandbox.speechace.models import SCORE_FIELDS
from lti_tool.sandbox.speechace.models import Completion

# What integrators use to pull the report id out of a callback's reportUrl.
REPORT_ID_PATTERN = re.compile(r"/placement/report/([a-f0-9]+)/?")
DEFAULT_RUBRIC = "speechace"
SAMPLE_ANSWERS: tuple[str, ...] = (
    "I usually take the bus to work because it is cheaper than driving and I can read on the way.",
    "My favourite place in my city is the old market, where you can try food from many countries.",
)
DIALECT = "en-us"


def report_json(completion: Completion, padding_bytes: int = 0) -> dict[str, Any]:
    report: dict[str, Any] = {
        "default_rubric": DEFAULT_RUBRIC,
        "scoring": {name: {"score": completion.scores[name]} for name in SCORE_FIELDS},
        "questions": [_question(completion, order, answer) for order, answer in enumerate(completion.answers, 1)],
    }
    if padding_bytes > 0:
        report["padding"] = "x" * padding_bytes  # lets tests push the body past the tool's size limit
    return report


def _question(completion: Completion, order: int, answer: str) -> dict[str, Any]:
    # Stable per report and question, Speechace-like (large integers), without a global counter.
    attempt_id = int(completion.report_id[:8], 16) * 10 + order
    return {"question_attempt_id": attempt_id, "order": order, "answer": answer, "dialect": DIALECT,
            "rubrics": _rubrics(completion.scores["overall"])}


def _rubrics(overall: float) -> list[dict[str, Any]]:
    # A non-default rubric comes first so a tool that takes rubrics[0] instead of the default one is caught.
    band = f"{overall:.1f}"
    return [
        {"default": False, "original_name": "CEFR", "score_map": {band: _cefr(overall)}},
        {"default": True, "original_name": "Speechace", "score_map": {band: f"{overall / MAX_SCORE * 100:.1f}"}},
    ]


def _cefr(overall: float) -> str:
    for floor, level in ((8.0, "C2"), (7.0, "C1"), (5.5, "B2"), (4.0, "B1"), (3.0, "A2")):
        if overall >= floor:
            return level
    return "A1"
