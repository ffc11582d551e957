"""The activity and assessment settings a callback needs, kept per process for a short time.

A callback needs its activity's provider, key, graded component, maximum and policy. They change rarely (an admin
replacing a provider key), so each process keeps them for ``LTI_TOOL_CONFIG_CACHE_SECONDS`` (30 s by default)
instead of reading two rows per callback. A change made on this process's admin pages clears the cache when it is
committed (``Services.configuration_changed``);
other processes notice it within the TTL: an old key is accepted there for at most that long, while a new key is
accepted at once everywhere, because a refused callback is always decided again on settings read afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.providers.interfaces import ActivityConfig

_SELECT = (
    sa.select(Activity.id, Activity.assessment_id, Assessment.provider, Assessment.secret, Assessment.settings,
              Activity.score_component, Activity.score_maximum, Activity.attempts_policy)
    .join(Assessment, Assessment.id == Activity.assessment_id)
    .where(Activity.id == sa.bindparam("activity_id"))
)


def load_config(session: orm.Session, activity_id: int) -> ActivityConfig | None:
    """The activity's settings as stored now; ``None`` if there is no such activity."""
    row = session.execute(_SELECT, {"activity_id": activity_id}).first()
    if row is None:
        return None
    return ActivityConfig(activity_id=row[0], assessment_id=row[1], provider=row[2], secret=row[3],
                          settings=dict(row[4] or {}), score_component=row[5], score_maximum=float(row[6]),
                          attempts_policy=row[7])


class ActivityConfigs:
    """Per-process cache of :class:`ActivityConfig` by activity id, safe to share between threads."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._entries: dict[int, tuple[float, ActivityConfig]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, session: orm.Session, activity_id: int) -> ActivityConfig | None:
        """The kept settings while they are younger than the TTL, else read (and kept) afresh."""
        entry = self._entries.get(activity_id)
        if entry is not None and entry[0] > self.clock():
            return entry[1]
        return self.load(session, activity_id)

    def load(self, session: orm.Session, activity_id: int) -> ActivityConfig | None:
        """Read the settings from the database, bypassing the cache, and keep them."""
        generation = self._generation
        config = load_config(session, activity_id)
        with self._lock:
            # An invalidation while we were reading may mean we read the old values: do not keep them.
            if generation == self._generation:
                if config is None:
                    self._entries.pop(activity_id, None)
                else:
                    self._entries[activity_id] = (self.clock() + self.ttl_seconds, config)
        return config

    def invalidate(self) -> None:
        """Forget everything kept (call after committing a change to an assessment or an activity)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
