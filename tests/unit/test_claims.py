from __future__ import annotations

import pytest

from lti_tool.lti.claims import is_platform_admin
from lti_tool.lti.claims import is_staff
from lti_tool.lti.claims import role_name

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"


@pytest.mark.parametrize(("role", "name"), [
    (f"{MEMBERSHIP}#Instructor", "Instructor"),
    (f"{MEMBERSHIP}/Instructor#TeachingAssistant", "TeachingAssistant"),
    ("Learner", "Learner"),
    ("http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator", "Administrator"),
])
def test_role_name(role, name):
    assert role_name(role) == name


@pytest.mark.parametrize(("roles", "staff"), [
    ([f"{MEMBERSHIP}#Instructor"], True),
    (["Instructor"], True),
    ([f"{MEMBERSHIP}#ContentDeveloper"], True),
    ([f"{MEMBERSHIP}/Instructor#TeachingAssistant"], True),
    ([f"{MEMBERSHIP}#Learner"], False),
    ([f"{MEMBERSHIP}/Learner#Instructor"], False),  # a learner sub-role named Instructor is still a learner
    (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"], False),
    ([], False),
    (["urn:made-up"], False),
])
def test_is_staff(roles, staff):
    assert is_staff(roles) is staff


def test_only_institution_or_system_administrators_are_platform_admins():
    assert is_platform_admin(["http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"])
    assert is_platform_admin(["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"])
    assert not is_platform_admin([f"{MEMBERSHIP}#Administrator"])  # a course-level admin is not
    assert not is_platform_admin(["Administrator"])
