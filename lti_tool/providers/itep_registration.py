"""iTEP registration fields, checked with iTEP's own rules before anything is sent
(shared/docs/seeds/itep-integration.txt): the messages are iTEP's, so a teacher recognises them."""

from __future__ import annotations

import re
from collections.abc import Mapping

GENDERS = {"male", "female"}
EDUCATION = {"middle school", "high school", "vocational school", "bachelor's degree", "master's degree",
             "doctorate"}
FIELDS_OF_STUDY = {"other", "business communication", "education", "english", "engineering", "history",
                   "hospitality", "other languages", "mathematics", "medical", "music", "politics", "recreation",
                   "science"}
_BIRTHDAY = re.compile(r"^\s*(\d+)\s*([/-])\s*(\d+)\s*\2\s*(\d+)\s*$")


class RegistrationInvalid(ValueError):
    """A registration field iTEP would refuse; the message is iTEP's wording."""


def validate_registration(fields: Mapping[str, str]) -> None:
    """:raise RegistrationInvalid: the first field iTEP would refuse."""
    _number_in_range(fields, "DOB_Month", 1, 12, "Birth Month")
    _number_in_range(fields, "DOB_Day", 1, 31, "Birth Day")
    _number_in_range(fields, "DOB_Year", 1901, None, "Birth Year")
    if fields.get("Birthday"):
        _birthday(str(fields["Birthday"]))
    _one_of(fields, "Gender", GENDERS, "Gender")
    _one_of(fields, "Education", EDUCATION, "Education")
    _one_of(fields, "Field_Of_Study", FIELDS_OF_STUDY, "Study Field")


def _number_in_range(fields: Mapping[str, str], name: str, low: int, high: int | None, label: str) -> None:
    if name not in fields or fields[name] in ("", None):
        return
    value = str(fields[name])
    try:
        number = int(value)
    except ValueError as exc:
        raise RegistrationInvalid(f"Out of range {label} [{value}]") from exc
    _check(number, low, high, label, value)


def _check(number: int, low: int, high: int | None, label: str, value: str) -> None:
    if number < low or (high is not None and number > high):
        raise RegistrationInvalid(f"Out of range {label} [{value}]")


def _birthday(value: str) -> None:
    """``M/D/YYYY`` or ``D-M-YYYY``."""
    match = _BIRTHDAY.match(value)
    if match is None:
        raise RegistrationInvalid(f"Unable to parse Birth Date [{value}]")
    first, separator, second, year = int(match.group(1)), match.group(2), int(match.group(3)), int(match.group(4))
    month, day = (first, second) if separator == "/" else (second, first)
    _check(day, 1, 31, "Birth Day", value)
    _check(month, 1, 12, "Birth Month", value)
    _check(year, 1901, None, "Birth Year", value)


def _one_of(fields: Mapping[str, str], name: str, allowed: set[str], label: str) -> None:
    value = fields.get(name)
    if value and str(value).strip().lower() not in allowed:
        raise RegistrationInvalid(f"Invalid {label} [{value}]")
