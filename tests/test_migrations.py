"""Migrations: the schema they build is the schema the models describe, and they run down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lti_tool import migrate
from lti_tool.db import Base


def test_models_and_migrations_agree(database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_downgrade_to_base_and_upgrade_again(database):
    migrate.downgrade(database.engine, "base")
    assert set(sa.inspect(database.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database.engine)
    assert {"lti_registration", "attempt", "score_submission"} <= set(sa.inspect(database.engine).get_table_names())
