"""Shared fixtures: every database test runs on SQLite and on PostgreSQL; the tool and the LMS emulator run as
real HTTP servers so tests drive them as a browser and a platform would.

``LTI_TOOL_TEST_BACKENDS`` (default ``sqlite,postgresql``) picks the databases; ``LTI_TOOL_TEST_PG_URL`` the
PostgreSQL server (default: postgres@127.0.0.1:5432, trust auth, as on CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool import migrate
from lti_tool.app import create_app
from lti_tool.config import Settings
from lti_tool.config import load_settings
from lti_tool.db import Base
from lti_tool.db import Database
from lti_tool.keys import create_key
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import LtiRegistration
from lti_tool.models import ToolKey
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import DefaultCourse
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import ToolClient
from lti_tool.sandbox.platform import create_platform_app
from lti_tool.services import Services

BACKENDS = [name.strip() for name in os.environ.get("LTI_TOOL_TEST_BACKENDS", "sqlite,postgresql").split(",")]
PG_SERVER_URL = os.environ.get("LTI_TOOL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head once per session and backend."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "lti-tool.sqlite3"
        url = f"sqlite:///{path}"
        _migrate(url)
        yield url
        return
    if request.param != "postgresql":
        raise ValueError(f"unknown test backend {request.param!r}")
    name = f"lti_tool_test_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    _migrate(url)
    yield url
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def _migrate(url: str) -> None:
    database = Database(url)
    migrate.upgrade(database.engine)
    database.dispose()


_TOOL_KEY: dict[str, Any] = {}


@pytest.fixture
def database(migrated_database_url: str) -> Iterator[Database]:
    """An empty database (schema at head) holding one tool key, generated once per session."""
    database = Database(migrated_database_url)
    with database.session() as session:
        if not _TOOL_KEY:
            key = create_key(session)
            _TOOL_KEY.update(kid=key.kid, private_key_pem=key.private_key_pem, public_jwk=key.public_jwk)
        else:
            session.add(ToolKey(**_TOOL_KEY))
    yield database
    _empty(database)
    database.dispose()


def _empty(database: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.is_postgresql:
            connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The ``LTI_TOOL_*`` variables that point the ``lti-tool`` command at the test database."""
    for name, value in {"LTI_TOOL_ENV": "testing", "LTI_TOOL_DATABASE_URL": database.url,
                        "LTI_TOOL_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    return database


@pytest.fixture
def tool_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the tool's settings."""
    return {}


@pytest.fixture
def settings(database: Database, tool_server: LiveServer, settings_overrides: dict[str, Any],
             tmp_path: Path) -> Settings:
    return load_settings({
        "env": "testing", "base_url": tool_server.url, "database_url": database.url,
        "data_dir": str(tmp_path), "proxy_count": 0, "http_timeout_seconds": 5.0, **settings_overrides,
    }, environ={})


@pytest.fixture
def app(settings: Settings, database: Database, tool_server: LiveServer) -> Any:
    app = create_app(settings, services=Services.from_settings(settings, database=database))
    tool_server.start(app)
    return app


@pytest.fixture
def platform_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def platform(platform_server: LiveServer) -> PlatformEmulator:
    emulator = PlatformEmulator(issuer=platform_server.url, base_url=platform_server.url)
    platform_server.start(create_platform_app(emulator))
    return emulator


@dataclass
class Connected:
    """The tool registered with the emulated LMS, and a course with a teacher and a learner."""

    platform: PlatformEmulator
    client: ToolClient
    registration: LtiRegistration
    course: DefaultCourse
    tool_url: str

    def launch_url(self, sub: str | None = None, resource_link_id: str = "link-1", **kwargs: Any) -> str:
        return self.platform.begin_launch(self.client.client_id, sub or self.course.learner, self.course.context_id,
                                          resource_link_id=resource_link_id, **kwargs)


@pytest.fixture
def connected(app: Any, platform: PlatformEmulator, database: Database, tool_server: LiveServer) -> Connected:
    client = platform.register_tool("Speaking tests", oidc_initiation_url=f"{tool_server.url}/lti/login",
                                    target_link_uri=f"{tool_server.url}/lti/launch",
                                    jwks_uri=f"{tool_server.url}/lti/jwks")
    details = PlatformDetails(issuer=platform.issuer, client_id=client.client_id,
                              auth_login_url=platform.auth_url, auth_token_url=platform.token_url,
                              key_set_url=platform.jwks_url, name="Emulated LMS")
    with database.session() as session:
        registration = register_platform(session, details, "manual", [client.deployment_id], approve=True)
    return Connected(platform=platform, client=client, registration=registration,
                     course=platform.add_default_course(), tool_url=tool_server.url)


@pytest.fixture
def browser() -> FormBrowser:
    return FormBrowser()


@pytest.fixture
def speechace() -> Iterator[Any]:
    """The Speechace emulator on its own HTTP server."""
    from lti_tool.sandbox.speechace import SpeechaceEmulator
    from lti_tool.sandbox.speechace import create_speechace_app

    server = LiveServer()
    emulator = SpeechaceEmulator(server.url)
    server.start(create_speechace_app(emulator))
    yield emulator
    server.stop()


@dataclass
class SpeechaceSetup:
    """A Speechace assessment configured in the tool, and an activity using it."""

    emulator: Any
    assessment: Any  # the emulator's SpeechaceAssessment (holds the key)
    assessment_pk: int
    activity_public_id: str


@pytest.fixture
def speechace_activity_options() -> dict[str, Any]:
    """Override in a test module or with parametrize to change the activity's grading settings."""
    return {}


@pytest.fixture
def speechace_setup(speechace, database, speechace_activity_options) -> SpeechaceSetup:
    from lti_tool.activities import create_activity
    from lti_tool.providers.speechace_assessments import add_speechace_assessment

    remote = speechace.add_assessment(title="Placement speaking test")
    with database.session() as session:
        assessment = add_speechace_assessment(session, "Placement speaking test", oembed_url=remote.share_link)
        activity = create_activity(session, assessment, "Unit 3 speaking test", **speechace_activity_options)
        return SpeechaceSetup(emulator=speechace, assessment=remote, assessment_pk=assessment.id,
                              activity_public_id=activity.public_id)


@dataclass
class ItepSetup:
    """The iTEP emulator, the school's iTEP account in the tool, and a GTX and an STX activity."""

    emulator: Any
    account_pk: int
    gtx_activity: str
    stx_activity: str
    webhook_secret: str = "hook-secret-123"


@pytest.fixture
def itep_account_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def itep_setup(database, tool_server, itep_account_options) -> Iterator[ItepSetup]:
    from lti_tool.activities import create_activity
    from lti_tool.providers.itep_accounts import add_itep_account
    from lti_tool.providers.itep_accounts import add_itep_assessment
    from lti_tool.providers.itep_accounts import itep_webhook_url
    from lti_tool.sandbox.itep import ItepEmulator
    from lti_tool.sandbox.itep import create_itep_app

    encoding = itep_account_options.get("signature_encoding", "hex")
    server = LiveServer()
    emulator = ItepEmulator(server.url, api_key="itep-api-key-0001", signature_header="X-Itep-Hmac",
                            signature_encoding=encoding)
    server.start(create_itep_app(emulator))
    emulator.add_product("GTX-Academic-Plus", inventory=3)
    emulator.add_product("STX-Academic-Plus", inventory=3)
    with database.session() as session:
        account = add_itep_account(session, "School iTEP", emulator.fulfillment_url, "itep-api-key-0001", "RC",
                                   "hook-secret-123", signature_header="X-Itep-Hmac",
                                   **itep_account_options)
        gtx = create_activity(session, add_itep_assessment(session, account, "iTEP Academic", "GTX-Academic-Plus"),
                              "iTEP placement", score_maximum=60, score_component="overall")
        stx = create_activity(session, add_itep_assessment(session, account, "iTEP by email", "STX-Academic-Plus"),
                              "iTEP (emailed)")
        webhook = itep_webhook_url(f"{tool_server.url}/callbacks/itep", account)
        auth = account.settings["webhook_auth"]
        setup = ItepSetup(emulator=emulator, account_pk=account.id, gtx_activity=gtx.public_id,
                          stx_activity=stx.public_id)
    emulator.configure_tracking("RC", webhook, auth=auth, secret="hook-secret-123", header_name="X-iTEP-Token")
    yield setup
    server.stop()


def add_bare_activity(session: orm.Session, title: str) -> Activity:
    """An activity on a Speechace assessment without settings, for tests about rows rather than the test."""
    assessment = Assessment(provider="speechace", title=title, settings={})
    session.add(assessment)
    session.flush()
    activity = Activity(assessment_id=assessment.id, title=title)
    session.add(activity)
    session.flush()
    return activity
