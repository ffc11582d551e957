"""iTEP's registration rules, with iTEP's own messages (shared/docs/seeds/itep-integration.txt)."""

from __future__ import annotations

import pytest

from lti_tool.providers.itep_registration import RegistrationInvalid
from lti_tool.providers.itep_registration import validate_registration


@pytest.mark.parametrize("fields", [
    {"First_Name": "Mary", "Last_Name": "Poppins"},
    {"Birthday": "7/8/1955"}, {"Birthday": "8-7-1955"}, {"Birthday": "12/31/2000"},
    {"DOB_Month": "12", "DOB_Day": "31", "DOB_Year": "1999"},
    {"Gender": "female"}, {"Education": "BACHELOR'S DEGREE"}, {"Field_Of_Study": "Other Languages"},
])
def test_valid_registrations_pass(fields):
    validate_registration(fields)


@pytest.mark.parametrize(("fields", "message"), [
    ({"DOB_Month": "13"}, "Out of range Birth Month [13]"),
    ({"DOB_Day": "0"}, "Out of range Birth Day [0]"),
    ({"DOB_Year": "1900"}, "Out of range Birth Year [1900]"),
    ({"Birthday": "1955-07-08"}, "Out of range Birth Day [1955-07-08]"),  # the docs' own example is refused
    ({"Birthday": "July 8th"}, "Unable to parse Birth Date [July 8th]"),
    ({"Birthday": "13/8/1990"}, "Out of range Birth Month [13/8/1990]"),
    ({"Birthday": "8-13-1990"}, "Out of range Birth Month [8-13-1990]"),
    ({"Gender": "Other"}, "Invalid Gender [Other]"),
    ({"Education": "Kindergarten"}, "Invalid Education [Kindergarten]"),
    ({"Field_Of_Study": "Biology"}, "Invalid Study Field [Biology]"),
])
def test_invalid_registrations_give_itep_messages(fields, message):
    with pytest.raises(RegistrationInvalid) as raised:
        validate_registration(fields)
    assert str(raised.value) == message
