"""Capture the SQL an engine sends, to count statements or read their text in tests (never to time them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def statements_sent(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements sent while the block runs, whitespace collapsed, in order."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        sent.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
