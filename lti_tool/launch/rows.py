"""Write what a launch tells us (user, course, membership, link, the launch itself) in as few statements as possible.

PostgreSQL: one statement (its text generated from the column lists, see :func:`pg_statement_sql`).
Data-modifying CTEs upsert the user, context, resource link and membership (``INSERT … ON CONFLICT DO UPDATE …
RETURNING id`` returns the id of an inserted and of an updated row alike), and the launch is inserted from them,
guarded:

    INSERT INTO lti_launch (…) SELECT … WHERE <deployment active> AND <registration active>
    ON CONFLICT (login_id) DO NOTHING RETURNING id

Every CTE runs to completion whatever the final SELECT reads, and all of them see the same snapshot. When the
launch is not inserted (login already used, deployment or registration disabled), the caller refuses the launch and
rolls back, taking the upserts with it.

The course and the link, which a whole class shares, are written only when the LMS sent other values than the
stored ones (:func:`_write_if_changed_sql`); otherwise they are only read.

SQLite: the same rows, one upsert each (or, for the course and link, a read when nothing changed), in the same
transaction. The statements are built once per shape (with or
without a course, with or without a link): building a SQLAlchemy statement costs more than running it.

Both paths write the columns named below and only those: :class:`LaunchRows` refuses values with a column missing
or one too many, so a column added to a table but not here fails loudly instead of being dropped by one path.
"""

# ruff: noqa: S608 - pg_statement_sql assembles SQL from this module's table and column names and bind
# placeholders only; every value is bound.
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import sqlite

from lti_tool.db import Base
from lti_tool.db import DriverStatement
from lti_tool.db import on_conflict_statement
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiContext
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser

USER_KEY = ("registration_id", "sub")
USER_COLUMNS = (*USER_KEY, "name", "given_name", "family_name", "email", "datetime_updated")
CONTEXT_KEY = ("deployment_id", "id_on_platform")
CONTEXT_COLUMNS = (*CONTEXT_KEY, "title", "label", "memberships_url", "lineitems_url", "ags_scopes",
                   "datetime_updated")
# The link's context_id comes from the context's row.
LINK_COLUMNS = ("id_on_platform", "title", "lineitem_url", "datetime_updated")
MEMBERSHIP_COLUMNS = ("roles", "datetime_updated")
# The launch's user_id, context_id and resource_link_id come from the rows written with it.
LAUNCH_COLUMNS = ("id", "registration_id", "deployment_id", "message_type", "roles", "claims", "expires_at",
                  "login_id")
# Bind names are a table's letter and the column's name. Short on purpose: psycopg parses a statement's text on
# every execution unless it is at most 4096 bytes (psycopg's MAX_CACHED_STATEMENT_LENGTH), and the PostgreSQL
# statement names dozens of binds (tests/unit/test_launch_rows.py keeps it under that size).
USER, CONTEXT, LINK, MEMBERSHIP, LAUNCH = "u_", "c_", "l_", "m_", "a_"
# The tool's own constant, written into the SQL (a bound status would keep a generic plan off a partial index).
ACTIVE = f"'{DeploymentStatus.ACTIVE.value}'"


@dataclass(frozen=True)
class LaunchRows:
    """Column values, by table. ``resource_link`` needs ``context``: a link belongs to a course."""

    user: dict[str, Any]
    context: dict[str, Any] | None
    resource_link: dict[str, Any] | None
    membership: dict[str, Any]
    launch: dict[str, Any]

    def __post_init__(self) -> None:
        if self.resource_link is not None and self.context is None:
            raise ValueError("a resource link without a context cannot be stored")
        for table, values, columns in (("user", self.user, USER_COLUMNS), ("context", self.context, CONTEXT_COLUMNS),
                                       ("resource_link", self.resource_link, LINK_COLUMNS),
                                       ("membership", self.membership, MEMBERSHIP_COLUMNS),
                                       ("launch", self.launch, LAUNCH_COLUMNS)):
            if values is not None and values.keys() != set(columns):
                raise ValueError(f"{table} values must name exactly the columns {columns}; "
                                 f"missing {sorted(set(columns) - values.keys())}, "
                                 f"unknown {sorted(values.keys() - set(columns))}")


@dataclass(frozen=True)
class WrittenRows:
    user_id: int
    context_id: int | None
    resource_link_id: int | None
    # The activity placed on the link (None if none yet), as the link's row held it.
    link_activity_id: int | None


def write_launch_rows(session: orm.Session, rows: LaunchRows) -> WrittenRows | None:
    """Write the rows in the session's transaction; ``None`` if the launch was not inserted (see the module's
    docstring), in which case the caller must roll back."""
    if session.get_bind().dialect.name == "postgresql":
        return _write_in_one_statement(session, rows)
    return _write_row_by_row(session, rows)


# --- PostgreSQL ------------------------------------------------------------------------------------------------------
def _write_in_one_statement(session: orm.Session, rows: LaunchRows) -> WrittenRows | None:
    connection = session.connection()
    statement, params = one_statement(connection.dialect, rows)
    row = statement.execute(connection, params).one()
    if row.launch_id is None:
        return None
    return WrittenRows(user_id=row.user_id, context_id=row.context_id,
                       resource_link_id=row.resource_link_id, link_activity_id=row.link_activity_id)


def one_statement(dialect: sa.Dialect, rows: LaunchRows) -> tuple[DriverStatement, dict[str, Any]]:
    """PostgreSQL's single statement for ``rows``, compiled, and its parameters. Its one result row holds
    ``user_id``, ``context_id``, ``resource_link_id``, ``link_activity_id`` and ``launch_id`` (null: not inserted)."""
    params = {**_prefixed(USER, rows.user), **_prefixed(LAUNCH, rows.launch)}
    if rows.context is not None:
        params |= _prefixed(CONTEXT, rows.context) | _prefixed(MEMBERSHIP, rows.membership)
    if rows.resource_link is not None:
        params |= _prefixed(LINK, rows.resource_link)
    return _compiled_statement(dialect, rows.context is not None, rows.resource_link is not None), params


@functools.lru_cache(maxsize=8)
def _compiled_statement(dialect: sa.Dialect, has_context: bool, has_link: bool) -> DriverStatement:
    return DriverStatement.compile(sa.text(pg_statement_sql(has_context, has_link)).bindparams(
        *_binds(LtiUser, USER, USER_COLUMNS), *_binds(LtiLaunch, LAUNCH, LAUNCH_COLUMNS),
        *(_binds(LtiContext, CONTEXT, CONTEXT_COLUMNS) + _binds(LtiMembership, MEMBERSHIP, MEMBERSHIP_COLUMNS)
          if has_context else ()),
        *(_binds(LtiResourceLink, LINK, LINK_COLUMNS) if has_link else ())), dialect)


def pg_statement_sql(has_context: bool, has_link: bool) -> str:
    """The statement's text, written out rather than built with SQLAlchemy Core: Core's rendering (a label on every
    selected value, every column qualified) came to 5.6 KB, over the 4096 bytes up to which psycopg caches its
    parse of a statement's text (psycopg's MAX_CACHED_STATEMENT_LENGTH); above it, psycopg parses the text again
    on every launch. Generated from the column lists above, so both paths still write the same columns."""
    ctes = [("user_row", _upsert_sql("lti_user", USER_COLUMNS, USER_KEY, f"VALUES ({_params(USER, USER_COLUMNS)})",
                                     "id"))]
    selected, sources = ["user_row.id AS user_id"], ["user_row"]
    launch_ids = {"user_id": "user_row.id"}
    if has_context:
        ctes += _write_if_changed_sql("course", LtiContext, CONTEXT_KEY, {
            column: f":{CONTEXT}{column}" for column in CONTEXT_COLUMNS}, None, ("id",))
        ctes.append(("member", _upsert_sql(
            "lti_membership", ("context_id", "user_id", *MEMBERSHIP_COLUMNS), ("context_id", "user_id"),
            f"SELECT course.id, user_row.id, {_params(MEMBERSHIP, MEMBERSHIP_COLUMNS)} FROM course, user_row", "id")))
        selected.append("course.id AS context_id")
        sources.append("course")
        launch_ids["context_id"] = "course.id"
    else:
        selected.append("NULL AS context_id")
    if has_link:
        ctes += _write_if_changed_sql("link", LtiResourceLink, ("context_id", "id_on_platform"), {
            "context_id": "course.id", **{column: f":{LINK}{column}" for column in LINK_COLUMNS}}, "course",
            ("id", "activity_id"))
        selected += ["link.id AS resource_link_id", "link.activity_id AS link_activity_id"]
        sources.append("link")
        launch_ids["resource_link_id"] = "link.id"
    else:
        selected += ["NULL AS resource_link_id", "NULL AS link_activity_id"]
    # Inserted only if its deployment and registration are active in the database now, and only once per login.
    ctes.append(("launch", (
        f"INSERT INTO lti_launch ({', '.join((*LAUNCH_COLUMNS, *launch_ids))}) "
        f"SELECT {_params(LAUNCH, LAUNCH_COLUMNS)}, {', '.join(launch_ids.values())} FROM {', '.join(sources)} "
        f"WHERE EXISTS (SELECT FROM lti_deployment WHERE id = :{LAUNCH}deployment_id AND status = {ACTIVE}) "
        f"AND EXISTS (SELECT FROM lti_registration WHERE id = :{LAUNCH}registration_id AND is_active) "
        "ON CONFLICT (login_id) DO NOTHING RETURNING id")))
    return ("WITH " + ",\n".join(f"{name} AS ({sql})" for name, sql in ctes)
            + f"\nSELECT {', '.join(selected)}, launch.id AS launch_id FROM {', '.join(sources)} "
            "LEFT JOIN launch ON true")


def _write_if_changed_sql(name: str, model: type[Any], key: tuple[str, ...], values: Mapping[str, str],
                          source: str | None, returning: tuple[str, ...]) -> list[tuple[str, str]]:
    """CTEs giving the ``returning`` columns of the row at ``key`` as ``name``: the stored row when it already
    holds ``values`` (SQL expressions by column; ``datetime_updated`` aside: it says when the values last
    changed), else the row upserted with them.

    A course and its link are the rows a whole class shares: when thirty students open a test at once, an upsert
    would write (and lock, until its transaction ends) the same two rows thirty times, though the LMS sent the same
    values each time. A row that already holds them is only read. When the snapshot does not show the row (new, or
    inserted by a launch not yet committed), the upsert runs as before: its ``ON CONFLICT`` waits for the other
    launch and returns the row either way, so exactly one row comes out.
    """
    table = model.__table__
    # The key by equality, which the unique index serves; the other values null-safely, as one row. json has no
    # equality: both sides are the same serializer's text.
    stored, sent = [], []
    for column, value in values.items():
        if column not in key and column != "datetime_updated":
            as_text = isinstance(table.c[column].type, sa.JSON)
            stored.append(f"CAST(s.{column} AS TEXT)" if as_text else f"s.{column}")
            sent.append(f"CAST({value} AS TEXT)" if as_text else value)
    same = [f"s.{column} = {values[column]}" for column in key]
    same.append(f"({', '.join(stored)}) IS NOT DISTINCT FROM ({', '.join(sent)})")
    from_source = f", {source}" if source else ""
    seen = (f"SELECT {', '.join(f's.{column}' for column in returning)} FROM {table.name} s{from_source} "
            f"WHERE {' AND '.join(same)}")
    new_source = (f"SELECT {', '.join(values.values())}{' FROM ' + source if source else ''} "
                  f"WHERE NOT EXISTS (SELECT FROM {name}_seen)")
    new = _upsert_sql(table.name, tuple(values), key, new_source, ", ".join(returning))
    columns = ", ".join(returning)
    either = f"SELECT {columns} FROM {name}_new UNION ALL SELECT {columns} FROM {name}_seen"
    return [(f"{name}_seen", seen), (f"{name}_new", new), (name, either)]


def _upsert_sql(table: str, columns: tuple[str, ...], key: tuple[str, ...], source: str, returning: str) -> str:
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) {source} ON CONFLICT ({', '.join(key)}) "
            f"DO UPDATE SET {updates} RETURNING {returning}")


def _params(prefix: str, columns: tuple[str, ...]) -> str:
    return ", ".join(f":{prefix}{column}" for column in columns)


def _unchanged(table: sa.FromClause, columns: tuple[str, ...], key: tuple[str, ...],
               values: Mapping[str, sa.ColumnElement[Any]]) -> list[sa.ColumnElement[bool]]:
    """The row at ``key`` holds ``values`` (``datetime_updated`` aside). The key is compared by equality, which
    the unique index serves; the other values null-safely."""
    return [table.c[column] == values[column] if column in key else _same(table.c[column], values[column])
            for column in columns if column != "datetime_updated"]


def _same(column: sa.ColumnElement[Any], value: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    # PostgreSQL's json type has no equality; both sides are the same serializer's text of a list.
    if isinstance(column.type, sa.JSON):
        return sa.cast(column, sa.Text).is_not_distinct_from(sa.cast(value, sa.Text))
    return column.is_not_distinct_from(value)


# --- SQLite ----------------------------------------------------------------------------------------------------------
def _write_row_by_row(session: orm.Session, rows: LaunchRows) -> WrittenRows | None:
    user_id = _upsert(session, LtiUser, USER_KEY, rows.user)[0]
    context_id = link_id = link_activity_id = None
    if rows.context is not None:
        context_id = _write_if_changed(session, LtiContext, CONTEXT_KEY, rows.context)[0]
        _upsert(session, LtiMembership, ("context_id", "user_id"),
                {"context_id": context_id, "user_id": user_id, **rows.membership})
    if rows.resource_link is not None:
        link_id, link_activity_id = _write_if_changed(session, LtiResourceLink, ("context_id", "id_on_platform"),
                                                      {"context_id": context_id, **rows.resource_link},
                                                      returning=("id", "activity_id"))
    ids = {"user_id": user_id, "context_id": context_id, "resource_link_id": link_id}
    statement = _sqlite_launch_statement(rows.context is not None, rows.resource_link is not None)
    params = {**_prefixed(LAUNCH, rows.launch), **{name: value for name, value in ids.items() if value is not None}}
    launch_id = session.execute(statement, params).scalar_one_or_none()
    if launch_id is None:
        return None
    return WrittenRows(user_id=user_id, context_id=context_id, resource_link_id=link_id,
                       link_activity_id=link_activity_id)


def _write_if_changed(session: orm.Session, model: type[Any], key: tuple[str, ...], values: dict[str, Any],
                      returning: tuple[str, ...] = ("id",)) -> Any:
    """As :func:`_write_if_changed_sql`: the stored row when it holds ``values``, else the upserted one. SQLite
    has one writer at a time and this transaction already holds the write lock (the user was written first), so
    nothing can come between the read and the write."""
    current = session.execute(_unchanged_row(model.__tablename__, tuple(values), key, returning),
                              values).one_or_none()
    return current if current is not None else _upsert(session, model, key, values, returning)


@functools.lru_cache(maxsize=4)
def _unchanged_row(table_name: str, columns: tuple[str, ...], key: tuple[str, ...],
                   returning: tuple[str, ...]) -> sa.Select[Any]:
    table = Base.metadata.tables[table_name]
    binds = {column: sa.bindparam(column, type_=table.c[column].type) for column in columns}
    return sa.select(*(table.c[column] for column in returning)).where(*_unchanged(table, columns, key, binds))


def _upsert(session: orm.Session, model: type[Any], key: tuple[str, ...], values: dict[str, Any],
            returning: tuple[str, ...] = ("id",)) -> Any:
    statement = on_conflict_statement("sqlite", model.__tablename__, key, tuple(values), update=True,
                                      returning=returning)
    return session.execute(statement, values).one()


@functools.lru_cache(maxsize=4)
def _sqlite_launch_statement(has_context: bool, has_link: bool) -> sa.Executable:
    table = LtiLaunch.__table__
    names = ["user_id"] + ["context_id"] * has_context + ["resource_link_id"] * has_link
    ids: dict[str, sa.ColumnElement[Any]] = {name: sa.bindparam(name, type_=table.c[name].type) for name in names}
    statement: sa.Executable = _launch_insert(sqlite.insert, ids, None)
    return statement


# --- both ------------------------------------------------------------------------------------------------------------
def _launch_insert(insert: Any, ids: Mapping[str, sa.ColumnElement[Any]], sources: sa.FromClause | None) -> Any:
    """The launch, inserted only if its deployment and registration are active in the database now, and only once
    per login."""
    table = LtiLaunch.__table__
    launch_binds = _binds(LtiLaunch, LAUNCH, LAUNCH_COLUMNS)
    source = sa.select(*launch_binds, *ids.values()).where(
        sa.exists().where(LtiDeployment.id == launch_binds[LAUNCH_COLUMNS.index("deployment_id")],
                          LtiDeployment.status == DeploymentStatus.ACTIVE.value),
        sa.exists().where(LtiRegistration.id == launch_binds[LAUNCH_COLUMNS.index("registration_id")],
                          LtiRegistration.is_active.is_(True)),
    )
    if sources is not None:
        source = source.select_from(sources)
    statement = insert(table).from_select([*LAUNCH_COLUMNS, *ids], source)
    return statement.on_conflict_do_nothing(index_elements=["login_id"]).returning(table.c.id)


def _binds(model: type[Any], prefix: str, columns: tuple[str, ...]) -> list[sa.BindParameter[Any]]:
    table = model.__table__
    return [sa.bindparam(prefix + name, type_=table.c[name].type) for name in columns]


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {prefix + name: value for name, value in values.items()}
