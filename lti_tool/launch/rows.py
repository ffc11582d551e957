"""Write what a launch tells us (user, course, membership, link, the launch itself) in as few statements as possible.

PostgreSQL: one statement. Data-modifying CTEs upsert the user, context, resource link and membership
(``INSERT … ON CONFLICT DO UPDATE … RETURNING id`` returns the id of an inserted and of an updated row alike), and
the launch is inserted from them, guarded:

    INSERT INTO lti_launch (…) SELECT … WHERE <deployment active> AND <registration active>
    ON CONFLICT (login_id) DO NOTHING RETURNING id

Every CTE runs to completion whatever the final SELECT reads, and all of them see the same snapshot. When the
launch is not inserted (login already used, deployment or registration disabled), the caller refuses the launch and
rolls back, taking the upserts with it.

The course and the link, which a whole class shares, are written only when the LMS sent other values than the
stored ones (:func:`_pg_write_if_changed`); otherwise they are only read.

SQLite: the same rows, one upsert each (or, for the course and link, a read when nothing changed), in the same
transaction. The statements are built once per shape (with or
without a course, with or without a link): building a SQLAlchemy statement costs more than running it.

Both paths write the columns named below and only those: :class:`LaunchRows` refuses values with a column missing
or one too many, so a column added to a table but not here fails loudly instead of being dropped by one path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql
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
    params = {**_prefixed("user_", rows.user), **_prefixed("launch_", rows.launch)}
    if rows.context is not None:
        params |= _prefixed("context_", rows.context) | _prefixed("membership_", rows.membership)
    if rows.resource_link is not None:
        params |= _prefixed("link_", rows.resource_link)
    return _compiled_statement(dialect, rows.context is not None, rows.resource_link is not None), params


@functools.lru_cache(maxsize=8)
def _compiled_statement(dialect: sa.Dialect, has_context: bool, has_link: bool) -> DriverStatement:
    return DriverStatement.compile(_one_statement(has_context, has_link), dialect)


def _one_statement(has_context: bool, has_link: bool) -> sa.Select[Any]:
    user = _pg_upsert(LtiUser, USER_COLUMNS, USER_KEY, sa.select(*_binds(LtiUser, "user_", USER_COLUMNS)),
                      returning=("id",)).cte("written_user")
    written = [user.c.id.label("user_id")]
    sources: sa.FromClause = user
    ids: dict[str, sa.ColumnElement[Any]] = {"user_id": user.c.id}
    extra_ctes = []
    if has_context:
        context_binds = _binds(LtiContext, "context_", CONTEXT_COLUMNS)
        context = _pg_write_if_changed(LtiContext, CONTEXT_COLUMNS, CONTEXT_KEY, sa.select(*context_binds),
                                       dict(zip(CONTEXT_COLUMNS, context_binds, strict=True)), returning=("id",),
                                       name="written_context")
        membership = _pg_upsert(
            LtiMembership, ("context_id", "user_id", *MEMBERSHIP_COLUMNS), ("context_id", "user_id"),
            sa.select(context.c.id, user.c.id, *_binds(LtiMembership, "membership_", MEMBERSHIP_COLUMNS))
            .select_from(context.join(user, sa.true())), returning=("id",)).cte("written_membership")
        extra_ctes.append(membership)
        written.append(context.c.id.label("context_id"))
        sources = sources.join(context, sa.true())
        ids["context_id"] = context.c.id
    else:
        written.append(sa.null().label("context_id"))
    if has_link:
        link_binds = _binds(LtiResourceLink, "link_", LINK_COLUMNS)
        link = _pg_write_if_changed(LtiResourceLink, ("context_id", *LINK_COLUMNS), ("context_id", "id_on_platform"),
                                    sa.select(context.c.id, *link_binds),
                                    {"context_id": sa.select(context.c.id).scalar_subquery(),
                                     **dict(zip(LINK_COLUMNS, link_binds, strict=True))},
                                    returning=("id", "activity_id"), name="written_link")
        written += [link.c.id.label("resource_link_id"), link.c.activity_id.label("link_activity_id")]
        sources = sources.join(link, sa.true())
        ids["resource_link_id"] = link.c.id
    else:
        written += [sa.null().label("resource_link_id"), sa.null().label("link_activity_id")]
    launch = _launch_insert(postgresql.insert, ids, sources).cte("written_launch")
    return (sa.select(*written, launch.c.id.label("launch_id"))
            .select_from(sources.outerjoin(launch, sa.true()))
            .add_cte(*extra_ctes))


def _pg_write_if_changed(model: type[Any], columns: tuple[str, ...], key: tuple[str, ...], source: sa.Select[Any],
                         values: Mapping[str, sa.ColumnElement[Any]], returning: tuple[str, ...], name: str) -> sa.CTE:
    """The ``returning`` columns of the row at ``key``, upserted from ``source`` only if it is missing or holds other
    values than ``values`` (``datetime_updated`` aside: it says when the values last changed).

    A course and its link are the rows a whole class shares: when thirty students open a test at once, an upsert
    would write (and lock, until its transaction ends) the same two rows thirty times, though the LMS sent the same
    values each time. A row that already holds them is only read. When the snapshot does not show the row (new, or
    inserted by a launch not yet committed), the upsert runs as before: its ``ON CONFLICT`` waits for the other
    launch and returns the row either way, so exactly one row comes out.
    """
    table = model.__table__
    current = sa.select(*(table.c[column] for column in returning)).where(
        *_unchanged(table, columns, key, values)).cte(f"current_{name}")
    written = _pg_upsert(model, columns, key, source.where(~sa.exists(current.select())), returning).cte(
        f"upserted_{name}")
    return sa.union_all(written.select(), current.select()).cte(name)


def _unchanged(table: sa.Table, columns: tuple[str, ...], key: tuple[str, ...],
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


def _pg_upsert(model: type[Any], columns: tuple[str, ...], key: tuple[str, ...],
               source: sa.Select[Any], returning: tuple[str, ...]) -> Any:
    table = model.__table__
    statement = postgresql.insert(table).from_select(list(columns), source)
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={name: statement.excluded[name] for name in columns if name not in key})
    return statement.returning(*(table.c[name] for name in returning))


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
    params = {**_prefixed("launch_", rows.launch), **{name: value for name, value in ids.items() if value is not None}}
    launch_id = session.execute(statement, params).scalar_one_or_none()
    if launch_id is None:
        return None
    return WrittenRows(user_id=user_id, context_id=context_id, resource_link_id=link_id,
                       link_activity_id=link_activity_id)


def _write_if_changed(session: orm.Session, model: type[Any], key: tuple[str, ...], values: dict[str, Any],
                      returning: tuple[str, ...] = ("id",)) -> Any:
    """As :func:`_pg_write_if_changed`: the stored row when it holds ``values``, else the upserted one. SQLite
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
    launch_binds = _binds(LtiLaunch, "launch_", LAUNCH_COLUMNS)
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
