"""The per-process cache of what callbacks need of an activity: kept for the TTL, cleared by invalidate()."""

from __future__ import annotations

import pytest

from lti_tool import activity_configs as configs_module
from lti_tool.activity_configs import ActivityConfigs
from lti_tool.providers.interfaces import ActivityConfig


def config(secret: str) -> ActivityConfig:
    return ActivityConfig(activity_id=1, assessment_id=1, provider="speechace", secret=secret, settings={},
                          score_component="overall", score_maximum=100.0, attempts_policy="latest")


class Stored:
    """What the database holds, and how often it was read."""

    def __init__(self) -> None:
        self.secret = "first-key"
        self.reads = 0
        self.while_reading = lambda: None

    def load(self, _session: object, _activity_id: int) -> ActivityConfig:
        self.reads += 1
        value = config(self.secret)
        self.while_reading()
        return value


@pytest.fixture
def stored(monkeypatch) -> Stored:
    stored = Stored()
    monkeypatch.setattr(configs_module, "load_config", stored.load)
    return stored


def test_kept_for_the_ttl_then_read_again(stored):
    now = [0.0]
    cache = ActivityConfigs(ttl_seconds=30, clock=lambda: now[0])
    assert cache.get(None, 1).secret == "first-key"
    stored.secret = "second-key"
    now[0] = 29.9
    assert cache.get(None, 1).secret == "first-key"
    now[0] = 30.1
    assert cache.get(None, 1).secret == "second-key"
    assert stored.reads == 2


def test_invalidate_forgets_at_once(stored):
    cache = ActivityConfigs(ttl_seconds=30, clock=lambda: 0.0)
    cache.get(None, 1)
    stored.secret = "second-key"
    cache.invalidate()
    assert cache.get(None, 1).secret == "second-key"


def test_load_reads_afresh_and_keeps_the_result(stored):
    cache = ActivityConfigs(ttl_seconds=30, clock=lambda: 0.0)
    cache.get(None, 1)
    stored.secret = "second-key"
    assert cache.load(None, 1).secret == "second-key"
    assert cache.get(None, 1).secret == "second-key"
    assert stored.reads == 2


def test_values_read_before_an_invalidation_are_not_kept(stored):
    """A read that raced with an admin's change may have seen the old key: it is used once, never kept."""
    cache = ActivityConfigs(ttl_seconds=30, clock=lambda: 0.0)

    def admin_changes_the_key() -> None:
        stored.secret = "second-key"
        cache.invalidate()

    stored.while_reading = admin_changes_the_key
    assert cache.get(None, 1).secret == "first-key"
    stored.while_reading = lambda: None
    assert cache.get(None, 1).secret == "second-key"
    assert stored.reads == 2
