"""Is the database reachable, and is its schema the one this version of the tool needs?"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from lti_tool.migrate import alembic_config


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with this install (read from the package's files once per process)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: the database has no schema yet (`lti-tool init` never ran)
    head: str | None

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def schema_state(engine: sa.Engine) -> SchemaState:
    """One short query. :raise sqlalchemy.exc.SQLAlchemyError: the database cannot be reached."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return SchemaState(current=None, head=head_revision())
        current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return SchemaState(current=current, head=head_revision())


def first_line(error: BaseException, limit: int = 200) -> str:
    """The driver's own sentence for a database error (SQLAlchemy's wrapper adds the statement and a link)."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return (text[0] if text else type(original).__name__)[:limit]
