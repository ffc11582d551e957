"""A test double for the rule "no outbound HTTP while a write is pending; no provider or helper commits".

Writes are seen where SQLAlchemy makes them: a flush that wrote rows (``after_flush``) and a DML statement run
through a session (``do_orm_execute``: the upserts and conditional UPDATEs). They stay pending, for the thread
that made them, until that transaction ends (``after_transaction_end``: commit, rollback or close). Every
``requests`` call (the tool's HTTP session is a ``requests.Session``) checks that its thread has none pending, and
every commit checks that it is not made from inside a provider module or a domain helper. Violations are raised
where they happen and also collected, so a test can assert there were none even when the tool swallowed them.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlalchemy import event
from sqlalchemy import orm

# Code that must never commit: the request (or the worker's unit of work) owns the transaction.
ECHO_PROVIDER = "/tests/providers/echo_provider.py"
NO_COMMIT_IN = ("/lti_tool/providers/", "/lti_tool/activities.py", "/lti_tool/activity_configs.py", ECHO_PROVIDER)


class Violation(AssertionError):
    pass


class WriteGuard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[int, str]] = {}  # id(session) → (thread, what was written)
        self.violations: list[str] = []
        self.http_calls = 0

    # --- bookkeeping ------------------------------------------------------------------------------------------

    def _wrote(self, session: orm.Session, what: str) -> None:
        with self._lock:
            self._pending.setdefault(id(session), (threading.get_ident(), what))

    def after_flush(self, session: orm.Session, _context: Any) -> None:
        changed = [type(row).__name__ for row in (*session.new, *session.dirty, *session.deleted)]
        if changed:
            self._wrote(session, "flush of " + ", ".join(sorted(set(changed))))

    def do_orm_execute(self, state: orm.ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self._wrote(state.session, str(state.statement).split("\n", 1)[0][:80])

    def after_transaction_end(self, session: orm.Session, transaction: orm.SessionTransaction) -> None:
        if transaction.parent is None:
            with self._lock:
                self._pending.pop(id(session), None)

    def before_commit(self, session: orm.Session) -> None:
        # The tool's code that asked for this commit: the innermost frame of the tool (or of the echo provider).
        # A unit of work of its own (the token cache's session) is committed by its owner, which is allowed.
        ours = [frame for frame in traceback.extract_stack()
                if "/lti_tool/" in frame.filename.replace("\\", "/") or frame.filename.endswith(ECHO_PROVIDER)]
        if ours and any(part in ours[-1].filename.replace("\\", "/") for part in NO_COMMIT_IN):
            self._violate(f"commit from {ours[-1].filename}:{ours[-1].lineno} ({ours[-1].name}): the request "
                          f"owns the transaction")

    def before_http(self, method: str, url: str) -> None:
        self.http_calls += 1
        me = threading.get_ident()
        with self._lock:
            pending = [what for thread, what in self._pending.values() if thread == me]
        if pending:
            self._violate(f"{method} {url.split('?', 1)[0]} while a write is pending ({pending[0]})")

    def _violate(self, message: str) -> None:
        self.violations.append(message)
        raise Violation(message)


@contextmanager
def guarding() -> Iterator[WriteGuard]:
    guard = WriteGuard()
    original_send = requests.Session.send

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        guard.before_http(str(request.method), str(request.url))
        return original_send(self, request, **kwargs)

    listeners: list[tuple[str, Callable[..., Any]]] = [
        ("after_flush", guard.after_flush), ("do_orm_execute", guard.do_orm_execute),
        ("after_transaction_end", guard.after_transaction_end), ("before_commit", guard.before_commit)]
    for name, listener in listeners:
        event.listen(orm.Session, name, listener)
    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield guard
    finally:
        requests.Session.send = original_send  # type: ignore[method-assign]
        for name, listener in listeners:
            event.remove(orm.Session, name, listener)


@pytest.fixture(autouse=True)
def write_guard() -> Iterator[WriteGuard]:
    """No HTTP while a write is pending, no commit inside a provider or helper: imported by the conftest of each
    test folder that runs under the guard."""
    with guarding() as guard:
        yield guard
    assert guard.violations == [], guard.violations
