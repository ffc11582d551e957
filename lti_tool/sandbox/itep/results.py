"""The results webhook's JSON, shaped like iTEP's "Webhook Output Sample": same keys, same order, strings except
Writing_Question_Count (a number), Writing questions and answers always empty (as of 10/16/2024).

What a Finished (not yet graded) call carries is not documented: the emulator sends the same keys with empty
levels and scores (our assumption), so a tool that grades before Complete is caught.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from lti_tool.sandbox.itep.models import SECTIONS
from lti_tool.sandbox.itep.models import ItepTest

SECTION_KEYS: tuple[str, ...] = ("Level", "Score", "Percent", "cefr")
QUESTION_COUNT_KEY = "Question_Count"  # Writing only
# The sample's values, used for every section the caller does not set.
DEFAULT_SECTION_RESULTS: dict[str, dict[str, Any]] = {
    "Grammar": {"Level": "3.5", "Score": "68", "Percent": "72", "cefr": "B2"},
    "Listening": {"Level": "5.0", "Score": "87", "Percent": "86", "cefr": "C1"},
    "Reading": {"Level": "6.0", "Score": "100", "Percent": "100", "cefr": "C2"},
    "Writing": {"Level": "4.0", "Score": "77", "Percent": "67", "cefr": "B2", QUESTION_COUNT_KEY: 2},
    "Speaking": {"Level": "4.0", "Score": "77", "Percent": "67", "cefr": "B2"},
}
REPORT_TOKEN_SUFFIX_LENGTH = 5  # 8bee14e7f73fc44d9db69ff8bccfe36aAfcvq: 32 hex digits and 5 letters


def new_report_token() -> str:
    suffix = "".join(secrets.choice(string.ascii_letters) for _ in range(REPORT_TOKEN_SUFFIX_LENGTH))
    return secrets.token_hex(16) + suffix


def resolve_sections(product_sections: tuple[str, ...],
                     sections: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The sections to send (the product's when None), each completed with the sample's values. ValueError on typos."""
    chosen: Mapping[str, Mapping[str, Any]] = sections if sections is not None else {
        name: {} for name in product_sections}
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown sections {unknown}; expected some of {list(SECTIONS)}")
    resolved: dict[str, dict[str, Any]] = {}
    for name in SECTIONS:
        if name in chosen:
            allowed = set(DEFAULT_SECTION_RESULTS[name])
            typos = sorted(set(chosen[name]) - allowed)
            if typos:
                raise ValueError(f"unknown {name} fields {typos}; expected some of {sorted(allowed)}")
            resolved[name] = {**DEFAULT_SECTION_RESULTS[name], **chosen[name]}
    return resolved


def ungraded_sections(product_sections: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {name: dict.fromkeys(SECTION_KEYS, "") for name in product_sections}


def results_payload(test: ItepTest, *, status: str, overall_level: str, overall_cefr: str,
                    sections: Mapping[str, Mapping[str, Any]], report_url: str, finished_at: float) -> dict[str, Any]:
    day = datetime.fromtimestamp(finished_at, tz=UTC).date()
    payload: dict[str, Any] = {
        "OID": test.oid, "TestID": test.test_id, "Duration": test.duration,
        "TestDate": f"{day.month}/{day.day}/{day.year}", "TestMonth": str(day.month), "TestDay": str(day.day),
        "TestYear": str(day.year), "score_report_url": report_url, "Overall_Level": str(overall_level),
        "Overall_cefr": str(overall_cefr),
    }
    for name in SECTIONS:
        if name in sections:
            payload.update(_section_fields(name, sections[name]))
    payload["Status"] = status  # last, as in the sample
    return payload


def _section_fields(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {f"{name}_{key}": str(values[key]) for key in SECTION_KEYS}
    if name == "Writing":
        count = int(values.get(QUESTION_COUNT_KEY, 0))
        fields["Writing_Question_Count"] = count
        for number in range(1, count + 1):
            fields[f"Writing_Question_{number}"] = ""
            fields[f"Writing_Answer_{number}"] = ""
    return fields


def encode_data(payload: Mapping[str, Any], escape_slashes: bool = True) -> str:
    """The `data` field's JSON string: compact, as in the docs' form-values screenshot.

    PHP's json_encode escapes "/" as "\\/" by default (the screenshot's TestDate reads 6\\10\\2024), so the
    emulator does too unless told otherwise: a tool must parse the JSON, not match its text.
    """
    text = json.dumps(dict(payload), separators=(",", ":"))
    # "/" only ever occurs inside JSON strings, where "\/" is a valid escape for it.
    return text.replace("/", "\\/") if escape_slashes else text
