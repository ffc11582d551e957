"""The echo provider (tests only, registered through LTI_TOOL_PROVIDERS) appears wherever providers do — the admin
page, the command line, the teacher's picker — with no edit in lti_tool: everything is read from its module."""

from __future__ import annotations

import html

import sqlalchemy as sa
from click.testing import CliRunner

from lti_tool.cli import main
from lti_tool.models import Activity
from lti_tool.models import Assessment
from lti_tool.sandbox.browser import parse_forms
from tests.admin.conftest import admin_account  # noqa: F401 (fixtures)
from tests.admin.conftest import admin_client  # noqa: F401
from tests.admin.conftest import client  # noqa: F401
from tests.admin.conftest import text
from tests.lti.test_deep_linking import picker
from tests.lti.test_deep_linking import submit_picker
from tests.providers.conftest import SELECTION

PAGE = "https://echo.example/test"


def submit_echo_form(logged_in, page: str, **fields: str):
    """The page's form for echo assessments, submitted as a browser would (its hidden provider field included)."""
    [form] = [form for form in parse_forms(page, "http://localhost/")
              if form.attrs.get("data-testid") == "add-assessment-echo"]
    assert form.fields["provider"] == "echo"
    return logged_in.post("/admin/assessments", data={**form.fields, **fields})


def assessments(database) -> list[Assessment]:
    with database.session() as session:
        return list(session.scalars(sa.select(Assessment).order_by(Assessment.id)))


def test_the_admin_page_offers_and_adds_an_echo_assessment(admin_client, database):  # noqa: F811
    page = text(admin_client.get("/admin/assessments"))
    assert "Add an Echo assessment" in page and 'name="page_url"' in page
    response = submit_echo_form(admin_client, page, title="Echo placement", page_url=PAGE)
    assert response.status_code == 303, text(response)[:300]
    [added] = assessments(database)
    assert (added.provider, added.title, added.settings) == ("echo", "Echo placement", {"page_url": PAGE})
    listed = text(admin_client.get(response.headers["Location"]))
    assert "Echo placement" in listed and PAGE in listed


def test_the_admin_page_shows_the_echo_providers_refusal(admin_client, database):  # noqa: F811
    page = text(admin_client.get("/admin/assessments"))
    refused = submit_echo_form(admin_client, page, title="Echo", page_url="ftp://x")
    assert refused.status_code == 400 and "echo page URL must be an http(s) URL" in text(refused)
    assert assessments(database) == []


def test_the_command_line_adds_an_echo_assessment(env, monkeypatch):
    monkeypatch.setenv("LTI_TOOL_PROVIDERS", SELECTION)
    runner = CliRunner()
    usage = runner.invoke(main, ["assessment", "add", "--help"])
    assert "echo" in usage.output and "--page-url" in usage.output, usage.output
    added = runner.invoke(main, ["assessment", "add", "--provider", "echo", "--title", "Echo CLI",
                                 "--page-url", PAGE])
    assert added.exit_code == 0, added.output
    assert "Added echo assessment" in added.output
    assert [(row.provider, row.settings) for row in assessments(env)] == [("echo", {"page_url": PAGE})]
    refused = runner.invoke(main, ["assessment", "add", "--provider", "echo", "--title", "X", "--page-url", "x"])
    assert refused.exit_code != 0 and "http(s)" in refused.output


def test_the_command_line_offers_only_the_selected_providers(env, monkeypatch):
    monkeypatch.setenv("LTI_TOOL_PROVIDERS", "tests.providers.echo_provider:EchoProvider")
    usage = CliRunner().invoke(main, ["assessment", "add", "--help"])
    assert "--page-url" in usage.output and "--oembed-url" not in usage.output and "--account" not in usage.output
    commands = CliRunner().invoke(main, ["--help"]).output
    assert "-account" not in commands  # no provider with accounts is offered


def test_the_teachers_picker_offers_the_echo_test(connected, database, app):
    provider = app.extensions["lti_tool.services"].providers["echo"]
    with database.session() as session:
        provider.create_assessment(session, "Echo listening", {"page_url": PAGE}, None)
    browser, page = picker(connected)
    assert page.status_code == 200 and "Echo listening" in page.text and "(Echo)" in html.unescape(page.text)
    done = submit_picker(browser, page, title="Week 6 echo", score_component="echo")
    assert done.status_code == 200, done.text[:300]
    with database.session() as session:
        activity = session.scalars(sa.select(Activity)).one()
        assert (activity.title, activity.score_component) == ("Week 6 echo", "echo")
