"""Database engine, sessions and the declarative base shared by every model.

One :class:`Database` per process; web requests get a session on ``flask.g`` (closed at teardown), workers and
commands use :meth:`Database.session` as a context manager.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import event
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite


def utcnow() -> dt.datetime:
    """Timezone-aware now; every stored timestamp is UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Stores UTC and always returns aware datetimes, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use lti_tool.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# Named constraints give Alembic stable names on both SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(orm.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: sa.JSON(),
        list[str]: sa.JSON(),
    }


def create_db_engine(url: str) -> sa.Engine:
    """Engine with the settings each backend needs for several processes to share it."""
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    # hide_parameters: a database error must not print a statement's values (tokens, provider secrets) into logs.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True)


def _ensure_sqlite_folder(url: str) -> None:
    database = sa.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets web and worker processes read while one writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Owns the engine and hands out sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self.sessionmaker = orm.sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[orm.Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def init_app(self, app: Flask) -> None:
        app.extensions["lti_tool.database"] = self
        app.teardown_appcontext(_close_request_session)

    def dispose(self) -> None:
        self.engine.dispose()


def get_database() -> Database:
    database: Database = current_app.extensions["lti_tool.database"]
    return database


def get_session() -> orm.Session:
    """The current request's session (created on first use, closed when the request ends)."""
    if "db_session" not in g:
        g.db_session = get_database().sessionmaker()
    session: orm.Session = g.db_session
    return session


def _close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def upsert(session: orm.Session, model: type[Base], conflict_columns: list[str], values: dict[str, Any]) -> int:
    """Insert a row or update it on a unique-key conflict, in one statement; returns its ``id``.

    Launches write several such rows each; a select-then-insert pair would double the round trips and race
    with a concurrent launch of the same user.
    """
    table, statement = _dialect_insert(session, model, values)
    updates = {name: statement.excluded[name] for name in values if name not in conflict_columns}
    upserted = statement.on_conflict_do_update(index_elements=conflict_columns, set_=updates)
    return int(session.execute(upserted.returning(table.c.id)).scalar_one())


def insert_if_absent(session: orm.Session, model: type[Base], conflict_columns: list[str],
                     values: dict[str, Any]) -> int | None:
    """Insert a row unless one with the same unique key exists; the new ``id``, or ``None`` if it existed.

    Concurrent duplicates (a provider delivering the same callback twice at once) cannot both insert.
    """
    table, statement = _dialect_insert(session, model, values)
    ignored = statement.on_conflict_do_nothing(index_elements=conflict_columns).returning(table.c.id)
    inserted = session.execute(ignored).scalar_one_or_none()
    return None if inserted is None else int(inserted)


def _dialect_insert(session: orm.Session, model: type[Base],
                    values: dict[str, Any]) -> tuple[sa.Table, postgresql.Insert | sqlite.Insert]:
    """INSERT with ON CONFLICT support, for the two databases the tool runs on."""
    table = sa.Table(model.__tablename__, Base.metadata)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return table, postgresql.insert(table).values(**values)
    if dialect == "sqlite":
        return table, sqlite.insert(table).values(**values)
    raise NotImplementedError(f"ON CONFLICT inserts are not implemented for {dialect}")  # pragma: no cover
