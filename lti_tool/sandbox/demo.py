"""``lti-tool demo``: the tool plus a sandbox LMS in one process, so the whole flow can be clicked through.

The sandbox LMS is the platform emulator with a course page on top: pick a person, and the activity opens in an
iframe through the real LTI 1.3 flow (OIDC login, signed id_token, launch). It runs only in development.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import sqlalchemy as sa
from flask import Blueprint
from flask import Flask
from flask import abort

from lti_tool.config import ConfigError
from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import LtiRegistration
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import ToolClient
from lti_tool.sandbox.platform import constants
from lti_tool.sandbox.platform import create_platform_app

COURSE_ID = "course-101"
ACTIVITIES = (("speaking-1", "Speaking test: introduce yourself"), ("speaking-2", "Speaking test: describe a picture"))
IFRAME_ALLOW = "microphone {origin}; camera {origin}; autoplay {origin}; clipboard-write {origin}"


@dataclass
class Sandbox:
    platform: PlatformEmulator
    client: ToolClient
    people: list[tuple[str, str, str]]  # (sub, name, role label)


def require_development(settings: Settings) -> None:
    """The sandbox registers an emulated LMS with the tool: never in a production configuration."""
    if settings.env != "development":
        raise ConfigError("the sandbox demo runs only with LTI_TOOL_ENV=development (this is "
                          f"{settings.env!r}); it registers an emulated LMS with the tool")


def build_sandbox(settings: Settings, database: Database, sandbox_url: str) -> Sandbox:
    platform = PlatformEmulator(issuer=sandbox_url, base_url=sandbox_url)
    client = platform.register_tool("Speaking tests", oidc_initiation_url=settings.url("/lti/login"),
                                    target_link_uri=settings.url("/lti/launch"), jwks_uri=settings.url("/lti/jwks"))
    course = platform.add_default_course(COURSE_ID)
    people = [(course.instructor, "Ada Lovelace", "Teacher"), (course.learner, "Alan Turing", "Student")]
    for sub, given, family, email in (("grace", "Grace", "Hopper", "grace@example.edu"),
                                      ("katherine", "Katherine", "Johnson", None)):
        platform.add_user(sub, given, family, email=email)
        platform.enrol(COURSE_ID, sub, [constants.ROLE_LEARNER])
        people.append((sub, f"{given} {family}", "Student"))
    with database.session() as session:
        # Each demo run gets a fresh emulator (new keys, new client_id): drop the previous run's registration.
        session.execute(sa.delete(LtiRegistration).where(LtiRegistration.issuer == platform.issuer))
        register_platform(session, PlatformDetails(
            issuer=platform.issuer, client_id=client.client_id, auth_login_url=platform.url("/auth"),
            auth_token_url=platform.url("/token"), key_set_url=platform.url("/jwks"), name="Sandbox LMS",
            product_family_code="moodle"), "manual", [client.deployment_id], approve=True)
    return Sandbox(platform=platform, client=client, people=people)


def create_sandbox_app(sandbox: Sandbox, tool_origin: str) -> Flask:
    app = create_platform_app(sandbox.platform)
    app.register_blueprint(_course_pages(sandbox, tool_origin))
    return app


def _course_pages(sandbox: Sandbox, tool_origin: str) -> Blueprint:
    bp = Blueprint("sandbox_course", __name__)

    @bp.get("/course")
    def course() -> str:
        rows = "".join(
            f"<li>{escape(name)} ({role}) — "
            + " · ".join(f"<a href='/course/open/{escape(sub)}/{link}'>{escape(title)}</a>"
                         for link, title in ACTIVITIES)
            + "</li>"
            for sub, name, role in sandbox.people)
        return _page("Sandbox course", f"<h1>Introduction to Phonetics (sandbox LMS)</h1>"
                                       f"<p>Open an activity as one of the course's people:</p><ul>{rows}</ul>")

    @bp.get("/course/open/<sub>/<link>")
    def open_activity(sub: str, link: str) -> str:
        titles = dict(ACTIVITIES)
        names = {person[0]: person[1] for person in sandbox.people}
        if link not in titles or sub not in names:
            abort(404)
        launch_url = sandbox.platform.begin_launch(sandbox.client.client_id, sub, COURSE_ID, resource_link_id=link,
                                                   resource_link_title=titles[link], with_lineitem=True)
        allow = IFRAME_ALLOW.format(origin=tool_origin)
        return _page(titles[link], f"<p><a href='/course'>← Course</a> · {escape(names[sub])}</p>"
                                   f"<h1>{escape(titles[link])}</h1>"
                                   f"<iframe id='tool' src='{escape(launch_url)}' allow='{escape(allow)}' "
                                   "style='width:100%;height:70vh;border:1px solid #ccc'></iframe>")

    return bp


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            "<style>body{font:16px system-ui,sans-serif;max-width:70rem;margin:1rem auto;padding:0 1rem}</style>"
            f"</head><body>{body}</body></html>")


def start_sandbox(settings: Settings, database: Database, sandbox_port: int) -> tuple[LiveServer, Sandbox]:
    """Start the sandbox LMS next to the tool; returns its server (stop it when done) and the sandbox."""
    require_development(settings)
    server = LiveServer(port=sandbox_port)
    sandbox = build_sandbox(settings, database, server.url)
    server.start(create_sandbox_app(sandbox, settings.base_url.rstrip("/")))
    return server, sandbox
