"""/healthz answers while the process runs; /readyz only while the database is reachable and migrated."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lti_tool import migrate
from lti_tool.app import create_app
from lti_tool.config import load_settings
from lti_tool.db import Database
from lti_tool.services import Services
from tests.operations.tcp_proxy import TcpProxy


def client_for(url: str, tmp_path):
    settings = load_settings({"env": "testing", "database_url": url, "data_dir": str(tmp_path)}, environ={})
    return create_app(settings, services=Services.from_settings(settings)).test_client()


def test_readyz_is_ok_on_a_migrated_database(database, tmp_path):
    client = client_for(database.url, tmp_path)
    assert client.get("/healthz").json == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_is_503_until_the_migrations_ran(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = Database(url)
    migrate.upgrade(old.engine, "0006")
    client = client_for(url, tmp_path)
    pending = client.get("/readyz")
    assert pending.status_code == 503
    assert pending.json["status"] == "unavailable" and "lti-tool db upgrade" in pending.json["reason"]
    assert client.get("/healthz").status_code == 200  # the process itself is fine
    migrate.upgrade(old.engine)
    assert client.get("/readyz").status_code == 200
    old.dispose()


def test_readyz_is_503_while_the_database_is_down_and_200_when_it_is_back(database, tmp_path):
    if not database.is_postgresql:
        pytest.skip("a database server that goes away: PostgreSQL (SQLite is a file, see the migration test)")
    url = sa.make_url(database.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    try:
        client = client_for(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                            tmp_path)
        assert client.get("/readyz").status_code == 200
        proxy.stop()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json == {"status": "unavailable", "reason": "database unreachable"}
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and b"lti_tool_database_up 0.0" in metrics.data
        assert client.get("/healthz").status_code == 200
        proxy.start()
        assert client.get("/readyz").status_code == 200
        assert b"lti_tool_database_up 1.0" in client.get("/metrics").data
    finally:
        proxy.stop()
