"""Tool admin accounts: created from the command line, checked at the login page."""

from __future__ import annotations

import hashlib
import logging
import re

import sqlalchemy as sa
from sqlalchemy import orm
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from lti_tool.models.admin import ToolAdmin

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte-long "password" on every attempt would be a cheap DoS
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,100}$")
# Checked when the username is unknown, so that a miss costs as much time as a wrong password and the response
# time does not tell which usernames exist.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class AccountError(ValueError):
    """The username or password cannot be used; the message says why."""


def validate_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise AccountError("a username is 1-100 letters, digits or . _ @ + -")
    return username


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    return password


def find_admin(session: orm.Session, username: str) -> ToolAdmin | None:
    return session.scalars(sa.select(ToolAdmin).where(ToolAdmin.username == username)).first()


def add_admin(session: orm.Session, username: str, password: str) -> ToolAdmin:
    """:raise AccountError: invalid username or password, or the username is taken."""
    validate_username(username)
    validate_password(password)
    if find_admin(session, username) is not None:
        raise AccountError(f"there is already an admin named {username!r}")
    admin = ToolAdmin(username=username, password_hash=generate_password_hash(password))
    session.add(admin)
    session.flush()
    return admin


def set_password(session: orm.Session, username: str, password: str) -> ToolAdmin:
    """:raise AccountError: no such admin, or an unusable password. Existing logins of the admin end."""
    validate_password(password)
    admin = find_admin(session, username)
    if admin is None:
        raise AccountError(f"no admin named {username!r}")
    admin.password_hash = generate_password_hash(password)
    return admin


def remove_admin(session: orm.Session, username: str) -> None:
    """:raise AccountError: no such admin."""
    admin = find_admin(session, username)
    if admin is None:
        raise AccountError(f"no admin named {username!r}")
    session.delete(admin)
    session.flush()


def list_admins(session: orm.Session) -> list[ToolAdmin]:
    return list(session.scalars(sa.select(ToolAdmin).order_by(ToolAdmin.username)))


def authenticate(session: orm.Session, username: str, password: str) -> ToolAdmin | None:
    """The admin if the password is right; ``None`` for a wrong password and an unknown user alike."""
    admin = find_admin(session, username) if _USERNAME.match(username) else None
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    # check_password_hash compares in constant time; the dummy hash makes an unknown user cost the same.
    matches = check_password_hash(admin.password_hash if admin else _DUMMY_HASH, password)
    return admin if admin is not None and matches else None


def password_fingerprint(admin: ToolAdmin) -> str:
    """Stored in the login cookie: a password change (or a removed account) ends the logins made before it."""
    return hashlib.sha256(admin.password_hash.encode()).hexdigest()[:32]
