"""``lti-tool demo``: the tool plus a sandbox LMS, Speechace and iTEP in one process: click through the whole flow.

The sandbox LMS is the platform emulator with a course on top (``demo_pages``): switch between a teacher and three
students, add a speaking test (deep linking), open it in an iframe through the real LTI 1.3 flow (OIDC login,
signed id_token, launch) and watch the score land in the gradebook. The Speechace and iTEP emulators run on their
own ports, and the tool is configured with one test of each. It runs only in development.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm

from lti_tool.config import ConfigError
from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.models import LtiRegistration
from lti_tool.models import ProviderAccount
from lti_tool.providers.itep_accounts import add_itep_account
from lti_tool.providers.itep_accounts import add_itep_assessment
from lti_tool.providers.itep_accounts import itep_webhook_url
from lti_tool.providers.speechace_assessments import add_speechace_assessment
from lti_tool.sandbox.demo_course import COURSE_ID
from lti_tool.sandbox.demo_course import Person
from lti_tool.sandbox.demo_course import Sandbox
from lti_tool.sandbox.demo_pages import install_course_pages
from lti_tool.sandbox.itep import ItepEmulator
from lti_tool.sandbox.itep import create_itep_app
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import constants
from lti_tool.sandbox.platform import create_platform_app
from lti_tool.sandbox.platform.models import Flavor
from lti_tool.sandbox.speechace import SpeechaceEmulator
from lti_tool.sandbox.speechace import create_speechace_app

log = logging.getLogger(__name__)

ADMIN_SUB = "margaret"
CANVAS_ISSUER = "https://canvas.instructure.com"  # every hosted Canvas, and self-hosted ones by default
SANDBOX_MARKER = "sandbox"  # in the settings of the assessments and accounts a demo run creates
SPEECHACE_TITLE = "Speechace placement test (sandbox)"
ITEP_TITLE = "iTEP Academic (sandbox)"
ITEP_ACCOUNT = "Sandbox iTEP account"
ITEP_PRODUCT = "GTX-Academic-Plus"
ITEP_TRACK = "SANDBOX"
ITEP_INVENTORY = 25
# Default ports of the emulators, after the sandbox LMS's.
SPEECHACE_PORT_OFFSET, ITEP_PORT_OFFSET = 1, 2


def require_development(settings: Settings) -> None:
    """The sandbox registers an emulated LMS with the tool: never in a production configuration."""
    if settings.env != "development":
        raise ConfigError("the sandbox demo runs only with LTI_TOOL_ENV=development (this is "
                          f"{settings.env!r}); it registers an emulated LMS with the tool")


def build_sandbox(settings: Settings, database: Database, sandbox_url: str, flavor: Flavor = "moodle") -> Sandbox:
    """The sandbox LMS, registered with the tool. ``flavor="canvas"``: Canvas's rules (its shared issuer, auth, token
    and keys on the OIDC auth domain, no deployment id at login): the tool learns the deployment at the first launch
    and holds it pending until an administrator approves it, as with a real Canvas."""
    canvas = flavor == "canvas"
    platform = PlatformEmulator(issuer=CANVAS_ISSUER if canvas else sandbox_url, base_url=sandbox_url, flavor=flavor)
    client = platform.register_tool("Speaking tests", oidc_initiation_url=settings.url("/lti/login"),
                                    target_link_uri=settings.url("/lti/launch"), jwks_uri=settings.url("/lti/jwks"))
    course = platform.add_default_course(COURSE_ID)
    people = [Person(course.instructor, "Ada Lovelace", "Teacher"), Person(course.learner, "Alan Turing", "Student")]
    for sub, given, family, email in (("grace", "Grace", "Hopper", "grace@example.edu"),
                                      ("katherine", "Katherine", "Johnson", None)):
        platform.add_user(sub, given, family, email=email)
        platform.enrol(COURSE_ID, sub, [constants.ROLE_LEARNER])
        people.append(Person(sub, f"{given} {family}", "Student"))
    # An LMS administrator who also teaches: her launches open the tool's admin pages too.
    platform.add_user(ADMIN_SUB, "Margaret", "Hamilton", email="margaret@example.edu")
    platform.enrol(COURSE_ID, ADMIN_SUB, [constants.ROLE_INSTRUCTOR, constants.ROLE_SYSTEM_ADMIN])
    people.append(Person(ADMIN_SUB, "Margaret Hamilton", "LMS admin"))
    name = "Sandbox Canvas" if canvas else "Sandbox LMS"
    with database.session() as session:
        # Each demo run gets a fresh emulator (new keys, new client_id): drop the previous run's registration (under
        # Canvas's shared issuer, only the sandbox's own).
        stale = sa.delete(LtiRegistration).where(LtiRegistration.issuer == platform.issuer)
        session.execute(stale.where(LtiRegistration.name == name) if canvas else stale)
        register_platform(session, PlatformDetails(
            issuer=platform.issuer, client_id=client.client_id, auth_login_url=platform.auth_url,
            auth_token_url=platform.token_url, key_set_url=platform.jwks_url, name=name,
            product_family_code=flavor), "manual", [] if canvas else [client.deployment_id], approve=True)
    return Sandbox(platform=platform, client=client, people=people)


def configure_providers(settings: Settings, database: Database, speechace: SpeechaceEmulator,
                        itep: ItepEmulator) -> None:
    """Give the tool one Speechace test and one iTEP account with a GTX test, replacing a previous run's.

    The emulators start empty on every run (new keys, new share link), so what the last run configured is stale.
    """
    shared = speechace.add_assessment(title=SPEECHACE_TITLE)
    itep.add_product(ITEP_PRODUCT, inventory=ITEP_INVENTORY)
    webhook_secret = secrets.token_urlsafe(24)
    with database.session() as session:
        _forget_previous_run(session)
        _mark(add_speechace_assessment(session, SPEECHACE_TITLE, oembed_url=shared.share_link))
        account = _mark(add_itep_account(session, ITEP_ACCOUNT, itep.fulfillment_url, itep.api_key, ITEP_TRACK,
                                         webhook_secret, signature_header=itep.signature_header,
                                         signature_encoding=itep.signature_encoding))
        _mark(add_itep_assessment(session, account, ITEP_TITLE, ITEP_PRODUCT))
        webhook_url = itep_webhook_url(settings.url("/callbacks/itep"), account)
        auth, header = account.settings["webhook_auth"], account.settings["webhook_header"]
    itep.configure_tracking(ITEP_TRACK, webhook_url, auth=auth, secret=webhook_secret, header_name=header)


def _mark(row: Any) -> Any:
    row.settings = {**(row.settings or {}), SANDBOX_MARKER: True}
    return row


def _forget_previous_run(session: orm.Session) -> None:
    """Delete the assessments, activities and iTEP accounts an earlier demo run created (and only those)."""
    assessments = [row.id for row in session.scalars(sa.select(Assessment)) if (row.settings or {}).get(SANDBOX_MARKER)]
    accounts = [row.id for row in session.scalars(sa.select(ProviderAccount))
                if (row.settings or {}).get(SANDBOX_MARKER)]
    if assessments:
        session.execute(sa.delete(Activity).where(Activity.assessment_id.in_(assessments)))
        session.execute(sa.delete(Assessment).where(Assessment.id.in_(assessments)))
    if accounts:
        session.execute(sa.delete(ProviderAccount).where(ProviderAccount.id.in_(accounts)))


def create_sandbox_app(sandbox: Sandbox, tool_origin: str) -> Flask:

    app = create_platform_app(sandbox.platform)
    install_course_pages(app, sandbox, tool_origin)
    return app


def start_sandbox(settings: Settings, database: Database, sandbox_port: int, speechace_port: int | None = None,
                  itep_port: int | None = None, flavor: Flavor = "moodle") -> tuple[LiveServer, Sandbox]:
    """Start the sandbox LMS and the Speechace and iTEP emulators next to the tool, and configure the tool.

    The emulators listen on ``sandbox_port`` + 1 and + 2 unless told otherwise (port 0: any free port). Returns
    the LMS's server and the sandbox; ``sandbox.stop()`` stops all three servers.
    """
    require_development(settings)
    lms, speechace_server, itep_server = servers = _bind_servers(
        ("sandbox LMS", sandbox_port),
        ("Speechace emulator", _port_after(sandbox_port, SPEECHACE_PORT_OFFSET, speechace_port)),
        ("iTEP emulator", _port_after(sandbox_port, ITEP_PORT_OFFSET, itep_port)))
    try:
        sandbox = build_sandbox(settings, database, lms.url, flavor)
        sandbox.servers = servers
        sandbox.speechace = SpeechaceEmulator(speechace_server.url)
        sandbox.itep = ItepEmulator(itep_server.url)
        configure_providers(settings, database, sandbox.speechace, sandbox.itep)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    speechace_server.start(create_speechace_app(sandbox.speechace))
    itep_server.start(create_itep_app(sandbox.itep))
    lms.start(create_sandbox_app(sandbox, origin_of(settings.base_url)))
    log.info("sandbox: LMS %s, Speechace emulator %s, iTEP emulator %s (fire results at %s)", lms.url,
             speechace_server.url, itep_server.url, sandbox.itep.url("/admin"))
    return lms, sandbox


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _port_after(sandbox_port: int, offset: int, chosen: int | None) -> int:
    if chosen is not None:
        return chosen
    return sandbox_port + offset if sandbox_port else 0


def _bind_servers(*wanted: tuple[str, int]) -> list[LiveServer]:
    servers: list[LiveServer] = []
    for name, port in wanted:
        try:
            servers.append(LiveServer(port=port))
        except OSError as exc:
            for server in servers:
                server.stop()
            raise OSError(exc.errno, f"cannot listen on port {port} for the {name}: {exc.strerror}") from exc
    return servers
