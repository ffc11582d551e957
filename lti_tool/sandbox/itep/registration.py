"""The `registration` JSON of a fulfillment request, checked with the rules and error texts of iTEP's docs.

Only the fields the docs give rules for are checked (DOB_*, Birthday, Gender, Education, Field_Of_Study); the others
are stored as sent. Where a date part is wrong the message carries that part, e.g. Birthday "13/1/1990" gives
"Out of range Birth Month [13]" (the docs say "[value]" without saying which value: our assumption).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from lti_tool.sandbox.itep.models import ItepError

# The field names iTEP lists as valid; anything else is stored too, and noted in the emulator's events.
REGISTRATION_FIELDS: tuple[str, ...] = (
    "Last_Name", "First_Name", "Middle_Name", "DOB_Month", "DOB_Day", "DOB_Year", "Email", "Contact_Phone",
    "Address", "City", "Birthday", "Country", "Nationality", "OIN", "OIN_Country", "OIN_Type", "Language", "Center",
    "Gender", "Education", "Taken_Test", "DOT_Month", "DOT_Day", "DOT_Year", "Location", "Admin_Test_Location",
    "Agree", "Honest", "Applying_To_School", "Apply_School_Type_1", "Apply_School_Name_1", "Apply_School_Other_1",
    "Apply_School_Type_2", "Apply_School_Name_2", "Apply_School_Other_2", "Apply_School_Type_3",
    "Apply_School_Name_3", "Apply_School_Other_3", "Field_Of_Study", "Location_Country", "Location_Region",
    "Location_Name", "trSchoolLevel", "trReferral", "trExternal_ID", "trCampus", "trCollege", "trDepartment",
    "trDegree", "trStatus", "trAttribute", "trStudent_Number", "trBatch_Number",
)
GENDERS: tuple[str, ...] = ("Male", "Female")
EDUCATION_LEVELS: tuple[str, ...] = ("Middle School", "High School", "Vocational School", "Bachelor's Degree",
                                     "Master's Degree", "Doctorate")
STUDY_FIELDS: tuple[str, ...] = ("Other", "Business Communication", "Education", "English", "Engineering", "History",
                                 "Hospitality", "Other Languages", "Mathematics", "Medical", "Music", "Politics",
                                 "Recreation", "Science")
# "M/D/YYYY or D-M-YYYY": the separator decides the order of the three numbers.
BIRTHDAY_ORDERS: dict[str, tuple[str, str, str]] = {"/": ("Month", "Day", "Year"), "-": ("Day", "Month", "Year")}
NUMBER = re.compile(r"[0-9]+")
FIRST_VALID_YEAR = 1901  # "a number greater than 1900"


def shown(value: Any) -> str:
    """A value as it appears between the brackets of an error message."""
    return value if isinstance(value, str) else json.dumps(value)


def parse_json_field(body: Mapping[str, Any], name: str) -> Any:
    """`assigned-to` and `registration` are "JSON": accept an embedded object or a string holding JSON."""
    value = body.get(name)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ItepError(400, f"Invalid {name} JSON [{value}]") from exc


def validate_registration(registration: Any) -> list[str]:
    """Raise ItepError(400) on the first invalid field (in the order sent); return the unlisted field names."""
    if not isinstance(registration, dict):
        raise ItepError(400, f"Invalid registration JSON [{shown(registration)}]")
    for name, value in registration.items():
        check = FIELD_CHECKS.get(name)
        if check is not None:
            check(value)
    return [name for name in registration if name not in REGISTRATION_FIELDS]


def _as_number(value: Any) -> int | None:
    if isinstance(value, bool):  # bool is an int subclass; true is not a month
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and NUMBER.fullmatch(value):
        return int(value)
    return None


def _check_part(part: str, value: Any) -> None:
    """Month 1-12, Day 1-31, Year > 1900: the ranges the docs give for DOB_* and Birthday alike."""
    number = _as_number(value)
    low, high = {"Month": (1, 12), "Day": (1, 31), "Year": (FIRST_VALID_YEAR, None)}[part]
    if number is None or number < low or (high is not None and number > high):
        raise ItepError(400, f"Out of range Birth {part} [{shown(value)}]")


def _check_birthday(value: Any) -> None:
    separator = next((sep for sep in BIRTHDAY_ORDERS if isinstance(value, str) and sep in value), None)
    numbers = value.split(separator) if separator else []
    if len(numbers) != 3 or not all(NUMBER.fullmatch(number) for number in numbers):
        raise ItepError(400, f"Unable to parse Birth Date [{shown(value)}]")
    parts = dict(zip(BIRTHDAY_ORDERS[str(separator)], numbers, strict=True))
    for part in ("Day", "Month", "Year"):  # the order the docs list the Birthday errors in
        _check_part(part, parts[part])


def _choice_check(choices: tuple[str, ...], label: str) -> Callable[[Any], None]:
    allowed = {choice.casefold() for choice in choices}

    def check(value: Any) -> None:
        # The docs say these values are case-insensitive (unlike everything else).
        if not isinstance(value, str) or value.casefold() not in allowed:
            raise ItepError(400, f"Invalid {label} [{shown(value)}]")

    return check


FIELD_CHECKS: dict[str, Callable[[Any], None]] = {
    "DOB_Month": lambda value: _check_part("Month", value),
    "DOB_Day": lambda value: _check_part("Day", value),
    "DOB_Year": lambda value: _check_part("Year", value),
    "Birthday": _check_birthday,
    "Gender": _choice_check(GENDERS, "Gender"),
    "Education": _choice_check(EDUCATION_LEVELS, "Education"),
    "Field_Of_Study": _choice_check(STUDY_FIELDS, "Study Field"),
}
