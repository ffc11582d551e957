"""Reading every table of the schema (from the models' metadata, so a new table is covered without a change here)
for rows that name a person."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from lti_tool.db import Base

RowKey = tuple[str, tuple[Any, ...]]


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return ""


def every_row(database) -> dict[RowKey, dict[str, Any]]:
    """Every row of every table, by (table, primary key)."""
    rows: dict[RowKey, dict[str, Any]] = {}
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            key_columns = [column.name for column in table.primary_key.columns]
            for row in connection.execute(sa.select(table)).mappings():
                rows[table.name, tuple(row[name] for name in key_columns)] = dict(row)
    return rows


def rows_naming(database, markers: list[str]) -> dict[RowKey, dict[str, Any]]:
    """The rows that name a person: any text or JSON column holds one of ``markers`` (case-insensitive), or a
    foreign key points at a row that names them (an attempt points at the user, a result at the attempt, …)."""
    wanted = [marker.lower() for marker in markers if marker]
    rows = every_row(database)
    named = {key: row for key, row in rows.items()
             if any(marker in _text_of(value).lower() for value in row.values() for marker in wanted)}
    references = [(table.name, [element.parent.name for element in constraint.elements],
                   constraint.referred_table.name, [element.column.name for element in constraint.elements])
                  for table in Base.metadata.sorted_tables for constraint in table.foreign_key_constraints]
    while True:
        pointed_at = {(table, tuple(columns), tuple(row[name] for name in columns))
                      for (table, _), row in named.items()
                      for _, _, referred, columns in references if referred == table}
        found = {key: row for key, row in rows.items() if key not in named and any(
            key[0] == table and (referred, tuple(referred_columns), tuple(row[name] for name in columns))
            in pointed_at for table, columns, referred, referred_columns in references)}
        if not found:
            return named
        named.update(found)


def as_exported(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the privacy export writes it (timestamps in ISO 8601)."""
    def exported(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()
        return value
    return {name: exported(value) for name, value in row.items()}
