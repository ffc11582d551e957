"""Admin page fixtures: a tool admin account, a Flask test client logged in with it, LMS launch handles."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from lti_tool.admin.accounts import add_admin
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiUser
from lti_tool.sandbox.browser import Form
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms

USERNAME = "alice"
PASSWORD = "correct horse battery staple"
LMS_ADMIN_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ADMIN_PAGES = ["/admin", "/admin/deployments", "/admin/registrations", "/admin/assessments", "/admin/queue"]


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def form_posting_to(html: str, action_part: str) -> Form:
    """The page's form whose action contains ``action_part``."""
    forms = [form for form in parse_forms(html, "http://localhost/") if action_part in form.action]
    assert len(forms) == 1, f"{len(forms)} forms post to {action_part!r}"
    return forms[0]


def submit(client: Any, html: str, action_part: str, **overrides: str) -> Any:
    """Submit a form of the page as a browser would (hidden fields included), changing some fields."""
    form = form_posting_to(html, action_part)
    return client.post(form.action.removeprefix("http://localhost"), data={**form.fields, **overrides})


def log_in(client: Any, username: str = USERNAME, password: str = PASSWORD) -> Any:
    page = text(client.get("/admin/login"))
    return submit(client, page, "/admin/login", username=username, password=password)


@pytest.fixture
def admin_account(database) -> tuple[str, str]:
    with database.session() as session:
        add_admin(session, USERNAME, PASSWORD)
    return USERNAME, PASSWORD


@pytest.fixture
def client(app) -> Any:
    return app.test_client()


@pytest.fixture
def admin_client(client, admin_account) -> Any:
    """A test client logged in as a tool admin."""
    response = log_in(client)
    assert response.status_code == 303, text(response)[:300]
    return client


def launch_handle(connected, database, sub: str, roles: list[str] | None = None, **kwargs: Any) -> str:
    """Launch from the emulated LMS as ``sub`` and return the launch handle the tool recorded."""
    response = FormBrowser().get(connected.launch_url(sub=sub, roles=roles, **kwargs))
    assert response.status_code == 200, response.text[:500]
    with database.session() as session:
        handle = session.scalars(sa.select(LtiLaunch.id).join(LtiUser, LtiUser.id == LtiLaunch.user_id)
                                 .where(LtiUser.sub == sub).order_by(LtiLaunch.expires_at.desc())).first()
    assert handle is not None
    return handle


@pytest.fixture
def lms_admin_launch(connected, database) -> str:
    """The launch handle of an LMS institution administrator."""
    connected.platform.add_user("lms-admin", "Grace", "Hopper", email="grace@example.edu")
    return launch_handle(connected, database, "lms-admin", roles=[LMS_ADMIN_ROLE])


def submit_confirmed(client: Any, html: str, action_part: str, **overrides: str) -> Any:
    """Submit a destructive action's form, then confirm it on the "Are you sure?" page, as an admin would."""
    question = submit(client, html, action_part, **overrides)
    assert question.status_code == 200 and 'data-testid="confirm"' in text(question), text(question)[:300]
    return submit(client, text(question), action_part)
