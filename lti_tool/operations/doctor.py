"""``lti-tool doctor``: what an admin would otherwise learn from a failing launch, one line per check.

Each check gives ok, warn or fail, and a failure says what to do. A check that cannot run (the database is down)
is one fail line, and the checks that need what it found are left out rather than failing after it. Nothing here
raises: an unexpected error is a fail line too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from lti_tool.config import ConfigError
from lti_tool.config import Settings
from lti_tool.config import base_url_problem
from lti_tool.config import is_local_url
from lti_tool.config import load_settings
from lti_tool.config import secret_key_problem
from lti_tool.config import startup_warnings
from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.http import HttpSession
from lti_tool.keys import published_jwks
from lti_tool.migrate import alembic_config
from lti_tool.models import LtiRegistration
from lti_tool.models import ToolKey
from lti_tool.outbound import BlockedUrl
from lti_tool.outbound import fenced_request
from lti_tool.services import Services
from lti_tool.telemetry.heartbeat import STALE_AFTER
from lti_tool.telemetry.schema import first_line
from lti_tool.telemetry.schema import schema_state
from lti_tool.telemetry.state import outbox_state

OK, WARN, FAIL = "ok", "warn", "fail"
# The documented alert thresholds (docs/operations.md); doctor warns at the same points.
OLDEST_PENDING_WARN = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Check:
    status: str  # ok, warn or fail
    name: str
    message: str
    remedy: str = ""

    def line(self) -> str:
        text = f"{self.name}: {self.message}" + (f" — {self.remedy}" if self.remedy else "")
        return f"{self.status:<4} " + " ".join(text.split())  # one line, whatever the messages hold


def run_doctor(environ: Mapping[str, str] | None = None, network: bool = False,
               now: Callable[[], dt.datetime] = utcnow) -> Iterator[Check]:
    """Every check in order; stops early only where later checks need what an earlier one could not get."""
    try:
        settings = load_settings(environ=environ, check_safety=False)
    except ConfigError as exc:
        yield Check(FAIL, "settings", str(exc))
        return
    yield Check(OK, "settings", f"LTI_TOOL_ENV={settings.env}, base URL {settings.base_url}")
    yield _secret_key(settings)
    yield _base_url(settings)
    for warning in startup_warnings(settings):
        yield Check(WARN, "database backend", warning)
    try:
        database = Database(settings.database_url)
    except Exception as exc:  # e.g. a SQLite folder that cannot be created
        yield Check(FAIL, "database reachable", f"cannot open {type(exc).__name__}: {exc}",
                    "correct LTI_TOOL_DATABASE_URL (or LTI_TOOL_DATA_DIR)")
        return
    try:
        yield from _database_checks(database, settings, network, now)
    finally:
        database.dispose()


def _database_checks(database: Database, settings: Settings, network: bool,
                     now: Callable[[], dt.datetime]) -> Iterator[Check]:
    reachable = _guarded("database reachable", lambda: _reachable(database))
    yield reachable
    if reachable.status == FAIL:
        return
    migrations = _guarded("migrations", lambda: _migrations(database))
    yield migrations
    if migrations.status == FAIL:
        return  # the tables the other checks read may not exist yet
    yield _guarded("signing key", lambda: _signing_key(database, settings, network))
    yield _guarded("passback worker", lambda: _heartbeat(database, now()))
    yield _guarded("outbox", lambda: _outbox(database, now()))
    if network:
        try:
            yield from _key_sets(database, settings)
        except sa.exc.SQLAlchemyError as exc:
            yield Check(FAIL, "registration key sets", f"database error: {first_line(exc)}")


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except sa.exc.SQLAlchemyError as exc:
        return Check(FAIL, name, f"database error: {first_line(exc)}", "see the database server's log")
    except Exception as exc:
        return Check(FAIL, name, f"unexpected error ({type(exc).__name__}: {exc})", "report it with this line")


def _secret_key(settings: Settings) -> Check:
    problem = secret_key_problem(settings)
    if problem:
        return Check(FAIL, "secret key", problem)
    if settings.env != "production":
        return Check(OK, "secret key", f"{settings.env}: a generated secret is allowed")
    return Check(OK, "secret key", f"{len(settings.secret_key)} characters")


def _base_url(settings: Settings) -> Check:
    problem = base_url_problem(settings)
    if problem:
        return Check(FAIL, "base URL", problem)
    if settings.is_https:
        return Check(OK, "base URL", "https")
    if settings.env != "production":
        return Check(OK, "base URL", f"plain http ({settings.env})")
    if is_local_url(settings.base_url):
        return Check(WARN, "base URL", f"plain http on this machine ({settings.base_url}): only a browser here "
                                       "can use it", "give the https:// address LMSs and browsers reach")
    return Check(WARN, "base URL", "plain http allowed by LTI_TOOL_ALLOW_INSECURE_HTTP",
                 "serve https:// as soon as the network in front of the tool allows it")


def _reachable(database: Database) -> Check:
    try:
        with database.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return Check(FAIL, "database reachable", f"cannot connect ({first_line(exc)})",
                     "start the database server, or correct LTI_TOOL_DATABASE_URL")
    return Check(OK, "database reachable", database.engine.dialect.name)


def _migrations(database: Database) -> Check:
    state = schema_state(database.engine)
    if state.current is None:
        return Check(FAIL, "migrations", "the database has no schema", "run `lti-tool init`")
    if state.at_head:
        return Check(OK, "migrations", f"at {state.head}")
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()}
    if state.current not in known:
        return Check(FAIL, "migrations", f"the database is at revision {state.current}, newer than this install "
                                         f"(which knows up to {state.head})", "install the newer version of the tool")
    return Check(FAIL, "migrations", f"the database is at revision {state.current}, this version needs "
                                     f"{state.head}", "run `lti-tool db upgrade`, then restart the tool")


def _signing_key(database: Database, settings: Settings, network: bool) -> Check:
    with database.sessionmaker() as session:
        kid = session.scalar(sa.select(ToolKey.kid).where(ToolKey.is_active.is_(True))
                             .order_by(ToolKey.id.desc()).limit(1))
        published = {key.get("kid") for key in published_jwks(session)["keys"]}
    if kid is None:
        return Check(FAIL, "signing key", "the tool has no signing key", "run `lti-tool init`")
    jwks_url = settings.url("/lti/jwks")
    if kid not in published:
        return Check(FAIL, "signing key", f"key {kid} is not in the published key set",
                     "run `lti-tool keys rotate`")
    if not network:
        return Check(OK, "signing key", f"{kid}, published at {jwks_url}")
    try:
        with HttpSession(timeout=settings.http_timeout_seconds) as http:
            response = http.get(jwks_url)
        served = {key.get("kid") for key in response.json().get("keys", [])} if response.ok else set()
    except Exception as exc:
        return Check(FAIL, "signing key", f"{jwks_url} cannot be read ({type(exc).__name__})",
                     "check that the tool runs and the proxy forwards that URL to it")
    if kid not in served:
        return Check(FAIL, "signing key", f"{jwks_url} (HTTP {response.status_code}) does not serve key {kid}",
                     "check LTI_TOOL_BASE_URL and that the proxy forwards /lti/jwks to this tool")
    return Check(OK, "signing key", f"{kid}, served at {jwks_url}")


def _heartbeat(database: Database, now: dt.datetime) -> Check:
    with database.sessionmaker() as session:
        age = outbox_state(session, now).heartbeat_age_seconds
    start = "start `lti-tool worker` (or `lti-tool serve` without --no-worker)"
    if age is None:
        return Check(FAIL, "passback worker", "no worker has ever recorded a heartbeat: grades are not sent", start)
    if age > STALE_AFTER.total_seconds():
        return Check(FAIL, "passback worker", f"last heartbeat {_duration(age)} ago: grades are not being sent",
                     f"the worker is stopped, stuck or cannot reach the database: check its service and log, or "
                     f"{start}")
    return Check(OK, "passback worker", f"last heartbeat {_duration(age)} ago")


def _outbox(database: Database, now: dt.datetime) -> Check:
    with database.sessionmaker() as session:
        state = outbox_state(session, now)
    summary = f"{state.pending} pending (oldest {_duration(state.oldest_pending_age_seconds)}), {state.parked} parked"
    if state.parked:
        return Check(WARN, "outbox", summary, "LMSs refused parked scores for good: see /admin/queue")
    if state.oldest_pending_age_seconds > OLDEST_PENDING_WARN.total_seconds():
        return Check(WARN, "outbox", summary, "scores wait long: see /admin/queue for the LMS's answers")
    return Check(OK, "outbox", summary)


def _key_sets(database: Database, settings: Settings) -> Iterator[Check]:
    with database.sessionmaker() as session:
        registrations = list(session.execute(
            sa.select(LtiRegistration.id, LtiRegistration.issuer, LtiRegistration.key_set_url)
            .where(LtiRegistration.is_active.is_(True)).order_by(LtiRegistration.id)))
    services = Services.from_settings(settings, database)
    for registration_id, issuer, url in registrations:
        name = f"key set of registration {registration_id} ({issuer})"
        if not url:
            yield Check(OK, name, "stored with the registration (no URL to fetch)")
            continue
        try:
            answer = fenced_request(services.http, services.fence, "GET", url)
            keys = answer.json().get("keys") if answer.ok else None
        except (BlockedUrl, ValueError, AttributeError) as exc:
            yield Check(FAIL, name, f"{url} cannot be fetched ({exc})",
                        "check the URL (`lti-tool registrations list`) and that this server reaches it")
            continue
        if not isinstance(keys, list) or not keys:
            yield Check(FAIL, name, f"{url} answered HTTP {answer.status_code} without keys",
                        "check the key-set URL the LMS gave (`lti-tool registrations list`)")
        else:
            yield Check(OK, name, f"{len(keys)} keys at {url}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
