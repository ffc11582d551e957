"""The tenant boundary of the admin pages: three schools on one installation (two registered schools and a
stranger), each with its own LMS emulator, deployments, iTEP account and product, and a parked score.

Every admin page and every action on each school's rows is tried as the tool admin and as each school's LMS admin.
Only the allowed cells change something; a row of another school answers 404 (exactly as a missing row would) and
the database is left as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.db import utcnow
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import Activity
from lti_tool.models import AdminAuditEntry
from lti_tool.models import Assessment
from lti_tool.models import Attempt
from lti_tool.models import LtiContext
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.models import ScoreSubmission
from lti_tool.providers.itep_accounts import add_itep_account
from lti_tool.providers.itep_accounts import add_itep_assessment
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import create_platform_app
from tests.admin.conftest import LMS_ADMIN_ROLE
from tests.admin.conftest import form_posting_to
from tests.admin.conftest import launch_handle
from tests.admin.conftest import text

SCHOOLS = ("school-a", "school-b", "stranger")
ACTORS = ("tool", *SCHOOLS)
SHARED_KEY = "speechace-shared-key-0123456789"
SHARE_LINK = "https://www.speechace.co/placement/abc123/?key="


@dataclass
class School:
    name: str
    platform: PlatformEmulator
    client_id: str
    context_id: str
    registration_pk: int
    launch_deployment_pk: int
    other_deployment_pk: int
    other_deployment_id: str
    account_pk: int
    product_pk: int
    submission_pk: int
    api_key: str
    admin_launch: str = ""

    def launch_url(self, sub: str, roles: list[str] | None = None, **kwargs: Any) -> str:
        return self.platform.begin_launch(self.client_id, sub, self.context_id, resource_link_id="link-1",
                                          roles=roles, **kwargs)

    @property
    def markers(self) -> list[str]:
        """Texts only this school's rows put on the admin pages."""
        return [f"{self.name} LMS", self.other_deployment_id, f"iTEP of {self.name}", f"{self.name} product",
                f"{self.name} speaking test"]


def _build_school(name: str, tool_url: str, database: Any, servers: list[LiveServer]) -> School:
    server = LiveServer()
    servers.append(server)
    platform = PlatformEmulator(issuer=server.url, base_url=server.url)
    server.start(create_platform_app(platform))
    client = platform.register_tool("Speaking tests", oidc_initiation_url=f"{tool_url}/lti/login",
                                    target_link_uri=f"{tool_url}/lti/launch", jwks_uri=f"{tool_url}/lti/jwks")
    other_deployment = platform.add_deployment(client.client_id)
    details = PlatformDetails(issuer=platform.issuer, client_id=client.client_id,
                              auth_login_url=platform.url("/auth"), auth_token_url=platform.url("/token"),
                              key_set_url=platform.url("/jwks"), name=f"{name} LMS")
    with database.session() as session:
        registration = register_platform(session, details, "manual", [client.deployment_id, other_deployment])
    course = platform.add_default_course(context_id=f"{name}-course")
    school = School(name=name, platform=platform, client_id=client.client_id, context_id=course.context_id,
                    registration_pk=registration.id, launch_deployment_pk=0, other_deployment_pk=0,
                    other_deployment_id=other_deployment, account_pk=0, product_pk=0, submission_pk=0,
                    api_key=f"api-key-of-{name}-secret")
    assert FormBrowser().get(school.launch_url(course.learner)).status_code == 200
    with database.session() as session:
        deployments = {row.deployment_id: row.id for row in session.scalars(
            sa.select(LtiDeployment).where(LtiDeployment.registration_id == registration.id))}
        school.launch_deployment_pk = deployments[client.deployment_id]
        school.other_deployment_pk = deployments[other_deployment]
        account = add_itep_account(session, f"iTEP of {name}", "http://itep.invalid/api", school.api_key,
                                   f"TRACK-{name}", f"webhook-secret-of-{name}",
                                   deployment_id=school.launch_deployment_pk)
        product = add_itep_assessment(session, account, f"{name} product", "GTX-Academic-Plus")
        activity = Activity(assessment_id=product.id, title=f"{name} speaking test")
        session.add(activity)
        session.flush()
        link = session.scalars(sa.select(LtiResourceLink).join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
                               .where(LtiContext.deployment_id == school.launch_deployment_pk)).first()
        learner = session.scalars(sa.select(LtiUser).where(LtiUser.registration_id == registration.id,
                                                           LtiUser.sub == course.learner)).one()
        assert link is not None
        attempt = Attempt(activity_id=activity.id, registration_id=registration.id, context_id=link.context_id,
                          resource_link_id=link.id, user_id=learner.id, status="grade_failed")
        session.add(attempt)
        session.flush()
        submission = ScoreSubmission(attempt_id=attempt.id, score_given=7.5, score_maximum=9.0,
                                     activity_progress="Completed", grading_progress="FullyGraded",
                                     status="parked", next_attempt_at=utcnow() + dt.timedelta(hours=1))
        session.add(submission)
        session.flush()
        school.account_pk, school.product_pk, school.submission_pk = account.id, product.id, submission.id
    platform.add_user(f"{name}-admin", "Admin", name)
    school.admin_launch = launch_handle(school, database, f"{name}-admin", roles=[LMS_ADMIN_ROLE])
    return school


@dataclass
class Installation:
    schools: dict[str, School]
    shared_assessment_pk: int


@pytest.fixture
def installation(app, database, tool_server) -> Iterator[Installation]:
    servers: list[LiveServer] = []
    try:
        schools = {name: _build_school(name, tool_server.url, database, servers) for name in SCHOOLS}
        with database.session() as session:
            shared = Assessment(provider="speechace", title="Shared placement test", secret=SHARED_KEY,
                                settings={"mode": "oembed", "oembed_url": SHARE_LINK.removesuffix("?key=")})
            session.add(shared)
            session.flush()
            shared_pk = shared.id
        yield Installation(schools=schools, shared_assessment_pk=shared_pk)
    finally:
        for server in servers:
            server.stop()


class Actor:
    """An admin making requests: the logged-in tool admin (CSRF token) or an LMS admin (launch handle)."""

    def __init__(self, client: Any, launch: str | None) -> None:
        self.client, self.launch = client, launch
        self.csrf = None if launch else form_posting_to(text(client.get("/admin")), "/admin/logout").fields[
            "csrf_token"]

    def get(self, path: str) -> Any:
        return self.client.get(path, query_string={"launch": self.launch} if self.launch else {})

    def post(self, path: str, **fields: str) -> Any:
        auth = {"launch": self.launch} if self.launch else {"csrf_token": self.csrf}
        return self.client.post(path, data={**auth, "confirmed": "yes", **fields})


@pytest.fixture
def actor_for(installation, admin_client, client) -> Callable[[str], Actor]:
    def actor(name: str) -> Actor:
        if name == "tool":
            return Actor(admin_client, None)
        return Actor(client, installation.schools[name].admin_launch)
    return actor


def snapshot(database) -> dict[Any, Any]:
    """Everything the admin actions can change."""
    with database.session() as session:
        state: dict[Any, Any] = {}
        for deployment in session.scalars(sa.select(LtiDeployment)):
            state["deployment", deployment.id] = deployment.status
        for registration in session.scalars(sa.select(LtiRegistration)):
            state["registration", registration.id] = registration.is_active
        for assessment in session.scalars(sa.select(Assessment)):
            state["assessment", assessment.id] = (assessment.is_active, assessment.secret)
        for submission in session.scalars(sa.select(ScoreSubmission)):
            state["submission", submission.id] = (submission.status, submission.next_attempt_at)
        state["assessments"] = session.scalar(sa.select(sa.func.count()).select_from(Assessment))
        state["audit"] = session.scalar(sa.select(sa.func.count()).select_from(AdminAuditEntry))
        return state


@dataclass(frozen=True)
class Action:
    """One admin action on a school's row (or on an installation-wide row when ``shared``)."""

    name: str
    path: Callable[[Installation, School], str]
    changes: Callable[[Installation, School], Any]  # the snapshot key the action changes
    fields: dict[str, str] | None = None
    shared: bool = False
    own_school_refused: bool = False  # an LMS admin may see the row but not change it (403)


ACTIONS = [
    Action("disable another deployment", lambda i, s: f"/admin/deployments/{s.other_deployment_pk}/disable",
           lambda i, s: ("deployment", s.other_deployment_pk)),
    Action("disable the launch deployment", lambda i, s: f"/admin/deployments/{s.launch_deployment_pk}/disable",
           lambda i, s: ("deployment", s.launch_deployment_pk), own_school_refused=True),
    Action("deactivate the product", lambda i, s: f"/admin/assessments/{s.product_pk}/deactivate",
           lambda i, s: ("assessment", s.product_pk)),
    Action("add a product", lambda i, s: f"/admin/itep/{s.account_pk}/products", lambda i, s: "assessments",
           fields={"title": "Another product", "product_code": "GTX-Business-Core"}),
    Action("retry the parked score", lambda i, s: f"/admin/queue/{s.submission_pk}/retry",
           lambda i, s: ("submission", s.submission_pk)),
    Action("replace the shared key", lambda i, s: f"/admin/assessments/{i.shared_assessment_pk}/replace-key",
           lambda i, s: ("assessment", i.shared_assessment_pk), shared=True,
           fields={"share_link": SHARE_LINK + "ANewKey98765432"}),
    Action("add a Speechace assessment", lambda i, s: "/admin/assessments", lambda i, s: "assessments",
           shared=True, fields={"title": "New test", "share_link": "https://www.speechace.co/x/y/?key=OtherKey1234567"}),
    Action("deactivate the shared assessment", lambda i, s: f"/admin/assessments/{i.shared_assessment_pk}/deactivate",
           lambda i, s: ("assessment", i.shared_assessment_pk), shared=True),
    # Last: a deactivated registration ends its LMS admin's access.
    Action("deactivate the registration", lambda i, s: f"/admin/registrations/{s.registration_pk}/deactivate",
           lambda i, s: ("registration", s.registration_pk), own_school_refused=True),
]


def expected_status(actor: str, action: Action, target: str) -> int:
    """303 (done) for the allowed cells; 403 for a visible row only tool admins change; 404 for another school's."""
    if actor == "tool":
        return 303
    if action.shared:
        return 403
    if target != actor:
        return 404
    return 403 if action.own_school_refused else 303


@pytest.mark.parametrize("actor_name", ACTORS)
def test_every_action_on_every_school_only_where_allowed(installation, actor_for, database, actor_name):
    actor = actor_for(actor_name)
    cells = [(action, target) for action in ACTIONS
             for target in (SCHOOLS[:1] if action.shared else SCHOOLS)]
    # Refused cells first, so the allowed ones cannot hide a refused cell's change.
    cells.sort(key=lambda cell: expected_status(actor_name, *cell) == 303)
    for action, target in cells:
        school = installation.schools[target]
        before = snapshot(database)
        response = actor.post(action.path(installation, school), **(action.fields or {}))
        expected = expected_status(actor_name, action, target)
        cell = f"{actor_name} → {action.name} of {target}"
        assert response.status_code == expected, f"{cell}: {response.status_code} {text(response)[:300]}"
        after = snapshot(database)
        key = action.changes(installation, school)
        if expected == 303:
            assert after[key] != before[key], f"{cell}: nothing changed"
            assert after["audit"] == before["audit"] + 1, f"{cell}: not audited"
            assert _unrelated(after, key) == _unrelated(before, key), cell
        else:
            assert after == before, f"{cell}: changed the database"
        if expected == 404:
            assert school.name not in text(response) and str(school.api_key) not in text(response)


def _unrelated(state: dict[Any, Any], key: Any) -> dict[Any, Any]:
    """The state but the changed row, the audit count and assessments (an added one is a new key)."""
    return {k: v for k, v in state.items() if k not in (key, "audit") and k[0:1] != ("assessment",)}


PAGES = ["/admin", "/admin/deployments", "/admin/registrations", "/admin/assessments", "/admin/itep",
         "/admin/queue", "/admin/activity", "/admin/privacy"]


@pytest.mark.parametrize("actor_name", ACTORS)
def test_every_page_shows_only_the_schools_in_scope(installation, actor_for, actor_name):
    actor = actor_for(actor_name)
    pages = {page: actor.get(page) for page in PAGES}
    assert all(response.status_code == 200 for response in pages.values()), \
        {page: response.status_code for page, response in pages.items()}
    everything = "\n".join(text(response) for response in pages.values())
    for name, school in installation.schools.items():
        visible = actor_name in ("tool", name)
        for marker in school.markers:
            assert (marker in everything) == visible, f"{actor_name} sees {marker!r}: {not visible}"
        assert school.api_key not in everything and f"webhook-secret-of-{name}" not in everything
    assert "Shared placement test" in everything  # offered to every school
    assert SHARED_KEY not in everything


def test_an_unknown_row_and_another_schools_row_get_the_same_answer(installation, actor_for):
    actor = actor_for("school-a")
    foreign = actor.post(f"/admin/queue/{installation.schools['school-b'].submission_pk}/retry")
    missing = actor.post("/admin/queue/999999/retry")
    assert foreign.status_code == missing.status_code == 404
    assert text(foreign) == text(missing)


def test_the_activity_page_shows_each_school_its_own_changes(installation, actor_for, database):
    a, b = installation.schools["school-a"], installation.schools["school-b"]
    tool, admin_a, admin_b = actor_for("tool"), actor_for("school-a"), actor_for("school-b")
    assert tool.post(f"/admin/queue/{a.submission_pk}/retry").status_code == 303
    assert admin_b.post(f"/admin/deployments/{b.other_deployment_pk}/disable").status_code == 303
    assert admin_b.post(f"/admin/queue/{a.submission_pk}/retry").status_code == 404  # refused: not recorded
    with database.session() as session:
        entries = list(session.scalars(sa.select(AdminAuditEntry).order_by(AdminAuditEntry.id)))
    assert [(e.actor_kind, e.actor, e.action, e.target_type, e.target_id, e.registration_id) for e in entries] == [
        ("tool_admin", "alice", "submission-retry", "score_submission", str(a.submission_pk), a.registration_pk),
        ("lms_admin", "school-b-admin", "deployment-disable", "deployment", str(b.other_deployment_pk),
         b.registration_pk)]
    assert entries[1].actor_issuer == b.platform.issuer and entries[1].actor_registration_id == b.registration_pk
    assert all(e.remote_addr == "127.0.0.1" and e.datetime_created is not None for e in entries)
    seen = {name: text(actor.get("/admin/activity")) for name, actor in
            (("tool", tool), ("a", admin_a), ("b", admin_b))}
    assert 'data-action="submission-retry"' in seen["tool"] and 'data-action="deployment-disable"' in seen["tool"]
    assert 'data-action="submission-retry"' in seen["a"] and 'data-action="deployment-disable"' not in seen["a"]
    assert 'data-action="deployment-disable"' in seen["b"] and 'data-action="submission-retry"' not in seen["b"]
    assert f"LMS admin school-b-admin ({b.platform.issuer}, registration {b.registration_pk})" in seen["b"]
    assert "tool admin alice" in seen["a"] and "127.0.0.1" in seen["a"]
