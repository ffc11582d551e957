"""Pooled PostgreSQL connections: pinged only after sitting idle, and a dead idle one is replaced unseen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from lti_tool.db import Database
from tests.conftest import BACKENDS
from tests.conftest import PG_SERVER_URL


@pytest.fixture
def pg_url() -> str:
    """The test server itself: pinging needs a connection, not the tool's tables."""
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL is not among LTI_TOOL_TEST_BACKENDS")
    return PG_SERVER_URL


def _open(url: str, idle_ping_seconds: float) -> Iterator[Database]:
    database = Database(url, idle_ping_seconds=idle_ping_seconds)
    yield database
    database.dispose()


@pytest.fixture
def pinging(pg_url: str) -> Iterator[Database]:
    """Pings every connection that sat idle at all."""
    yield from _open(pg_url, idle_ping_seconds=0.0)


@pytest.fixture
def trusting(pg_url: str) -> Iterator[Database]:
    """Never pings within the test's lifetime."""
    yield from _open(pg_url, idle_ping_seconds=3600.0)


def _backend_pid(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(sa.text("SELECT pg_backend_pid()")))


def _terminate(database: Database, pid: int) -> None:
    # From a connection outside the pool, as a database restart or a proxy would.
    other = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
    with other.connect() as connection:
        assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def test_a_connection_cut_while_idle_is_replaced_without_an_error(pinging: Database) -> None:
    pid = _backend_pid(pinging)
    _terminate(pinging, pid)
    assert _backend_pid(pinging) != pid


def test_a_connection_in_steady_use_is_not_pinged(trusting: Database) -> None:
    """The cost saved: no ping for a connection used a moment ago, so a cut one fails its next request once."""
    pid = _backend_pid(trusting)
    _terminate(trusting, pid)
    with pytest.raises(sa.exc.OperationalError):
        _backend_pid(trusting)
    assert _backend_pid(trusting) != pid  # and the pool recovers by itself

