"""The platforms this process talks to: active registrations and deployments, cached for a few seconds.

Every login and launch needs the registration, and every launch its deployment; they change when an admin acts,
which is rare. Reading them once per ``ttl_seconds`` per process takes the lookups off the hot path. The cache
never decides alone that something is allowed: the launch's write checks in the database that the deployment and
the registration are still active (see :mod:`lti_tool.launch.rows`), so disabling one counts at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.lti.errors import LaunchError
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import ReviewStatus
from lti_tool.translatable import N_

DISABLED_REGISTRATION = N_("The tool's registration with this platform has been disabled by an admin.")
AWAITING_APPROVAL = N_("For the tool administrator: this LMS has registered itself with the speaking-test tool, "
                        "and the registration is waiting for your approval. Approve it on the tool's admin page, "
                        "under Registrations, or with \"lti-tool registrations approve\"; the activity opens as "
                        "soon as it is approved. Until then there is nothing to do in the course.")
AWAITING_TITLE = N_("Waiting for the tool administrator")
NOT_REGISTERED = N_("Tool not registered")


@dataclass(frozen=True)
class ActiveRegistration:
    """A detached copy of an active :class:`LtiRegistration`: safe to share between threads and sessions."""

    id: int
    uuid: str
    issuer: str
    client_id: str
    auth_login_url: str
    key_set_url: str | None
    key_set: Mapping[str, Any] | None

    @classmethod
    def of(cls, row: LtiRegistration) -> ActiveRegistration:
        return cls(id=row.id, uuid=row.uuid, issuer=row.issuer, client_id=row.client_id,
                   auth_login_url=row.auth_login_url, key_set_url=row.key_set_url,
                   key_set=dict(row.key_set) if row.key_set else None)


class PlatformDirectory:
    """Per-process, thread-safe cache of active registrations and active deployments' primary keys."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], tuple[float, Any]] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def registration(self, session: orm.Session, issuer: str, client_id: str | None,
                     registration_uuid: str | None) -> ActiveRegistration:
        """The active registration a login names. :raise LaunchError: unknown, ambiguous or disabled."""
        key = ("login", issuer, client_id, registration_uuid)
        found: ActiveRegistration | None = self._get(key)
        if found is None:
            found = ActiveRegistration.of(_find_registration(session, issuer, client_id, registration_uuid))
            self._put(key, found)
            self._put(("id", found.id), found)
        return found

    def registration_by_id(self, session: orm.Session, registration_id: int) -> ActiveRegistration:
        """The active registration a login state names. :raise LaunchError: 403 if it is gone or disabled."""
        key = ("id", registration_id)
        found: ActiveRegistration | None = self._get(key)
        if found is None:
            row = session.get(LtiRegistration, registration_id)
            if row is not None and row.review_status == ReviewStatus.PENDING.value:
                raise LaunchError(403, AWAITING_APPROVAL, title=AWAITING_TITLE, waiting=True)
            if row is None or not row.is_active:
                raise LaunchError(403, DISABLED_REGISTRATION)
            found = ActiveRegistration.of(row)
            self._put(key, found)
        return found

    def deployment_pk(self, session: orm.Session, registration_id: int, deployment_id: str) -> int | None:
        """The primary key of the registration's deployment if it is active, else ``None`` (unknown, pending,
        disabled: the caller finds out which). Only active deployments are cached."""
        key = ("deployment", registration_id, deployment_id)
        found: int | None = self._get(key)
        if found is None:
            found = session.scalar(sa.select(LtiDeployment.id).where(
                LtiDeployment.registration_id == registration_id, LtiDeployment.deployment_id == deployment_id,
                LtiDeployment.status == DeploymentStatus.ACTIVE.value))
            if found is not None:
                self._put(key, found)
        return found

    def _get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            return value

    def _put(self, key: tuple[Any, ...], value: Any) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)


def _find_registration(session: orm.Session, issuer: str, client_id: str | None,
                       registration_uuid: str | None) -> LtiRegistration:
    query = sa.select(LtiRegistration).where(LtiRegistration.issuer == issuer)
    if registration_uuid:
        query = query.where(LtiRegistration.uuid == registration_uuid)
    if client_id:
        query = query.where(LtiRegistration.client_id == client_id)
    found = list(session.scalars(query.limit(20)))
    # Registrations waiting for review (or rejected) never make an approved one ambiguous: anyone can add one.
    candidates = [row for row in found if row.review_status == ReviewStatus.APPROVED.value]
    if not candidates and any(row.review_status == ReviewStatus.PENDING.value for row in found):
        raise LaunchError(403, AWAITING_APPROVAL, title=AWAITING_TITLE, waiting=True)
    if not candidates and found:
        raise LaunchError(403, DISABLED_REGISTRATION)
    if not candidates:
        if client_id:
            raise LaunchError(400, N_("This tool is not registered with the platform %(issuer)s with client_id "
                                      "%(client_id)s. An LMS admin must register it first (see the tool's admin "
                                      "guide)."), title=NOT_REGISTERED, issuer=repr(issuer), client_id=repr(client_id))
        raise LaunchError(400, N_("This tool is not registered with the platform %(issuer)s. An LMS admin must "
                                  "register it first (see the tool's admin guide)."), title=NOT_REGISTERED,
                          issuer=repr(issuer))
    if len(candidates) > 1:
        raise LaunchError(400, N_("Several registrations share the issuer %(issuer)s and the LMS sent no client_id. "
                                  "Use the per-registration login URL shown on the tool's registration page."),
                          issuer=repr(issuer))
    registration = candidates[0]
    if not registration.is_active:
        raise LaunchError(403, DISABLED_REGISTRATION)
    return registration
