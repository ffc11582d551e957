"""Store a provider's result and queue its score: one statement on PostgreSQL, a few in one transaction on SQLite.

The result is inserted straight from the attempt's key (``INSERT … SELECT … FROM attempt … ON CONFLICT DO NOTHING``),
so the attempt is never loaded; when that inserted a row, the same write marks older queued scores superseded,
updates the attempt only if its status changes, and inserts the score submission. On PostgreSQL the steps are
data-modifying CTEs of one statement; SQLite runs the same Core statements one after the other. Statements are
built once per shape: building one costs more than running it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.dml import ReturningInsert

from lti_tool.db import Base
from lti_tool.db import DriverStatement
from lti_tool.db import sql_constant
from lti_tool.models import Attempt
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus

Finish = Literal["finished", "reset"] | None
COMPLETE = "complete"
INVALIDATED = "invalidated"
PENDING = SubmissionStatus.PENDING.value
SUPERSEDED = SubmissionStatus.SUPERSEDED.value

_ATTEMPT = Base.metadata.tables[Attempt.__tablename__]
_RESULT = Base.metadata.tables[Result.__tablename__]
_SUBMISSION = Base.metadata.tables[ScoreSubmission.__tablename__]
RESULT_COLUMNS = ("external_id", "status", "scores", "scale_maximum", "report_url", "payload", "public_id",
                  "datetime_received")
SUBMISSION_COLUMNS = ("score_given", "score_maximum", "activity_progress", "grading_progress", "comment", "status",
                      "tries", "next_attempt_at", "datetime_created")


@dataclass(frozen=True)
class ResultWrite:
    """Everything one accepted result changes, decided before writing.

    ``result`` and ``submission`` hold the :data:`RESULT_COLUMNS` and :data:`SUBMISSION_COLUMNS` values
    (``submission`` None: nothing to queue); ``attempt_status`` None leaves the attempt's status as it is.
    ``invalidate_others`` marks the attempt's other complete results invalidated (a withdrawn test).
    ``finish``: "finished" records now as when the learner finished, unless a time is recorded already; "reset"
    forgets it (the test was reset: the next finish counts); None leaves it.
    """

    result: Mapping[str, Any]
    attempt_status: str | None
    attempt_detail: str | None
    submission: Mapping[str, Any] | None
    invalidate_others: bool
    now: dt.datetime
    finish: Finish = None


@dataclass(frozen=True)
class Stored:
    result_id: int
    attempt_id: int
    submission_id: int | None


def store_result(session: orm.Session, attempt_key: Mapping[str, int | str], activity_id: int | None,
                 write: ResultWrite) -> Stored | None:
    """Write ``write`` for the attempt ``attempt_key`` singles out; ``None`` if nothing was stored: the attempt
    has this result already, there is no such attempt, or (``activity_id`` given) it belongs to another activity.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        single, params = pg_statement(connection.dialect, attempt_key, activity_id, write)
        row = single.execute(connection, params).first()
        return None if row is None else Stored(result_id=row[0], attempt_id=row[1], submission_id=row[2])
    shape, params = _shape(attempt_key, activity_id, write), _params(attempt_key, activity_id, write)
    statements = _statements(connection.dialect.name, shape)
    inserted = connection.execute(statements.insert_result, params).first()
    if inserted is None:
        return None
    params.update(new_result_id=inserted[0], new_attempt_id=inserted[1])
    for update in statements.updates:
        connection.execute(update, params)
    submission_id = None
    if statements.insert_submission is not None:
        submission_id = connection.execute(statements.insert_submission, params).scalar_one()
    return Stored(result_id=inserted[0], attempt_id=inserted[1], submission_id=submission_id)


def pg_statement(dialect: sa.Dialect, attempt_key: Mapping[str, int | str], activity_id: int | None,
                 write: ResultWrite) -> tuple[DriverStatement, dict[str, Any]]:
    """PostgreSQL's single statement for ``write``, compiled, and its parameters (see :func:`store_result`). Its
    result row, if any, holds the new result's id, its attempt's id and the queued submission's id (or null)."""
    return (_driver_statement(dialect, _shape(attempt_key, activity_id, write)),
            _params(attempt_key, activity_id, write))


def _shape(attempt_key: Mapping[str, int | str], activity_id: int | None, write: ResultWrite) -> _Shape:
    return _Shape(tuple(sorted(attempt_key)), activity_id is not None, write.attempt_status is not None,
                  write.invalidate_others, write.submission is not None, write.finish)


def _params(attempt_key: Mapping[str, int | str], activity_id: int | None, write: ResultWrite) -> dict[str, Any]:
    # No parameter may be named like a column: Core would add "SET column = :column" to an UPDATE given one.
    params: dict[str, Any] = {f"key_{name}": value for name, value in attempt_key.items()}
    params.update({f"result_{name}": write.result[name] for name in RESULT_COLUMNS})
    params.update(guard_activity_id=activity_id, attempt_status=write.attempt_status,
                  attempt_detail=write.attempt_detail, now=write.now)
    if write.submission is not None:
        params.update({f"submission_{name}": write.submission[name] for name in SUBMISSION_COLUMNS})
    return params


def supersede_pending(session: orm.Session, attempt_id: int, now: dt.datetime) -> None:
    """Mark the attempt's queued scores superseded, before queueing a newer one (see :func:`_supersede`)."""
    session.connection().execute(_supersede_statement(), {"new_attempt_id": attempt_id, "now": now})


# --- statements --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Shape:
    """What varies between the statements of two results (never the values)."""

    key_columns: tuple[str, ...]
    checks_activity: bool
    sets_status: bool
    invalidates_others: bool
    queues_score: bool
    finish: Finish = None


@dataclass(frozen=True)
class _Statements:
    insert_result: sa.Executable
    updates: tuple[sa.Executable, ...]
    insert_submission: sa.Executable | None


def _now() -> sa.BindParameter[dt.datetime]:
    return sa.bindparam("now", type_=_ATTEMPT.c.datetime_updated.type)


def _bind(table: sa.Table, prefix: str, name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(f"{prefix}_{name}", type_=table.c[name].type)


def _insert_result(dialect: str, shape: _Shape) -> ReturningInsert[Any]:
    """INSERT INTO result … SELECT attempt.id, <values> FROM attempt WHERE <key> ON CONFLICT DO NOTHING RETURNING."""
    where = [_ATTEMPT.c[name] == _bind(_ATTEMPT, "key", name) for name in shape.key_columns]
    if shape.checks_activity:
        where.append(_ATTEMPT.c.activity_id == sa.bindparam("guard_activity_id", type_=_ATTEMPT.c.activity_id.type))
    source = sa.select(_ATTEMPT.c.id, *(_bind(_RESULT, "result", name) for name in RESULT_COLUMNS)).where(*where)
    insert = postgresql.insert(_RESULT) if dialect == "postgresql" else sqlite.insert(_RESULT)
    return (insert.from_select(["attempt_id", *RESULT_COLUMNS], source, include_defaults=False)
            .on_conflict_do_nothing(index_elements=["attempt_id", "external_id"])
            .returning(_RESULT.c.id, _RESULT.c.attempt_id))


def _updates(shape: _Shape, attempt_id: sa.ColumnElement[int], result_id: sa.ColumnElement[int],
             ) -> list[sa.Update]:
    """The other changes a new result makes, about the attempt ``attempt_id`` and its new result ``result_id``."""
    updates = []
    if shape.invalidates_others:
        updates.append(sa.update(_RESULT).where(_RESULT.c.attempt_id == attempt_id, _RESULT.c.id != result_id,
                                                _RESULT.c.status == COMPLETE).values(status=INVALIDATED))
    if shape.queues_score:
        updates.append(_supersede(attempt_id))
    # The attempt row is written only when its status, detail or finish time changes (a retake of a submitted,
    # finished attempt: never).
    detail = sa.bindparam("attempt_detail", type_=_ATTEMPT.c.status_detail.type)
    changed = [_ATTEMPT.c.status_detail.is_distinct_from(detail)]
    values: dict[str, Any] = {"status_detail": detail, "datetime_updated": _now()}
    if shape.sets_status:
        status = sa.bindparam("attempt_status", type_=_ATTEMPT.c.status.type)
        changed.append(_ATTEMPT.c.status != status)
        values["status"] = status
    finished = _ATTEMPT.c.datetime_finished
    if shape.finish == "finished":
        changed.append(finished.is_(None))
        values["datetime_finished"] = sa.func.coalesce(finished, _now())
    elif shape.finish == "reset":
        changed.append(finished.is_not(None))
        values["datetime_finished"] = sa.null()
    updates.append(sa.update(_ATTEMPT).where(_ATTEMPT.c.id == attempt_id, sa.or_(*changed)).values(values))
    return updates


def _supersede(attempt_id: sa.ColumnElement[int]) -> sa.Update:
    """Older queued scores are replaced by the new one, so the LMS gets one request, not a backlog. A row a worker
    is sending right now (lease held) is left alone; the newer timestamp wins."""
    return sa.update(_SUBMISSION).where(
        _SUBMISSION.c.attempt_id == attempt_id, _SUBMISSION.c.status == sql_constant(PENDING),
        sa.or_(_SUBMISSION.c.locked_until.is_(None), _SUBMISSION.c.locked_until < _now()),
    ).values(status=SUPERSEDED)


@functools.cache
def _supersede_statement() -> sa.Update:
    return _supersede(sa.bindparam("new_attempt_id", type_=sa.Integer()))


def _submission_source(attempt_id: sa.ColumnElement[int], result_id: sa.ColumnElement[int]) -> sa.Select[Any]:
    return sa.select(attempt_id, result_id, *(_bind(_SUBMISSION, "submission", name) for name in SUBMISSION_COLUMNS))


def _insert_submission(source: sa.Select[Any]) -> ReturningInsert[Any]:
    return (sa.insert(_SUBMISSION)
            .from_select(["attempt_id", "result_id", *SUBMISSION_COLUMNS], source, include_defaults=False)
            .returning(_SUBMISSION.c.id))


@functools.lru_cache(maxsize=64)
def _statements(dialect: str, shape: _Shape) -> _Statements:
    """SQLite: the steps as separate statements; the new result's ids are parameters of the later ones."""
    attempt_id = sa.bindparam("new_attempt_id", type_=sa.Integer())
    result_id = sa.bindparam("new_result_id", type_=sa.Integer())
    insert_submission = _insert_submission(_submission_source(attempt_id, result_id)) if shape.queues_score else None
    return _Statements(insert_result=_insert_result(dialect, shape),
                       updates=tuple(_updates(shape, attempt_id, result_id)), insert_submission=insert_submission)


@functools.lru_cache(maxsize=64)
def _driver_statement(dialect: sa.Dialect, shape: _Shape) -> DriverStatement:
    return DriverStatement.compile(_single_statement(shape), dialect)


@functools.lru_cache(maxsize=64)
def _single_statement(shape: _Shape) -> sa.Select[Any]:
    """PostgreSQL: one statement. Every CTE sees the same snapshot, so superseding never touches the new score."""
    new_result = _insert_result("postgresql", shape).cte("new_result")
    attempt_id = sa.select(new_result.c.attempt_id).scalar_subquery()
    result_id = sa.select(new_result.c.id).scalar_subquery()
    changes = [update.cte(f"change_{index}") for index, update in enumerate(_updates(shape, attempt_id, result_id))]
    if not shape.queues_score:
        return sa.select(new_result.c.id, new_result.c.attempt_id, sa.null()).add_cte(*changes)
    new_submission = _insert_submission(_submission_source(new_result.c.attempt_id, new_result.c.id)) \
        .cte("new_submission")
    return (sa.select(new_result.c.id, new_result.c.attempt_id, new_submission.c.id)
            .select_from(new_result.outerjoin(new_submission, sa.true()))
            .add_cte(*changes))

