"""The per-process directory of active registrations and deployments: cached, cleared, expiring."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lti_tool.lti.directory import PlatformDirectory
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration

ISSUER = "https://lms.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registered(database):
    details = PlatformDetails(issuer=ISSUER, client_id="client-1", auth_login_url=f"{ISSUER}/auth",
                              auth_token_url=f"{ISSUER}/token", key_set_url=f"{ISSUER}/jwks", name="LMS")
    with database.session() as session:
        return register_platform(session, details, "manual", ["dep-1"], approve=True)


def _set(database, model, **values):
    with database.session() as session:
        session.execute(sa.update(model).values(**values))


def test_registrations_are_cached_until_cleared(database, registered):
    directory = PlatformDirectory(ttl_seconds=30)
    with database.session() as session:
        found = directory.registration(session, ISSUER, "client-1", None)
        assert (found.id, found.client_id, found.auth_login_url) == (registered.id, "client-1", f"{ISSUER}/auth")
        assert directory.registration_by_id(session, registered.id) is found
    _set(database, LtiRegistration, auth_login_url="https://moved.example/auth")
    with database.session() as session:
        assert directory.registration(session, ISSUER, "client-1", None).auth_login_url == f"{ISSUER}/auth"
        directory.clear()
        assert directory.registration(session, ISSUER, "client-1", None).auth_login_url == \
            "https://moved.example/auth"


def test_entries_expire_after_the_ttl(database, registered):
    clock = Clock()
    directory = PlatformDirectory(ttl_seconds=30, clock=clock)
    with database.session() as session:
        assert directory.deployment_pk(session, registered.id, "dep-1") is not None
    _set(database, LtiDeployment, status=DeploymentStatus.DISABLED.value)
    with database.session() as session:
        clock.now += 29
        assert directory.deployment_pk(session, registered.id, "dep-1") is not None
        clock.now += 2
        assert directory.deployment_pk(session, registered.id, "dep-1") is None


def test_a_ttl_of_zero_caches_nothing(database, registered):
    directory = PlatformDirectory(ttl_seconds=0)
    with database.session() as session:
        directory.registration_by_id(session, registered.id)
    _set(database, LtiRegistration, is_active=False)
    with database.session() as session, pytest.raises(LaunchError) as refused:
        directory.registration_by_id(session, registered.id)
    assert refused.value.status == 403


def test_only_active_deployments_are_cached(database, registered):
    directory = PlatformDirectory(ttl_seconds=30)
    _set(database, LtiDeployment, status=DeploymentStatus.PENDING.value)
    with database.session() as session:
        assert directory.deployment_pk(session, registered.id, "dep-1") is None
        assert directory.deployment_pk(session, registered.id, "unknown") is None
    _set(database, LtiDeployment, status=DeploymentStatus.ACTIVE.value)
    with database.session() as session:
        assert directory.deployment_pk(session, registered.id, "dep-1") is not None


def test_unknown_and_disabled_registrations_keep_their_messages(database, registered):
    directory = PlatformDirectory(ttl_seconds=30)
    with database.session() as session, pytest.raises(LaunchError, match="not registered") as refused:
        directory.registration(session, "https://other.example", None, None)
    assert refused.value.status == 400
    _set(database, LtiRegistration, is_active=False)
    with database.session() as session, pytest.raises(LaunchError, match="disabled by an admin") as refused:
        directory.registration(session, ISSUER, "client-1", None)
    assert refused.value.status == 403


def test_cached_registrations_are_detached_and_immutable(database, registered):
    directory = PlatformDirectory(ttl_seconds=30)
    with database.session() as session:
        found = directory.registration(session, ISSUER, None, registered.uuid)
    with pytest.raises(AttributeError):
        found.client_id = "changed"  # type: ignore[misc]
    assert not isinstance(found, LtiRegistration)
