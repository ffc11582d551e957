"""One person's data: ``lti-tool privacy export`` holds every row that names them, ``lti-tool privacy delete``
leaves none in their registration, and touches nobody else's rows, nor the same LMS user id at another school.

"Names them" is read from the database itself: any text or JSON column of any table holding their LMS user id,
their name or their email (tests/privacy/support.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from lti_tool.cli import main
from lti_tool.db import utcnow
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import AdminAuditEntry
from lti_tool.models import LtiUser
from lti_tool.privacy.subject import ERASED_ACTOR
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import create_platform_app
from lti_tool.sandbox.platform.constants import ROLE_LEARNER
from tests.privacy.support import as_exported
from tests.privacy.support import every_row
from tests.privacy.support import rows_naming

SUB = "lms-user-5c1e-77"
NAME, GIVEN, FAMILY, EMAIL = "Rosalind Franklin", "Rosalind", "Franklin", "rosalind.franklin@example.edu"
MARKERS = [SUB, NAME, GIVEN, FAMILY, EMAIL]
# The same LMS user id at another school is another person, with another name.
OTHER_SCHOOL_NAME, OTHER_SCHOOL_EMAIL = "Rosa Parks", "rosa@other.example"
# Never exported (a launch handle, a lease, the report's capability URL: also the result's external id and in its
# payload).
WITHHELD = {"lti_launch": ("id", "login_id"), "result": ("report_url", "external_id", "payload"),
            "score_submission": ("claim_token",)}


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def take_speechace_test(emulator, launch_url: str, sub: str) -> None:
    page = FormBrowser().get(launch_url)
    assert page.status_code == 200, page.text[:300]
    callback = emulator.complete(emulator.session_for_user(sub).token)
    assert callback.status == 200, callback.response_text


@pytest.fixture
def other_school(app, database, tool_server, speechace_setup):
    """A second registration whose LMS has a user with the same id, who took the same test."""
    server = LiveServer()
    platform = PlatformEmulator(issuer=server.url, base_url=server.url)
    server.start(create_platform_app(platform))
    client = platform.register_tool("Speaking tests", oidc_initiation_url=f"{tool_server.url}/lti/login",
                                    target_link_uri=f"{tool_server.url}/lti/launch",
                                    jwks_uri=f"{tool_server.url}/lti/jwks")
    details = PlatformDetails(issuer=platform.issuer, client_id=client.client_id,
                              auth_login_url=platform.url("/auth"), auth_token_url=platform.url("/token"),
                              key_set_url=platform.url("/jwks"), name="Other school")
    with database.session() as session:
        registration = register_platform(session, details, "manual", [client.deployment_id], approve=True)
    course = platform.add_default_course(context_id="other-course")
    platform.add_user(SUB, name=OTHER_SCHOOL_NAME, email=OTHER_SCHOOL_EMAIL)
    platform.enrol(course.context_id, SUB, [ROLE_LEARNER])
    take_speechace_test(speechace_setup.emulator, platform.begin_launch(
        client.client_id, SUB, course.context_id, resource_link_id="link-1",
        custom={"activity": speechace_setup.activity_public_id}, with_lineitem=True), SUB)
    yield registration
    server.stop()


@pytest.fixture
def school(connected, speechace_setup, database, other_school):
    """The school (registration) of the person: she and a classmate took the test; her teacher's launch names her;
    she once changed something as an LMS admin. Returns the rows the other school holds under her id."""
    add_lms_admin_entry(database, other_school.id)
    elsewhere = rows_naming(database, [SUB])
    platform, course = connected.platform, connected.course
    platform.add_user(SUB, GIVEN, FAMILY, email=EMAIL)
    platform.enrol(course.context_id, SUB, [ROLE_LEARNER])
    for sub in (SUB, course.learner):
        take_speechace_test(speechace_setup.emulator, connected.launch_url(
            sub=sub, custom={"activity": speechace_setup.activity_public_id}, with_lineitem=True), sub)
    about_her = {"https://purl.imsglobal.org/spec/lti/claim/for_user": {"user_id": SUB, "email": EMAIL}}
    assert FormBrowser().get(connected.launch_url(sub=course.instructor, extra_claims=about_her)).status_code == 200
    add_lms_admin_entry(database, connected.registration.id)
    return elsewhere


def add_lms_admin_entry(database, registration_pk: int) -> None:
    with database.session() as session:
        session.add(AdminAuditEntry(actor_kind="lms_admin", actor=SUB, actor_registration_id=registration_pk,
                                    actor_issuer="https://lms.example", action="deployment-approve",
                                    target_type="deployment", target_id="1", registration_id=registration_pk,
                                    datetime_created=utcnow()))


def test_the_fixture_names_her_in_every_kind_of_row(school, database):
    tables = {table for table, _ in rows_naming(database, MARKERS)}
    assert tables >= {"lti_user", "lti_membership", "lti_launch", "attempt", "result", "admin_audit_entry"}


def test_export_holds_every_row_that_names_her_and_no_secret(env, connected, school, database):
    named = {key: row for key, row in rows_naming(database, MARKERS).items() if key not in school}
    result = run("privacy", "export", "--platform", connected.registration.uuid, "--user", SUB)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["sub"] == SUB and document["registration"]["uuid"] == connected.registration.uuid
    exported = document["tables"]
    for (table, _key), row in named.items():
        withheld = WITHHELD.get(table, ())
        expected = {name: value for name, value in as_exported(row).items() if name not in withheld}
        candidates = [{name: value for name, value in candidate.items() if name not in withheld}
                      for candidate in exported.get(table, [])]
        assert expected in candidates, f"{table} row missing from the export: {expected}"
    assert sum(len(rows) for rows in exported.values()) == len(named)
    launch_handles = [key[0] for table, key in named if table == "lti_launch"]
    report_urls = [row["report_url"] for (table, _), row in named.items() if table == "result"]
    assert launch_handles and report_urls
    assert not any(secret in result.stdout for secret in [*launch_handles, *report_urls])
    assert OTHER_SCHOOL_EMAIL not in result.stdout  # the same id at the other school is not her


def test_delete_leaves_no_row_naming_her_and_touches_nothing_else(env, connected, school, database):
    before = every_row(database)
    named = rows_naming(database, MARKERS)
    result = run("privacy", "delete", "--platform", connected.registration.uuid, "--user", SUB, "--yes")
    assert result.exit_code == 0, result.output
    assert "lti_user\t1" in result.stdout and "attempt\t1" in result.stdout and "lti_launch\t2" in result.stdout
    # Nothing names her any more; what the other school holds under the same id is exactly as it was.
    assert rows_naming(database, [NAME, GIVEN, FAMILY, EMAIL]) == {}
    assert rows_naming(database, [SUB]) == school
    after = every_row(database)
    for key, row in before.items():
        if key in named and key not in school:
            if key[0] == "admin_audit_entry":  # the record of the change stays, without her name
                assert after[key] == {**row, "actor": ERASED_ACTOR}
            else:
                assert key not in after, key
        else:
            assert after.get(key) == row, f"{key} changed"
    new = [key for key in after if key not in before]
    assert [key[0] for key in new] == ["admin_audit_entry"]  # the erasure, recorded
    entry = after[new[0]]
    assert (entry["action"], entry["actor_kind"], entry["registration_id"]) == ("privacy-delete", "cli",
                                                                                  connected.registration.id)


def test_delete_asks_first_without_yes(env, connected, school, database):
    result = run("privacy", "delete", "--platform", connected.registration.uuid, "--user", SUB, stdin="n\n")
    assert result.exit_code == 1 and "lti_user 1" in result.output and "Nothing deleted" in result.output
    assert rows_naming(database, [EMAIL]) != {}
    result = run("privacy", "delete", "--platform", connected.registration.uuid, "--user", SUB, stdin="y\n")
    assert result.exit_code == 0 and rows_naming(database, [EMAIL]) == {}


def test_the_platform_by_issuer_client_id_or_number(env, connected, school, database):
    registration = connected.registration
    by_issuer = run("privacy", "export", "--platform", registration.issuer, "--client-id", registration.client_id,
                    "--user", SUB)
    by_number = run("privacy", "export", "--platform", str(registration.id), "--user", SUB)
    assert by_issuer.exit_code == by_number.exit_code == 0
    assert json.loads(by_issuer.stdout)["tables"] == json.loads(by_number.stdout)["tables"]


@pytest.mark.parametrize(("given_platform", "user", "message"), [
    ("00000000-0000-0000-0000-000000000000", SUB, "No registration matches"),
    ("https://unknown.example", SUB, "No registration matches"),
    (None, "nobody-of-that-name", "no user with this LMS user id"),
])
def test_unknown_platform_or_user_is_a_clear_error(env, connected, school, database, given_platform, user,
                                                   message):
    for command in (["export"], ["delete", "--yes"]):
        result = run("privacy", *command, "--platform", given_platform or connected.registration.uuid,
                     "--user", user)
        assert result.exit_code == 1 and message in result.output, result.output
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LtiUser).where(LtiUser.sub == SUB)) == 2
