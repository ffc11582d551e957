"""The two privacy settings: read from the environment, checked, and listed by `lti-tool config`."""

from __future__ import annotations

import pytest

from lti_tool.config import ConfigError
from lti_tool.config import describe_settings
from lti_tool.config import load_settings

BASE = {"LTI_TOOL_ENV": "testing"}


def test_the_defaults_share_only_the_id_and_keep_everything():
    settings = load_settings(environ=BASE)
    assert (settings.share_learner_identity, settings.retention_days) == ("id-only", 0)
    assert "LTI_TOOL_SHARE_LEARNER_IDENTITY (default: 'id-only')" in describe_settings()
    assert "LTI_TOOL_RETENTION_DAYS (default: 0)" in describe_settings()


@pytest.mark.parametrize(("raw", "expected"), [("name", "name"), (" Name-And-Email ", "name-and-email"),
                                               ("id-only", "id-only")])
def test_sharing_values(raw, expected):
    assert load_settings(environ={**BASE, "LTI_TOOL_SHARE_LEARNER_IDENTITY": raw}).share_learner_identity == expected


@pytest.mark.parametrize(("name", "raw"), [("SHARE_LEARNER_IDENTITY", "everything"),
                                           ("SHARE_LEARNER_IDENTITY", "email"),
                                           ("RETENTION_DAYS", "-1"), ("RETENTION_DAYS", "a year")])
def test_bad_values_name_the_variable(name, raw):
    with pytest.raises(ConfigError, match=f"LTI_TOOL_{name}"):
        load_settings(environ={**BASE, f"LTI_TOOL_{name}": raw})


def test_retention_days_and_overrides_are_checked():
    assert load_settings(environ={**BASE, "LTI_TOOL_RETENTION_DAYS": "400"}).retention_days == 400
    assert load_settings(environ={**BASE, "LTI_TOOL_RETENTION_DAYS": ""}).retention_days == 0
    with pytest.raises(ConfigError, match="SHARE_LEARNER_IDENTITY"):
        load_settings({"share_learner_identity": "all"}, environ=BASE)
    with pytest.raises(ConfigError, match="RETENTION_DAYS"):
        load_settings({"retention_days": -3}, environ=BASE)
