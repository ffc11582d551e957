"""Alembic environment: the URL comes from lti_tool.migrate (the tool's settings), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlalchemy import create_engine

from lti_tool import models  # noqa: F401  (registers every table on Base.metadata)
from lti_tool.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    # Batch mode lets the same migrations alter tables on SQLite, which has little ALTER TABLE.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
