"""One definition of a launch write's columns, shared by the PostgreSQL statement and SQLite's row-by-row path."""

from __future__ import annotations

import pytest

from lti_tool.launch import rows
from lti_tool.launch.rows import LaunchRows
from lti_tool.models import LtiContext
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiMembership
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser

# Columns a launch write does not take from the launch's values: keys the database assigns, ids taken from the rows
# written with it, and the activity a teacher places on a link later.
NOT_FROM_THE_LAUNCH = {
    LtiUser: {"id"},
    LtiContext: {"id"},
    LtiResourceLink: {"id", "context_id", "activity_id"},
    LtiMembership: {"id", "context_id", "user_id"},
    LtiLaunch: {"context_id", "resource_link_id", "user_id"},
}
DECLARED = {LtiUser: rows.USER_COLUMNS, LtiContext: rows.CONTEXT_COLUMNS, LtiResourceLink: rows.LINK_COLUMNS,
            LtiMembership: rows.MEMBERSHIP_COLUMNS, LtiLaunch: rows.LAUNCH_COLUMNS}


@pytest.mark.parametrize("model", list(DECLARED), ids=lambda model: model.__name__)
def test_every_column_of_a_launch_table_is_written_or_named_as_not_from_the_launch(model):
    assert set(model.__table__.c.keys()) == set(DECLARED[model]) | NOT_FROM_THE_LAUNCH[model]


def _values(columns: tuple[str, ...]) -> dict[str, object]:
    return {name: None for name in columns}


def _rows(**changed: dict[str, object]) -> LaunchRows:
    values = {"user": _values(rows.USER_COLUMNS), "context": _values(rows.CONTEXT_COLUMNS),
              "resource_link": _values(rows.LINK_COLUMNS), "membership": _values(rows.MEMBERSHIP_COLUMNS),
              "launch": _values(rows.LAUNCH_COLUMNS)} | changed
    return LaunchRows(**values)  # type: ignore[arg-type]


def test_values_naming_exactly_the_declared_columns_are_taken():
    assert _rows().user.keys() == set(rows.USER_COLUMNS)


@pytest.mark.parametrize("table", ["user", "context", "resource_link", "membership", "launch"])
def test_a_column_too_many_is_refused_not_dropped(table):
    columns = {"user": rows.USER_COLUMNS, "context": rows.CONTEXT_COLUMNS, "resource_link": rows.LINK_COLUMNS,
               "membership": rows.MEMBERSHIP_COLUMNS, "launch": rows.LAUNCH_COLUMNS}[table]
    with pytest.raises(ValueError, match="unknown \\['locale'\\]"):
        _rows(**{table: _values(columns) | {"locale": "es"}})


def test_a_missing_column_is_refused():
    user = _values(rows.USER_COLUMNS)
    del user["email"]
    with pytest.raises(ValueError, match="missing \\['email'\\]"):
        _rows(user=user)


@pytest.mark.parametrize(("has_context", "has_link"), [(True, True), (True, False), (False, False)])
def test_the_postgresql_statement_is_short_enough_for_psycopg_to_keep_its_parse(has_context, has_link):
    """psycopg parses a statement's text again on every execution when it is longer than this (Core's rendering of
    the launch statement was 5.6 KB: a parse per launch)."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
    from psycopg._queries import MAX_CACHED_STATEMENT_PARAMS
    from sqlalchemy.dialects import postgresql

    statement = rows._compiled_statement(postgresql.psycopg.dialect(), has_context, has_link)
    assert len(statement.compiled.string.encode()) <= MAX_CACHED_STATEMENT_LENGTH
    assert len(statement.compiled.bind_names) <= MAX_CACHED_STATEMENT_PARAMS
