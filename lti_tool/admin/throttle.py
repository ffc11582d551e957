"""Admin login throttling, per username and per address, kept in the database so every process shares it.

After ``ACCOUNT_LIMIT`` failures within ``WINDOW`` for one username (known or not: the answer must not tell), or
``ADDRESS_LIMIT`` for one address, that key is locked; each further lock lasts twice as long as the one before, up
to ``MAX_LOCK``. While locked, even the right password is refused. A successful login clears the username's
counter (not the address's: one right password must not buy an attacker on a shared address more guesses).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy import orm

from lti_tool.db import utcnow
from lti_tool.models import LoginThrottle

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = dt.timedelta(minutes=15)
FIRST_LOCK = dt.timedelta(minutes=5)
MAX_LOCK = dt.timedelta(hours=24)


def account_key(username: str) -> str:
    # Hashed: what people type as a username (sometimes their password) is never stored, and any text (NUL
    # characters, megabytes) makes a valid key.
    return "user:" + hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()


def address_key(address: str) -> str:
    return "addr:" + hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()


def _keys(username: str, address: str | None) -> dict[str, int]:
    keys = {account_key(username): ACCOUNT_LIMIT}
    if address:
        keys[address_key(address)] = ADDRESS_LIMIT
    return keys


def locked_for(session: orm.Session, username: str, address: str | None,
               now: dt.datetime | None = None) -> dt.timedelta | None:
    """How long logins for this username or from this address stay refused; ``None`` when they are not."""
    now = now or utcnow()
    until = session.scalar(sa.select(sa.func.max(LoginThrottle.locked_until)).where(
        LoginThrottle.key.in_(list(_keys(username, address))), LoginThrottle.locked_until > now))
    return None if until is None else until - now


def minutes(remaining: dt.timedelta) -> int:
    return max(1, math.ceil(remaining.total_seconds() / 60))


def record_failure(session: orm.Session, username: str, address: str | None, now: dt.datetime | None = None) -> None:
    """Count one failed login for the username and the address, and lock whichever reached its limit."""
    now = now or utcnow()
    for key, limit in _keys(username, address).items():
        _count(session, key, now)
        row = session.get(LoginThrottle, key, populate_existing=True)
        if row is not None and row.failures >= limit:
            lock = min(FIRST_LOCK * (2 ** min(row.lockouts, 16)), MAX_LOCK)
            row.locked_until, row.lockouts, row.failures, row.window_started_at = now + lock, row.lockouts + 1, 0, now
    session.flush()


def _count(session: orm.Session, key: str, now: dt.datetime) -> None:
    # One UPDATE counts atomically against concurrent failures in other processes; a window that has run out
    # starts again at one.
    expired = LoginThrottle.window_started_at < now - WINDOW
    update = (sa.update(LoginThrottle).where(LoginThrottle.key == key)
              .values(failures=sa.case((expired, 1), else_=LoginThrottle.failures + 1),
                      window_started_at=sa.case((expired, now), else_=LoginThrottle.window_started_at)))
    if int(session.execute(update, execution_options={"synchronize_session": False}).rowcount) == 1:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(LoginThrottle(key=key, failures=1, window_started_at=now, lockouts=0))
    except exc.IntegrityError:  # another process inserted it meanwhile: count on its row
        session.execute(update, execution_options={"synchronize_session": False})


def record_success(session: orm.Session, username: str) -> None:
    session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == account_key(username)),
                    execution_options={"synchronize_session": False})
