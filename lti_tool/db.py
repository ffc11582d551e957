"""Database engine, sessions and the declarative base shared by every model.

One :class:`Database` per process; web requests get a session on ``flask.g`` (closed at teardown), workers and
commands use :meth:`Database.session` as a context manager.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util.typing import TupleAny


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


# A pooled connection that sat idle this long is pinged before use; see _ping_after_idle.
IDLE_PING_SECONDS = 10.0
# Connections are replaced after this long, before a server or proxy idle timeout can cut them.
POOL_RECYCLE_SECONDS = 1800


def create_db_engine(url: str, idle_ping_seconds: float = IDLE_PING_SECONDS) -> sa.Engine:
    """Engine with the settings each backend needs for several processes to share it."""
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    # hide_parameters: a database error must not print a statement's values (tokens, provider secrets) into logs.
    engine = sa.create_engine(url, pool_size=5, max_overflow=10, pool_recycle=POOL_RECYCLE_SECONDS,
                              hide_parameters=True)
    _ping_after_idle(engine, idle_ping_seconds)
    return engine


def _ping_after_idle(engine: sa.Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only when it sat idle ``idle_seconds`` or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip per request, measured at a quarter of a
    launch's time under load. A connection in steady use is known to be alive; one that sat idle may have been cut
    (a database restart, a failover, a proxy's idle timeout), and that is the one pinged. A connection cut while
    in steady use fails its request once; SQLAlchemy then replaces every pooled connection.
    """

    @event.listens_for(engine, "checkin")
    def _remember_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return  # new, or in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError("pooled connection found dead after idling") from exc


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

    def __init__(self, url: str, idle_ping_seconds: float = IDLE_PING_SECONDS) -> None:
        self.url = url
        self.engine = create_db_engine(url, idle_ping_seconds)
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


@dataclass(frozen=True)
class DriverStatement:
    """A hot statement compiled once for a dialect and run as the driver's SQL.

    SQLAlchemy finds a statement's compiled form by a cache key it computes on every execution by walking the
    whole statement: for the launch's and the callback's single statements (several CTEs, dozens of binds) that
    costs more CPU than PostgreSQL spends running them. Compiled once, the SQL is still SQLAlchemy's, each value
    is converted by its column type's own bind processor (JSON, UTC datetimes), and psycopg still prepares the
    statement server-side.
    """

    compiled: SQLCompiler
    converters: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def compile(cls, statement: sa.ClauseElement, dialect: sa.Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"not a SQL statement: {statement!r}")
        converters: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                converters[name] = convert
        return cls(compiled=compiled, converters=converters)

    def execute(self, connection: sa.Connection, params: Mapping[str, Any]) -> sa.CursorResult[*TupleAny]:
        return connection.exec_driver_sql(self.compiled.string, self.driver_params(params))

    def driver_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` as the driver takes them for :attr:`compiled`'s SQL text."""
        # construct_params also fills the statement's own bound constants (an enum value, true).
        values = dict(self.compiled.construct_params(dict(params)) or {})
        for name, convert in self.converters.items():
            if name in values:
                values[name] = convert(values[name])
        return values


_CONSTANT = re.compile(r"[A-Za-z0-9_.-]*")


def sql_constant(value: str) -> sa.ColumnElement[str]:
    """``value``, one of the tool's own constants (a status name), written into the SQL text instead of bound.

    psycopg prepares a statement after a few executions and PostgreSQL may then run a generic plan, which cannot
    use a partial index whose predicate names a value (``WHERE status = 'pending'``) when the query only says
    ``status = $1``. Measured on the callback write: 0.8 ms of PostgreSQL CPU bound, 0.2 ms written in. Written
    at compile time (not as a ``literal_execute`` bind, rendered again on every execution), so a compiled
    statement (:class:`DriverStatement`) carries it. Only constants: never a value from a request.
    """
    if not _CONSTANT.fullmatch(value):
        raise ValueError(f"not a constant fit to be written into SQL: {value!r}")
    return sa.literal_column(f"'{value}'", sa.String())


def upsert(session: orm.Session, model: type[Base], conflict_columns: list[str], values: dict[str, Any]) -> int:
    """Insert a row or update it on a unique-key conflict, in one statement; returns its ``id``.

    Launches write several such rows each; a select-then-insert pair would double the round trips and race
    with a concurrent launch of the same user.
    """
    statement = on_conflict_statement(session.get_bind().dialect.name, model.__tablename__,
                                      tuple(conflict_columns), tuple(values), update=True)
    return int(session.execute(statement, values).scalar_one())


@functools.lru_cache(maxsize=256)
def on_conflict_statement(dialect: str, table_name: str, conflict_columns: tuple[str, ...], columns: tuple[str, ...],
                          update: bool, returning: tuple[str, ...] = ("id",)) -> sa.Executable:
    """INSERT … ON CONFLICT … RETURNING ``returning`` for the two databases the tool runs on, built once per shape
    (building one costs more than executing it). Parameters are bound by column name."""
    table = Base.metadata.tables[table_name]
    bound: dict[str, Any] = {name: sa.bindparam(name) for name in columns}
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(bound)
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(bound)
    else:  # pragma: no cover - the tool supports SQLite and PostgreSQL
        raise NotImplementedError(f"ON CONFLICT inserts are not implemented for {dialect}")
    if update:
        updates = {name: statement.excluded[name] for name in columns if name not in conflict_columns}
        conflict = statement.on_conflict_do_update(index_elements=list(conflict_columns), set_=updates)
    else:
        conflict = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    return conflict.returning(*(table.c[name] for name in returning))
